import 'reflect-metadata';
import { bootstrapService } from '@aevo/messaging';
import { MetaPolicyModule } from './meta-policy.module';

void bootstrapService(MetaPolicyModule.forRoot(), { service: 'meta-policy' });
