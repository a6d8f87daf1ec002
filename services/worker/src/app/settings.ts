import * as os from 'node:os';

/** How this replica runs candidates; from the environment, validated with one message naming every bad value. */
export interface WorkerSettings {
  workerId: string;
  /** Candidates one replica works at once (the CandidateForked handler's concurrency). */
  concurrency: number;
  /**
   * `events` (production): jobs go through dispatch (JobRequested) and checkpoints through the evaluation service
   * (EvaluationRequested); any number of replicas. `local`: jobs run in this process through the local executor of
   * libs/executors under AEVO_HOME — one replica per home, for a single machine without dispatch.
   */
  jobs: 'events' | 'local';
  aevoHome: string;
  localSlots: number;
  device: string;
  maxToolCalls: number;
  maxTokens: number;
  /** On this delivery of a CandidateForked that keeps failing, the candidate is failed cleanly instead of retried. */
  failAfterDeliveries: number;
  maxWaitSeconds: number;
  claude: { model: string; apiKey: string | null; baseURL: string | null; maxTokensPerTurn: number; maxAttempts: number };
}

export function workerSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): WorkerSettings {
  const problems: string[] = [];
  const int = (name: string, dflt: number, min: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return dflt;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) {
      problems.push(`${name}: expected an integer >= ${min}, got ${JSON.stringify(raw)}`);
      return dflt;
    }
    return n;
  };
  const jobs = env.AEVO_WORKER_JOBS ?? 'events';
  if (jobs !== 'events' && jobs !== 'local') problems.push(`AEVO_WORKER_JOBS: expected "events" or "local", got ${JSON.stringify(jobs)}`);
  const s: WorkerSettings = {
    workerId: env.AEVO_WORKER_ID || `${os.hostname()}-${process.pid}`,
    concurrency: int('AEVO_WORKER_CONCURRENCY', 2, 1),
    jobs: jobs as WorkerSettings['jobs'],
    aevoHome: env.AEVO_HOME || '.aevo',
    localSlots: int('AEVO_LOCAL_SLOTS', 1, 1),
    device: env.AEVO_DEVICE || 'cpu',
    maxToolCalls: int('AEVO_WORKER_MAX_TOOL_CALLS', 200, 1),
    maxTokens: int('AEVO_WORKER_MAX_TOKENS', 400_000, 1),
    failAfterDeliveries: int('AEVO_WORKER_FAIL_AFTER_DELIVERIES', 4, 1),
    maxWaitSeconds: int('AEVO_WORKER_MAX_WAIT_SECONDS', 600, 1),
    claude: {
      model: env.AEVO_CLAUDE_MODEL || 'claude-sonnet-4-5',
      apiKey: env.ANTHROPIC_API_KEY || null,
      baseURL: env.ANTHROPIC_BASE_URL || null,
      maxTokensPerTurn: int('AEVO_CLAUDE_MAX_TOKENS_PER_TURN', 4096, 1),
      maxAttempts: int('AEVO_CLAUDE_MAX_ATTEMPTS', 4, 1),
    },
  };
  if (problems.length > 0) throw new Error(`invalid worker configuration: ${problems.join('; ')}`);
  return s;
}

/** Concurrency is fixed when the controller class is declared, so it is read from the environment up front. */
export function handlerConcurrency(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env.AEVO_WORKER_CONCURRENCY ?? 2);
  return Number.isInteger(n) && n >= 1 ? n : 2;
}
