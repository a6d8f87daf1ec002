import { Inject, Logger, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import type { EventStore } from '@aevo/eventstore';
import { UNSANDBOXED_OPT_IN } from '@aevo/executors';
import { credentialsFromEnv, KaggleCompetitionClient } from '@aevo/kaggle';
import { EVENT_STORE, MESSAGING_CONFIG, type MessagingConfig } from '@aevo/messaging';
import { LeaderboardController } from './leaderboard.controller';
import { LeaderboardWorkflow, type LeaderboardConfig } from './app/leaderboard-workflow';
import { KaggleBoard } from './app/kaggle-board';
import { PgSealedScoreStore, SEALED_SCORES, type SealedScoreStore } from './app/sealed-scores';

function positiveInt(env: NodeJS.ProcessEnv, name: string, dflt: number): number {
  const raw = env[name];
  const v = raw === undefined ? dflt : Number(raw);
  if (!Number.isInteger(v) || v <= 0)
    throw new Error(`${name}: expected a positive integer, got ${JSON.stringify(raw)}`);
  return v;
}

/** The same opt-out as dispatch's: generate and score run unconfined only when the operator says so, exactly. */
function unsandboxedFromEnv(env: NodeJS.ProcessEnv): boolean {
  const raw = env.AEVO_UNSANDBOXED_JOBS;
  if (raw === undefined || raw === '') return false;
  if (raw !== UNSANDBOXED_OPT_IN)
    throw new Error(
      `AEVO_UNSANDBOXED_JOBS: to run the leaderboard's commands without a sandbox set it to "${UNSANDBOXED_OPT_IN}" (got "${raw}"); unset it to sandbox them`,
    );
  return true;
}

/** Reads the board's settings; the Kaggle part is optional and reports what is missing instead of failing. */
export function leaderboardConfigFromEnv(env: NodeJS.ProcessEnv = process.env): LeaderboardConfig {
  const secret = env.AEVO_LEADERBOARD_SECRET;
  if (secret !== undefined && secret.length < 16)
    throw new Error('AEVO_LEADERBOARD_SECRET: expected at least 16 characters');
  let board: KaggleBoard | null = null;
  let problem: string | null = null;
  const competition = env.AEVO_KAGGLE_COMPETITION;
  if (!competition) problem = 'AEVO_KAGGLE_COMPETITION is not set';
  else {
    try {
      const client = new KaggleCompetitionClient({
        credentials: credentialsFromEnv(env),
        baseUrl: env.AEVO_KAGGLE_BASE_URL,
      });
      board = new KaggleBoard(client, competition, {
        initialDelayMs: positiveInt(env, 'AEVO_KAGGLE_POLL_INITIAL_MS', 5000),
        maxDelayMs: positiveInt(env, 'AEVO_KAGGLE_POLL_MAX_DELAY_MS', 120_000),
        maxWaitMs: positiveInt(env, 'AEVO_KAGGLE_POLL_MAX_WAIT_MS', 2 * 3600_000),
      });
    } catch (err) {
      problem = (err as Error).message;
    }
  }
  return {
    aevoHome: env.AEVO_HOME ?? '.aevo',
    secret,
    commandTimeoutMs: positiveInt(env, 'AEVO_LEADERBOARD_COMMAND_TIMEOUT_SECONDS', 900) * 1000,
    defaultPredictTimeoutSeconds: positiveInt(env, 'AEVO_PREDICT_TIMEOUT_SECONDS', 3600),
    defaultSize: env.AEVO_SIZE ?? 'tiny',
    unsandboxed: unsandboxedFromEnv(env),
    ...(env.AEVO_BWRAP ? { bwrapPath: env.AEVO_BWRAP } : {}),
    kaggle: { board, problem, promptsPath: env.AEVO_KAGGLE_PROMPTS ?? null },
  };
}

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
            new LeaderboardWorkflow(store, sealed, opts.config ?? leaderboardConfigFromEnv(), (m) => logger.warn(m)),
          inject: [EVENT_STORE, SEALED_SCORES],
        },
      ],
    };
  }
}
