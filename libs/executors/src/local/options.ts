import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

export interface LocalExecutorOptions {
  /** AEVO_HOME: logs go to `<home>/logs/<jobId>.log`, job records to `<home>/dispatch/local-jobs/<jobId>/`. */
  home: string;
  stateDir?: string;
  logDir?: string;
  /** GPU indices, one slot each (CUDA_VISIBLE_DEVICES=<i>). Default: none. */
  gpus?: number[];
  /** CPU-only slots (AEVO_LOCAL_SLOTS). Default 1. */
  cpuSlots?: number;
  /** Refuse GPU jobs on a machine without GPUs instead of running them on a CPU slot. */
  requireGpu?: boolean;
  /** Between SIGTERM and SIGKILL of a job's process tree. Default 10 s. */
  killGraceMs?: number;
  /** How often running jobs are checked (exit file, liveness). Default 500 ms. */
  pollMs?: number;
  /** Lines of log in the terminal outcome. Default 50. */
  logTailLines?: number;
  /** Budget charged per second on a CPU-only slot (reported as `cpu-slot-seconds`). Default 1. */
  cpuSlotWeight?: number;
  /** Environment variables of the dispatch process passed on to jobs (secrets are not). */
  inheritEnv?: string[];
  /** Shell that wraps each job to record its pid and exit code. Default /bin/sh. */
  shell?: string;
  /**
   * Records of acknowledged jobs older than this are deleted at start-up (logs are kept). Until then a resubmitted
   * jobId is recognised here too; the dispatch service dedupes by its event store in any case. Default 7 days.
   */
  retainFinishedMs?: number;
  /**
   * How jobs are enclosed. 'bubblewrap' (default): each job in its own bubblewrap sandbox (see isolation/bwrap.ts);
   * the executor refuses to start where bubblewrap cannot make one. 'none': jobs run as the dispatch user with its
   * file system — only for an operator who set AEVO_UNSANDBOXED_JOBS, and every JobStarted records it.
   */
  sandbox?: 'bubblewrap' | 'none';
  /** bubblewrap's path. Default /usr/bin/bwrap (AEVO_BWRAP). */
  bwrapPath?: string;
  /**
   * Host uid of sandboxed jobs. 'per-slot' (default when dispatch runs as root): slot k runs as uid jobUidBase + k,
   * so a job owns no file it did not write and its process limit is its own; 'service': the dispatch user's uid
   * (mapped to nobody inside the sandbox), for an unprivileged dispatch.
   */
  jobUids?: 'per-slot' | 'service';
  /** First uid of the per-slot range. Default 62000. */
  jobUidBase?: number;
  /** Per-job limits: processes and threads (per-slot uids only), largest file, private /tmp size. */
  limits?: { processes?: number; fileSizeMiB?: number; tmpMiB?: number };
  onError?: (err: unknown, context: string) => void;
}

/** Variables a job inherits from dispatch by default: enough to find interpreters and libraries, no credentials. */
export const DEFAULT_INHERITED_ENV = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'LANG',
  'LC_ALL',
  'LC_CTYPE',
  'TZ',
  'TMPDIR',
  'PYTHONPATH',
  'VIRTUAL_ENV',
  'LD_LIBRARY_PATH',
  'CUDA_HOME',
  'OMP_NUM_THREADS',
];

/** The options with every default applied (what the executor works from). */
export type ResolvedLocalOptions = Required<
  Omit<LocalExecutorOptions, 'onError' | 'stateDir' | 'logDir' | 'requireGpu' | 'limits'>
> & {
  requireGpu: boolean;
  limits: { processes: number; fileSizeMiB: number; tmpMiB: number };
};

export function resolveLocalOptions(options: LocalExecutorOptions): ResolvedLocalOptions {
  return {
    home: resolve(options.home),
    gpus: options.gpus ?? [],
    cpuSlots: options.cpuSlots ?? 1,
    requireGpu: options.requireGpu ?? false,
    killGraceMs: options.killGraceMs ?? 10_000,
    pollMs: options.pollMs ?? 500,
    logTailLines: options.logTailLines ?? 50,
    cpuSlotWeight: options.cpuSlotWeight ?? 1,
    inheritEnv: options.inheritEnv ?? DEFAULT_INHERITED_ENV,
    shell: options.shell ?? '/bin/sh',
    retainFinishedMs: options.retainFinishedMs ?? 7 * 86_400_000,
    sandbox: options.sandbox ?? 'bubblewrap',
    bwrapPath: options.bwrapPath ?? (process.env.AEVO_BWRAP || '/usr/bin/bwrap'),
    jobUids: options.jobUids ?? (process.getuid?.() === 0 ? 'per-slot' : 'service'),
    jobUidBase: options.jobUidBase ?? 62_000,
    limits: {
      processes: options.limits?.processes ?? 1024,
      fileSizeMiB: options.limits?.fileSizeMiB ?? 16_384,
      tmpMiB: options.limits?.tmpMiB ?? 1024,
    },
  };
}

