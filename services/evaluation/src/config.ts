export interface EvaluationConfig {
  /** Scores are written under `<aevoHome>/evaluation/<campaignId>/<requestId>/`, outside the sandbox. */
  aevoHome: string;
  /** The split evaluate scores on ({split}). */
  split: string;
  /** Used when the entrypoint declares no timeoutSeconds. */
  defaultTimeoutSeconds: number;
  /** {size} when a checkpoint.json names none. */
  defaultSize: string;
}

/**
 * The evaluation service's settings from the environment: AEVO_HOME, AEVO_EVAL_SPLIT, AEVO_EVAL_TIMEOUT_SECONDS,
 * AEVO_SIZE; a bad value is refused with an error naming the variable.
 */
export function evaluationConfigFromEnv(env: NodeJS.ProcessEnv = process.env): EvaluationConfig {
  const timeout = Number(env.AEVO_EVAL_TIMEOUT_SECONDS ?? 3600);
  if (!Number.isInteger(timeout) || timeout <= 0)
    throw new Error(`AEVO_EVAL_TIMEOUT_SECONDS: expected a positive integer, got ${env.AEVO_EVAL_TIMEOUT_SECONDS}`);
  return {
    aevoHome: env.AEVO_HOME ?? '.aevo',
    split: env.AEVO_EVAL_SPLIT ?? 'dev',
    defaultTimeoutSeconds: timeout,
    defaultSize: env.AEVO_SIZE ?? 'tiny',
  };
}
