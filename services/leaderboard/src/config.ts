import { positiveIntSetting } from '@aevo/messaging';
import { secretValuesFromEnv, UNSANDBOXED_OPT_IN } from '@aevo/executors';
import { credentialsFromEnv, type KaggleClientOptions, type PollOptions } from '@aevo/kaggle';

/** Where the Kaggle board reaches the competition, or why it cannot (reported as LeaderboardUnavailable). */
export type KaggleSettings =
  | {
      client: KaggleClientOptions;
      competition: string;
      poll: PollOptions;
      /** The competition's test prompts (id,prompt) that predict answers; null reports the board unavailable. */
      promptsPath: string | null;
    }
  | { problem: string };

export interface LeaderboardConfig {
  /** Hidden splits live in `<aevoHome>/leaderboard/<campaignId>/`, outside every sandbox. */
  aevoHome: string;
  /** AEVO_LEADERBOARD_SECRET; when absent a random secret is kept in `<aevoHome>/leaderboard/.secret` (mode 0600). */
  secret?: string;
  /** Deadline of one generate/score command. */
  commandTimeoutMs: number;
  /** Predict job timeout when the entrypoint declares none. */
  defaultPredictTimeoutSeconds: number;
  defaultSize: string;
  /**
   * AEVO_UNSANDBOXED_JOBS set to its opt-in value: generate and score run unconfined (still from the snapshot, with a
   * clean environment). Otherwise each runs in bubblewrap, seeing only its own inputs and outputs.
   */
  unsandboxed?: boolean;
  /** bubblewrap's path (AEVO_BWRAP); default /usr/bin/bwrap. */
  bwrapPath?: string;
  /** The service's own configured secrets, scrubbed from the logs of generate and score. */
  ownSecrets?: string[];
  /** Absent: campaigns on the Kaggle board find it unavailable ("not configured"). */
  kaggle?: KaggleSettings;
}

/** The same opt-out as dispatch's: generate and score run unconfined only when the operator says so, exactly. */
function unsandboxedFromEnv(env: NodeJS.ProcessEnv): boolean {
  const raw = env.AEVO_UNSANDBOXED_JOBS;
  if (raw === undefined || raw === '') return false;
  if (raw !== UNSANDBOXED_OPT_IN)
    throw new Error(
      `AEVO_UNSANDBOXED_JOBS: to run the leaderboard's commands without a sandbox set it to ` +
        `"${UNSANDBOXED_OPT_IN}" (got "${raw}"); unset it to sandbox them`,
    );
  return true;
}

/** The Kaggle part is optional: what is missing is reported, not thrown, so local boards still run. */
function kaggleFromEnv(env: NodeJS.ProcessEnv): KaggleSettings {
  const competition = env.AEVO_KAGGLE_COMPETITION;
  if (!competition) return { problem: 'AEVO_KAGGLE_COMPETITION is not set' };
  const poll = {
    initialDelayMs: positiveIntSetting(env, 'AEVO_KAGGLE_POLL_INITIAL_MS', 5000),
    maxDelayMs: positiveIntSetting(env, 'AEVO_KAGGLE_POLL_MAX_DELAY_MS', 120_000),
    maxWaitMs: positiveIntSetting(env, 'AEVO_KAGGLE_POLL_MAX_WAIT_MS', 2 * 3600_000),
  };
  try {
    return {
      client: { credentials: credentialsFromEnv(env), baseUrl: env.AEVO_KAGGLE_BASE_URL },
      competition,
      poll,
      promptsPath: env.AEVO_KAGGLE_PROMPTS ?? null,
    };
  } catch (err) {
    return { problem: (err as Error).message };
  }
}

/** Reads the board's settings; a bad value is refused naming the variable. */
export function leaderboardConfigFromEnv(env: NodeJS.ProcessEnv = process.env): LeaderboardConfig {
  const secret = env.AEVO_LEADERBOARD_SECRET;
  if (secret !== undefined && secret.length < 16)
    throw new Error('AEVO_LEADERBOARD_SECRET: expected at least 16 characters');
  return {
    aevoHome: env.AEVO_HOME ?? '.aevo',
    secret,
    commandTimeoutMs: positiveIntSetting(env, 'AEVO_LEADERBOARD_COMMAND_TIMEOUT_SECONDS', 900) * 1000,
    defaultPredictTimeoutSeconds: positiveIntSetting(env, 'AEVO_PREDICT_TIMEOUT_SECONDS', 3600),
    defaultSize: env.AEVO_SIZE ?? 'tiny',
    unsandboxed: unsandboxedFromEnv(env),
    ...(env.AEVO_BWRAP ? { bwrapPath: env.AEVO_BWRAP } : {}),
    ownSecrets: secretValuesFromEnv(env),
    kaggle: kaggleFromEnv(env),
  };
}
