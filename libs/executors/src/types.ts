import type { JobSpec } from '@aevo/contracts';

export type ExecutorKind = 'local' | 'kubernetes';
export type JobIsolationKind = 'bubblewrap' | 'kubernetes-pod' | 'none';

/** What an executor runs: the validated spec of `JobRequested` plus the campaign it belongs to. */
export interface ExecutorJob {
  campaignId: string;
  spec: JobSpec;
}

/** `queue-timeout`: a Kubernetes Job stayed suspended/queued (not admitted by Kueue) longer than its queue deadline. */
export type FailureReason =
  'exit-code' | 'timeout' | 'diverged' | 'lost' | 'executor-error' | 'deadline-exceeded' | 'queue-timeout';
export type BudgetUnit = 'gpu-seconds' | 'cpu-slot-seconds';

/** How a job ended; maps one-to-one onto JobSucceeded / JobFailed / JobCancelled. */
export interface JobOutcome {
  status: 'succeeded' | 'failed' | 'cancelled';
  exitCode: number | null;
  /** Set when status is 'failed'. */
  reason: FailureReason | null;
  /** The cancel reason when status is 'cancelled'; otherwise a human-readable summary. */
  message: string;
  wallSeconds: number;
  gpuSeconds: number;
  gpuCount: number;
  budgetUnit: BudgetUnit;
  logTail: string;
  logPath: string | null;
  startedAt: string | null;
  finishedAt: string;
}

export type ExecutorEvent =
  | {
      type: 'started';
      jobId: string;
      campaignId: string;
      slot: string | null;
      handle: string;
      attempt: number;
      startedAt: string;
      /** The boundary the job runs in (recorded in JobStarted). */
      isolation: JobIsolationKind;
    }
  | { type: 'preempted'; jobId: string; campaignId: string; reason: string }
  | { type: 'finished'; jobId: string; campaignId: string; outcome: JobOutcome };

export type ExecutorListener = (event: ExecutorEvent) => void | Promise<void>;

export type JobPhase = 'queued' | 'running' | 'preempted' | 'finished';

/** An executor's current view of one job. */
export interface JobView {
  jobId: string;
  campaignId: string;
  phase: JobPhase;
  attempt: number;
  slot: string | null;
  handle: string | null;
  outcome: JobOutcome | null;
  /** True once the owner confirmed it recorded the terminal outcome (see Executor.acknowledge). */
  acknowledged: boolean;
}

export type SubmitResult =
  | { accepted: true; queuePosition: number; view: JobView }
  /** The jobId is already known (queued, running or finished): nothing new is started. */
  | { accepted: false; queuePosition: number; view: JobView };

export type CancelResult =
  /** A queued job was dropped, or a running one was stopped; the `finished` event (status cancelled) follows. */
  'cancelling' | 'already-finished' | 'not-found';

/**
 * Runs jobs and reports what happens to them. Delivery of events is at-least-once and in order per job: a
 * listener that throws gets the same event again (with backoff) until it succeeds or the executor is closed,
 * and a `finished` event that was never acknowledged is delivered again by `recover()` after a restart.
 * Idempotent by jobId: submitting a known jobId never starts a second run.
 */
export interface Executor {
  readonly kind: ExecutorKind;
  on(listener: ExecutorListener): () => void;
  /**
   * Reattaches to what a previous instance left (running processes / labelled Kubernetes Jobs), reports each
   * job's current state through the listeners, and starts scheduling. Call once, after subscribing.
   */
  recover(): Promise<JobView[]>;
  submit(job: ExecutorJob): Promise<SubmitResult>;
  cancel(jobId: string, reason: string): Promise<CancelResult>;
  /** The caller durably recorded the job's terminal outcome; the executor may forget it. */
  acknowledge(jobId: string): Promise<void>;
  view(jobId: string): JobView | undefined;
  views(): JobView[];
  /** Stops timers, watches and deliveries. Running jobs keep running (a later instance reattaches to them). */
  close(): Promise<void>;
}
