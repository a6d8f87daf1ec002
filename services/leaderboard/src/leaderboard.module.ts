import { Inject, Logger, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import type { EventStore } from '@aevo/eventstore';
import { EVENT_STORE, MESSAGING_CONFIG, type MessagingConfig } from '@aevo/messaging';
import { LeaderboardController } from './leaderboard.controller';
import { leaderboardConfigFromEnv, type LeaderboardConfig } from './config';
import { LeaderboardWorkflow } from './app/leaderboard-workflow';
import { leaderboardParts } from './app/leaderboard-parts';
import { PgSealedScoreStore, SEALED_SCORES, type SealedScoreStore } from './app/sealed-scores';

class SealedLifecycle implements OnApplicationShutdown {
  constructor(@Inject(SEALED_SCORES) private readonly sealed: SealedScoreStore) {}
  async onApplicationShutdown(): Promise<void> {
    await this.sealed.close();
  }
}

@Module({})
export class LeaderboardModule {
  static forRoot(opts: { config?: LeaderboardConfig } = {}): DynamicModule {
    const logger = new Logger('leaderboard');
    const config = opts.config ?? leaderboardConfigFromEnv();
    const log = (m: string) => logger.warn(m);
    return {
      module: LeaderboardModule,
      controllers: [LeaderboardController],
      providers: [
        {
          provide: SEALED_SCORES,
          useFactory: (cfg: MessagingConfig) => PgSealedScoreStore.open(cfg.databaseUrl, cfg.dbSchema),
          inject: [MESSAGING_CONFIG],
        },
        SealedLifecycle,
        {
          provide: LeaderboardWorkflow,
          useFactory: (store: EventStore, sealed: SealedScoreStore) =>
            new LeaderboardWorkflow(store, sealed, leaderboardParts(store, config, log), log),
          inject: [EVENT_STORE, SEALED_SCORES],
        },
      ],
    };
  }
}
