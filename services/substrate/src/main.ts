import 'reflect-metadata';
import { bootstrapService } from '@aevo/messaging';
import { SubstrateModule } from './substrate.module';

void bootstrapService(SubstrateModule.forRoot(), { service: 'substrate' });