/** GPU indices from AEVO_LOCAL_GPUS ("0,1,2" or "none"), else from nvidia-smi, else none. */
export function detectGpus(env: NodeJS.ProcessEnv = process.env): number[] {
  const configured = env.AEVO_LOCAL_GPUS?.trim();
  if (configured !== undefined && configured !== '') {
    if (configured === 'none') return [];
    const list = configured.split(',').map((s) => Number(s.trim()));
    if (list.some((n) => !Number.isInteger(n) || n < 0))
      throw new Error(`AEVO_LOCAL_GPUS: expected a comma-separated list of GPU indices or "none", got "${configured}"`);
    return list;
  }
  try {
    const out = execFileSync('nvidia-smi', ['--query-gpu=index', '--format=csv,noheader'], {
      encoding: 'utf8',
      timeout: 10_000,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return out
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => /^\d+$/.test(l))
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * Local executor options from the environment (AEVO_HOME, AEVO_LOCAL_SLOTS, AEVO_LOCAL_GPUS, …). Throws naming the bad
 * variable.
 */
export function localExecutorOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): LocalExecutorOptions {
  const int = (name: string, dflt: number, min: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return dflt;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new Error(`${name}: expected an integer ≥ ${min}, got "${raw}"`);
    return n;
  };
  const num = (name: string, dflt: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return dflt;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < 0) throw new Error(`${name}: expected a non-negative number, got "${raw}"`);
    return n;
  };
  return {
    home: env.AEVO_HOME || '.aevo',
    gpus: detectGpus(env),
    cpuSlots: int('AEVO_LOCAL_SLOTS', 1, 0),
    requireGpu: env.AEVO_LOCAL_REQUIRE_GPU === 'true',
    killGraceMs: int('AEVO_LOCAL_KILL_GRACE_MS', 10_000, 0),
    cpuSlotWeight: num('AEVO_CPU_SLOT_WEIGHT', 1),
    logTailLines: int('AEVO_LOG_TAIL_LINES', 50, 1),
    sandbox: sandboxModeFromEnv(env),
    ...(env.AEVO_BWRAP ? { bwrapPath: env.AEVO_BWRAP } : {}),
    ...(env.AEVO_JOB_UIDS
      ? { jobUids: oneOf('AEVO_JOB_UIDS', env.AEVO_JOB_UIDS, ['per-slot', 'service'] as const) }
      : {}),
    ...(env.AEVO_JOB_UID_BASE ? { jobUidBase: int('AEVO_JOB_UID_BASE', 62_000, 1000) } : {}),
    limits: {
      processes: int('AEVO_JOB_MAX_PROCESSES', 1024, 16),
      fileSizeMiB: int('AEVO_JOB_MAX_FILE_MIB', 16_384, 1),
      tmpMiB: int('AEVO_JOB_TMP_MIB', 1024, 1),
    },
  };
}

/** The value AEVO_UNSANDBOXED_JOBS must have: long enough that nobody sets it by accident. */
export const UNSANDBOXED_OPT_IN = 'i-accept-that-candidate-code-runs-unconfined';

function sandboxModeFromEnv(env: NodeJS.ProcessEnv): 'bubblewrap' | 'none' {
  const raw = env.AEVO_UNSANDBOXED_JOBS;
  if (raw === undefined || raw === '') return 'bubblewrap';
  if (raw !== UNSANDBOXED_OPT_IN)
    throw new Error(
      `AEVO_UNSANDBOXED_JOBS: to run jobs without a sandbox set it to "${UNSANDBOXED_OPT_IN}" (got "${raw}` +
        `"); unset it to sandbox jobs`,
    );
  return 'none';
}

function oneOf<T extends string>(name: string, raw: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(raw))
    throw new Error(`${name}: expected one of ${allowed.join(', ')}, got "${raw}"`);
  return raw as T;
}
