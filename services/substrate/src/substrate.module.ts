import { Logger, Module, type DynamicModule } from '@nestjs/common';
import type { EventStore } from '@aevo/eventstore';
import { EVENT_STORE } from '@aevo/messaging';
import { SubstrateController } from './substrate.controller';
import { SubstrateWorkflow } from './app/substrate-workflow';
import { substrateConfigFromEnv, type SubstrateConfig } from './config';

@Module({})
export class SubstrateModule {
  /** `config` defaults to the environment (substrateConfigFromEnv in config.ts). */
  static forRoot(opts: { config?: SubstrateConfig } = {}): DynamicModule {
    return {
      module: SubstrateModule,
      controllers: [SubstrateController],
      providers: [
        {
          provide: SubstrateWorkflow,
          useFactory: (store: EventStore) =>
            new SubstrateWorkflow(store, opts.config ?? substrateConfigFromEnv(), new Logger('substrate')),
          inject: [EVENT_STORE],
        },
      ],
    };
  }
}
