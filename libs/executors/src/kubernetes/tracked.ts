import type * as K8s from '@kubernetes/client-node';
import type { JobOutcome, JobPhase } from '../types';
import { CONTAINER_NAME, type KubernetesJobConfig } from './manifest';

export interface KubernetesExecutorOptions extends KubernetesJobConfig {
  kubeConfig: K8s.KubeConfig;
  /** Where dispatch writes each job's log (`<logDir>/<jobId>.log`), usually `<AEVO_HOME>/logs`. */
  logDir: string;
  logTailLines?: number;
  /** Wait before reconnecting a log stream or a failed watch (doubles up to 30 s for the watch). Default 500 ms. */
  reconnectMs?: number;
  /** How often jobs waiting in the queue are checked against `queueDeadlineSeconds`. Default 30 s. */
  queueCheckMs?: number;
  /**
   * `timeoutSeconds` asked of each watch (the server ends it then, and the watch resumes from the last version or
   * BOOKMARK seen), so a silently dead connection is replaced; jittered up to 2×, as client-go's reflector does.
   * Default 300.
   */
  watchTimeoutSeconds?: number;
  /**
   * The clock (ms since epoch) that queue waits are measured with; the cluster's timestamps must be on the same clock.
   */
  now?: () => number;
  onError?: (err: unknown, context: string) => void;
}

/** Where a log request stands in re-sending lines already written (see writeLogLine). */
export interface LogReplay {
  active: boolean;
  /** Lines with the newest written timestamp matched so far. */
  matched: number;
}

/** One admitted run of a Job: from its admission (`status.startTime`) to its suspension or end. */
export interface Run {
  start: string;
  end: string | null;
}

export interface Tracked {
  jobId: string;
  campaignId: string;
  name: string;
  /** GPUs of the whole Job (per-node GPUs × nodes). */
  gpu: number;
  /** Ranks of the Job; above 1 it has a headless Service of its own, deleted when the job ends. */
  nodes: number;
  phase: JobPhase;
  attempt: number;
  startedAt: string | null;
  /** Every admitted run seen (Kueue may suspend and resume a Job many times; each resume resets startTime). */
  runs: Run[];
  /** Since when the Job waits suspended or queued (null while it runs). */
  waitingSince: string | null;
  outcome: JobOutcome | null;
  finishing: boolean;
  acknowledged: boolean;
  logPath: string;
  /**
   * Newest log timestamp written (ns since epoch), and the lines written with exactly it, in order (see writeLogLine).
   */
  lastLogTs: bigint | null;
  linesAtLastTs: string[];
  logPod: string | null;
  logAbort: AbortController | null;
  logFollowing: boolean;
  /** A pod that has ended and whose whole log was read: not asked again while the Job waits for a replacement pod. */
  logDonePod: string | null;
}

export interface PodObject {
  metadata?: { name?: string; creationTimestamp?: string | Date; annotations?: Record<string, string> };
  status?: {
    phase?: string;
    containerStatuses?: Array<{
      name?: string;
      state?: { terminated?: { exitCode?: number; finishedAt?: string | Date } };
      lastState?: { terminated?: { exitCode?: number; finishedAt?: string | Date } };
    }>;
  };
}

/** How the job's container ended (its current state, else its last). */
export function terminatedOf(pod: PodObject | null): { exitCode?: number; finishedAt?: string | Date } | undefined {
  const cs =
    pod?.status?.containerStatuses?.find((c) => c.name === CONTAINER_NAME) ?? pod?.status?.containerStatuses?.[0];
  return cs?.state?.terminated ?? cs?.lastState?.terminated;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A wait that does not keep the process alive (for bounded waits during shutdown). */
export const idle = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());
export const statusCode = (err: unknown): number | undefined => {
  const e = err as { code?: unknown; statusCode?: unknown };
  return typeof e?.code === 'number' ? e.code : typeof e?.statusCode === 'number' ? e.statusCode : undefined;
};

/** "2024-05-01T10:00:00.123456789Z" → ns since epoch (RFC3339Nano drops trailing zeros, so compare as numbers). */
export function parseLogTimestamp(ts: string): bigint | null {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(ts);
  if (!m) return null;
  const secs = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(secs)) return null;
  return BigInt(secs) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

/** The runs in an `aevo.dev/runs` annotation; a malformed one is reported and read as none. */
export function recordedRuns(raw: string | undefined, onError: (err: unknown) => void): Run[] {
  if (!raw) return [];
  try {
    const parsed: unknown = JSON.parse(raw);
    if (!Array.isArray(parsed)) throw new Error('not an array');
    return parsed.map((r) => {
      if (!Array.isArray(r) || r.length !== 2 || r.some((x) => typeof x !== 'string' || Number.isNaN(Date.parse(x))))
        throw new Error(`bad run ${JSON.stringify(r)}`);
      return { start: r[0] as string, end: r[1] as string };
    });
  } catch (err) {
    onError(new Error(`ignoring a malformed runs annotation (${(err as Error).message}): ${raw}`));
    return [];
  }
}

export const openRun = (t: Tracked): Run | undefined => {
  const last = t.runs[t.runs.length - 1];
  return last && last.end == null ? last : undefined;
};

export function exitCodeOf(pod: PodObject | null): number | null {
  const cs =
    pod?.status?.containerStatuses?.find((c) => c.name === CONTAINER_NAME) ?? pod?.status?.containerStatuses?.[0];
  const code = cs?.state?.terminated?.exitCode ?? cs?.lastState?.terminated?.exitCode;
  return typeof code === 'number' ? code : null;
}

export function apiMessage(err: unknown): string {
  const body = (err as { body?: unknown }).body;
  if (body && typeof body === 'object' && 'message' in body) return String((body as { message: unknown }).message);
  if (typeof body === 'string') {
    try {
      return String((JSON.parse(body) as { message?: unknown }).message ?? body);
    } catch {
      return body;
    }
  }
  return (err as Error).message;
}

export const round3 = (x: number) => Math.round(x * 1000) / 1000;
