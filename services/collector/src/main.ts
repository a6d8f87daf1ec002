import 'reflect-metadata';
import { bootstrapService } from '@aevo/messaging';
import { CollectorModule } from './collector.module';

void bootstrapService(CollectorModule.forRoot(), { service: 'collector' });
