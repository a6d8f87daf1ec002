import 'reflect-metadata';
import { bootstrapService } from '@aevo/messaging';
import { OrchestratorModule } from './orchestrator.module';

// Environment: AEVO_NATS_URL, AEVO_SUBJECT_PREFIX, AEVO_STREAM, AEVO_DATABASE_URL, AEVO_DB_SCHEMA, AEVO_ROOT.
bootstrapService(OrchestratorModule, { service: 'orchestrator' }).catch(() => process.exit(1));
