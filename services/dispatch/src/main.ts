import 'reflect-metadata';
import { bootstrapService } from '@aevo/messaging';
import { DispatchModule } from './dispatch.module';

// Environment: AEVO_NATS_URL, AEVO_SUBJECT_PREFIX, AEVO_STREAM, AEVO_DATABASE_URL, AEVO_DB_SCHEMA, AEVO_EXECUTOR and
// the executor's settings (see config.ts).
bootstrapService(DispatchModule.forRoot(), { service: 'dispatch' }).catch(() => process.exit(1));
