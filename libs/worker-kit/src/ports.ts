import type {
  DataOf,
  EventEnvelope,
  JobSpec,
  RollingPolicy,
  CandidateForked,
  EvaluationRequested,
  ScoreVector,
  SelectionCriterion,
} from '@aevo/contracts';
import type { EventStore } from '@aevo/eventstore';

export type ForkData = DataOf<typeof CandidateForked>;
export type EvaluationRequest = DataOf<typeof EvaluationRequested>;

/**
 * Everything a worker is told about its candidate — and nothing else. No earlier round's manifests, traces,
 * sandboxes or scores can reach a worker, because this is the only round-specific input of the runtime.
 * (The axis is part of the fork.)
 */
export interface WorkerInputs {
  fork: ForkData;
  policy: RollingPolicy;
}

/** Process-level settings of a worker replica (identical for every candidate, never round state). */
export interface WorkerConfig {
  campaignId: string;
  workerId: string;
  agentKind: 'heuristic' | 'claude';
  /** Substrate size placeholder ({size}), e.g. "tiny". */
  size: string;
  /** Device placeholder ({device}): "cpu" or "cuda". */
  device: string;
  /** Default job timeout when the entrypoint declares none. */
  jobTimeoutSeconds?: number;
  /** Longest single wait of a poll/evaluate tool call (a long poll; the agent polls again after it). */
  maxWaitSeconds?: number;
  /** Id of the CandidateForked event, recorded as causation of everything the worker emits. */
  forkEventId?: string | null;
  now?: () => Date;
}

/** The candidate's append-only stream (`candidate-<candidateId>`): the trace and the worker's facts. */
export interface CandidateLog {
  readonly streamId: string;
  /** Every event of the stream, as the store holds it now. */
  read(): Promise<EventEnvelope[]>;
  /**
   * The store every append to the stream goes through, with `handle()` (decided, optimistic, re-decided on conflict).
   */
  readonly store: EventStore;
}

export interface JobTerminal {
  jobId: string;
  status: 'succeeded' | 'failed' | 'cancelled';
  exitCode: number | null;
  /** JobFailed's reason (diverged, timeout, exit-code, …) or the cancel reason. */
  reason: string | null;
  message: string | null;
  gpuSeconds: number;
  wallSeconds: number;
  logTail: string;
}

/**
 * How jobs get run. The runtime has already recorded `JobRequested` in the candidate stream when it calls
 * `submit`; in production (dispatch consumes that event) `submit` does nothing. Implementations must treat a
 * repeated jobId as the same job.
 */
export interface JobPort {
  submit(spec: JobSpec): Promise<void>;
  /** The terminal outcome, or null if the job has not finished within `waitMs`. */
  wait(jobId: string, waitMs: number): Promise<JobTerminal | null>;
  /** Last lines of a job's log while it runs (a finished job's tail comes with its terminal outcome). */
  logTail?(jobId: string, lines: number): Promise<string | null>;
}

export interface EvaluatedCheckpoint {
  checkpoint: string;
  step: number;
  seed: number;
  dev: ScoreVector;
}

export interface EvaluationResult {
  checkpoints: EvaluatedCheckpoint[];
  /** The evaluation service's selection (CheckpointSelected): the checkpoint, its score and the criterion used. */
  selected: { checkpoint: string; score: number; criterion: SelectionCriterion } | null;
  failures: Array<{ checkpoint: string; reason: string }>;
}

/** How checkpoints get scored; same split of duties as JobPort (`EvaluationRequested` is already recorded). */
export interface EvaluationPort {
  /** `snapshotId`: the snapshot the candidate was forked from (an in-process evaluator mounts its pinned paths). */
  submit(request: EvaluationRequest, snapshotId: string): Promise<void>;
  /** Complete once every requested checkpoint is evaluated or failed; null if not within `waitMs`. */
  wait(request: EvaluationRequest, waitMs: number): Promise<EvaluationResult | null>;
}
