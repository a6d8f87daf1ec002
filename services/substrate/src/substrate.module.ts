import { Logger, Module, type DynamicModule } from '@nestjs/common';
import type { EventStore } from '@aevo/eventstore';
import { EVENT_STORE } from '@aevo/messaging';
import { SubstrateController } from './substrate.controller';
import { SubstrateWorkflow, substrateConfigFromEnv, type SubstrateConfig } from './app/substrate-workflow';

@Module({})
export class SubstrateModule {
  /** `config` defaults to the environment (AEVO_HOME, AEVO_SUBSTRATE_ROOT, AEVO_GC_KEEP_ROUNDS, AEVO_GC_KEEP_WINNERS, AEVO_GC_KEEP_INVALIDATED). */
  static forRoot(opts: { config?: SubstrateConfig } = {}): DynamicModule {
    return {
      module: SubstrateModule,
      controllers: [SubstrateController],
      providers: [
        {
          provide: SubstrateWorkflow,
          useFactory: (store: EventStore) => new SubstrateWorkflow(store, opts.config ?? substrateConfigFromEnv(), new Logger('substrate')),
          inject: [EVENT_STORE],
        },
      ],
    };
  }
}
