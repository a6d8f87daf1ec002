import * as os from 'node:os';
import { DEFAULT_CLAUDE_MODEL, claudeModelProblem } from '@aevo/contracts';

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
  claude: ClaudeSettings;
}

/** The Claude worker's settings (AEVO_CLAUDE_*); the model is checked against the installed SDK's ids at start. */
export interface ClaudeSettings {
  model: string;
  apiKey: string | null;
  baseURL: string | null;
  maxTokensPerTurn: number;
  /** Retries the SDK makes itself inside one attempt (it honours `retry-after`): short blips. */
  sdkMaxRetries: number;
  /** How long the worker keeps retrying 429/529/5xx answers before the candidate ends through its normal close. */
  retryPatienceSeconds: number;
  /** Counted prompt size above which old tool results are cleared. */
  clearContextAtTokens: number;
  /** TTL of the cache breakpoints; 1h outlives the worker's waits on jobs. */
  cacheTtl: '5m' | '1h';
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
  if (jobs !== 'events' && jobs !== 'local')
    problems.push(`AEVO_WORKER_JOBS: expected "events" or "local", got ${JSON.stringify(jobs)}`);
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
      model: env.AEVO_CLAUDE_MODEL || DEFAULT_CLAUDE_MODEL,
      apiKey: env.ANTHROPIC_API_KEY || null,
      baseURL: env.ANTHROPIC_BASE_URL || null,
      maxTokensPerTurn: int('AEVO_CLAUDE_MAX_TOKENS_PER_TURN', 4096, 1),
      sdkMaxRetries: int('AEVO_CLAUDE_SDK_MAX_RETRIES', 2, 0),
      retryPatienceSeconds: int('AEVO_CLAUDE_RETRY_PATIENCE_SECONDS', 900, 1),
      clearContextAtTokens: int('AEVO_CLAUDE_CLEAR_CONTEXT_AT_TOKENS', 60_000, 1000),
      cacheTtl: (env.AEVO_CLAUDE_CACHE_TTL || '1h') as ClaudeSettings['cacheTtl'],
    },
  };
  if (s.claude.cacheTtl !== '1h' && s.claude.cacheTtl !== '5m')
    problems.push(`AEVO_CLAUDE_CACHE_TTL: expected "1h" or "5m", got ${JSON.stringify(s.claude.cacheTtl)}`);
  // A retired or unknown model would fail every Claude candidate at its first turn: refuse to start instead.
  const modelProblem = claudeModelProblem(s.claude.model, new Date());
  if (modelProblem) problems.push(`AEVO_CLAUDE_MODEL: ${modelProblem}`);
  if (problems.length > 0) throw new Error(`invalid worker configuration: ${problems.join('; ')}`);
  return s;
}

/** Concurrency is fixed when the controller class is declared, so it is read from the environment up front. */
export function handlerConcurrency(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env.AEVO_WORKER_CONCURRENCY ?? 2);
  return Number.isInteger(n) && n >= 1 ? n : 2;
}
