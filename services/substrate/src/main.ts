import 'reflect-metadata';
import { PostgresEventStore } from '@aevo/eventstore';
import { bootstrapService } from '@aevo/messaging';
import { SubstrateModule } from './substrate.module';

void bootstrapService(SubstrateModule.forRoot(), {
  service: 'substrate',
  openStore: (cfg) => PostgresEventStore.open({ connectionString: cfg.databaseUrl, schema: cfg.dbSchema, applicationName: 'aevo-substrate' }),
});
