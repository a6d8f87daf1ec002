import 'reflect-metadata';
import { bootstrapService } from '@aevo/messaging';
import { WorkerModule } from './worker.module';

// A candidate can run for a long time: the transport's working() keeps its message alive meanwhile.
void bootstrapService(WorkerModule.forRoot(), { service: 'worker' });
