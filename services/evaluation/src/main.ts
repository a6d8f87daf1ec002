import 'reflect-metadata';
import { bootstrapService } from '@aevo/messaging';
import { EvaluationModule } from './evaluation.module';

void bootstrapService(EvaluationModule.forRoot(), { service: 'evaluation' });
