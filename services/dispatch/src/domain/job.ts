import {
  DomainError,
  eventUnion,
  JobCancellationRequested,
  JobCancelled,
  JobFailed,
  JobPreempted,
  JobQueued,
  JobStarted,
  JobSucceeded,
  type DataOf,
  type Decider,
  type EventOfUnion,
  type JobSpec,
} from '@aevo/contracts';

/**
 * The job aggregate: stream `job-<jobId>`, written only by dispatch. A requester (worker, evaluation, leaderboard)
 * records `JobRequested` in its own stream with a deterministic jobId; dispatch turns the first request for a jobId
 * into `JobQueued` and ignores every later one. Then `JobStarted` (again after each `JobPreempted`), and exactly one
 * terminal event: `JobSucceeded`, `JobFailed` or `JobCancelled`. Reports that arrive late or twice (an executor
 * redelivers, a restart re-reports) decide nothing.
 */
export const jobStreamId = (jobId: string): string => `job-${jobId}`;

/** The job stream's events, listed once: the union, its names and its guard derive from this list. */
export const JOB_EVENTS = eventUnion(
  JobQueued,
  JobStarted,
  JobPreempted,
  JobCancellationRequested,
  JobSucceeded,
  JobFailed,
  JobCancelled,
);
export type JobEvent = EventOfUnion<typeof JOB_EVENTS>;
export const JOB_EVENT_TYPES: ReadonlySet<string> = JOB_EVENTS.types;
export const TERMINAL_JOB_EVENTS = eventUnion(JobSucceeded, JobFailed, JobCancelled);
export const TERMINAL_JOB_EVENT_TYPES: ReadonlySet<string> = TERMINAL_JOB_EVENTS.types;

export type ExecutorName = 'local' | 'kubernetes';
export type JobStatus = 'none' | 'queued' | 'running' | 'preempted' | 'succeeded' | 'failed' | 'cancelled';

/**
 * A job before dispatch queued it has nothing; from JobQueued on it has its spec and executor, whatever its phase.
 */
export type JobState =
  | { status: 'none' }
  | {
      status: Exclude<JobStatus, 'none'>;
      spec: JobSpec;
      executor: ExecutorName;
      /** JobStarted events so far (a preempted job that resumes starts again). */
      attempts: number;
      /** The dispatcher that accepted it (JobQueued.dispatcher); null: any. */
      dispatcher: string | null;
      /** Why another dispatcher asked for it to be cancelled (JobCancellationRequested); null: not asked. */
      cancelRequested: string | null;
    };
export type KnownJob = Extract<JobState, { spec: JobSpec }>;

export const initialJobState = (): JobState => ({ status: 'none' });

export const isTerminal = (s: JobStatus): boolean => s === 'succeeded' || s === 'failed' || s === 'cancelled';

/** How a job ended, as an executor reports it (the fields of the terminal events). */
export interface JobOutcomeReport {
  status: 'succeeded' | 'failed' | 'cancelled';
  exitCode: number | null;
  reason: DataOf<typeof JobFailed>['reason'] | null;
  message: string;
  wallSeconds: number;
  gpuSeconds: number;
  gpuCount: number;
  budgetUnit: 'gpu-seconds' | 'cpu-slot-seconds';
  logTail: string;
  logPath: string | null;
}

export type JobCommand =
  | { type: 'QueueJob'; spec: JobSpec; executor: ExecutorName; queuePosition: number; dispatcher?: string | null }
  | {
      type: 'RecordJobStarted';
      jobId: string;
      slot: string | null;
      handle: string;
      isolation: DataOf<typeof JobStarted>['isolation'];
    }
  | { type: 'RecordJobPreempted'; jobId: string; reason: string }
  /** A CancelJob received by `receivedBy`, which does not run the job: recorded for the one that does. */
  | { type: 'RequestCancellation'; jobId: string; reason: string; receivedBy: string | null }
  | { type: 'RecordJobFinished'; jobId: string; outcome: JobOutcomeReport };

function requireKnown(state: JobState, jobId: string): KnownJob {
  if (state.status === 'none')
    throw new DomainError('JOB_NOT_FOUND', `job ${jobId} was never queued by dispatch`, [
      { path: 'jobId', message: 'no JobQueued for this jobId' },
    ]);
  return state;
}

export function decide(command: JobCommand, state: JobState): JobEvent[] {
  switch (command.type) {
    case 'QueueJob': {
      if (state.status !== 'none') return []; // the same jobId requested again: run once
      const { spec } = command;
      return [
        {
          type: 'JobQueued',
          data: {
            jobId: spec.jobId,
            candidateId: spec.candidateId,
            round: spec.round,
            executor: command.executor,
            queuePosition: command.queuePosition,
            spec,
            ...(command.dispatcher ? { dispatcher: command.dispatcher } : {}),
          },
        },
      ];
    }
    case 'RecordJobStarted': {
      const job = requireKnown(state, command.jobId);
      const { spec } = job;
      if (job.status !== 'queued' && job.status !== 'preempted') return []; // already running, or over
      return [
        {
          type: 'JobStarted',
          data: {
            jobId: spec.jobId,
            candidateId: spec.candidateId,
            executor: job.executor,
            slot: command.slot,
            handle: command.handle,
            attempt: job.attempts + 1,
            isolation: command.isolation,
          },
        },
      ];
    }
    case 'RecordJobPreempted': {
      const { spec, status } = requireKnown(state, command.jobId);
      if (status !== 'running') return [];
      return [
        { type: 'JobPreempted', data: { jobId: spec.jobId, candidateId: spec.candidateId, reason: command.reason } },
      ];
    }
    case 'RequestCancellation': {
      const job = requireKnown(state, command.jobId);
      // Over, already asked, or this dispatcher runs it (it cancels it itself): nothing to record.
      if (isTerminal(job.status) || job.cancelRequested !== null || ownsJob(job, command.receivedBy)) return [];
      return [
        {
          type: 'JobCancellationRequested',
          data: {
            jobId: job.spec.jobId,
            candidateId: job.spec.candidateId,
            reason: command.reason.slice(0, 500),
            dispatcher: job.dispatcher!,
            receivedBy: command.receivedBy,
          },
        },
      ];
    }
    case 'RecordJobFinished': {
      const job = requireKnown(state, command.jobId);
      const { spec } = job;
      if (isTerminal(job.status)) return []; // exactly one terminal event
      const o = command.outcome;
      const common = {
        jobId: spec.jobId,
        candidateId: spec.candidateId,
        round: spec.round,
        gpuSeconds: o.gpuSeconds,
        wallSeconds: o.wallSeconds,
        logTail: o.logTail,
        logPath: o.logPath,
        executor: job.executor,
        gpuCount: o.gpuCount,
        budgetUnit: o.budgetUnit,
      };
      if (o.status === 'succeeded') {
        if (o.exitCode !== 0)
          throw new DomainError('INVALID_OUTCOME', `a succeeded job must have exit code 0, got ${String(o.exitCode)}`, [
            { path: 'outcome.exitCode', message: 'expected 0' },
          ]);
        return [{ type: 'JobSucceeded', data: { ...common, exitCode: 0 } }];
      }
      if (o.status === 'cancelled') return [{ type: 'JobCancelled', data: { ...common, reason: o.message } }];
      if (!o.reason)
        throw new DomainError('INVALID_OUTCOME', 'a failed job needs a reason', [
          { path: 'outcome.reason', message: 'required when status is failed' },
        ]);
      return [{ type: 'JobFailed', data: { ...common, exitCode: o.exitCode, reason: o.reason, message: o.message } }];
    }
  }
}

export function evolve(state: JobState, event: JobEvent): JobState {
  if (event.type === 'JobQueued')
    return state.status === 'none'
      ? {
          status: 'queued',
          spec: event.data.spec,
          executor: event.data.executor,
          attempts: 0,
          dispatcher: event.data.dispatcher ?? null,
          cancelRequested: null,
        }
      : state; // a second JobQueued is never decided
  if (state.status === 'none') return state; // a report about a job not queued is never decided either
  switch (event.type) {
    case 'JobStarted':
      return { ...state, status: 'running', attempts: state.attempts + 1 };
    case 'JobPreempted':
      return { ...state, status: 'preempted' };
    case 'JobCancellationRequested':
      return { ...state, cancelRequested: state.cancelRequested ?? event.data.reason };
    case 'JobSucceeded':
      return { ...state, status: 'succeeded' };
    case 'JobFailed':
      return { ...state, status: 'failed' };
    case 'JobCancelled':
      return { ...state, status: 'cancelled' };
  }
}

export const jobDecider: Decider<JobCommand, JobEvent, JobState> = { decide, evolve, initialState: initialJobState };

/** Whether `dispatcher` (null: unnamed) hands this job to its executor: the one that accepted it, or any if unnamed. */
export const ownsJob = (job: KnownJob, dispatcher: string | null): boolean =>
  job.dispatcher === null || job.dispatcher === dispatcher;

/**
 * What a CancelJob command does to a job in this state, at `dispatcher`. A job another cluster's dispatcher accepted
 * runs on that cluster's executor: this one can neither stop it nor record it cancelled, so it forwards the request
 * (RequestCancellation), which that dispatcher reads from the log.
 */
export function cancelDecision(
  state: JobState,
  jobId: string,
  dispatcher: string | null = null,
): 'cancel' | 'forward' | 'already-finished' {
  const job = requireKnown(state, jobId);
  if (isTerminal(job.status)) return 'already-finished';
  return ownsJob(job, dispatcher) ? 'cancel' : 'forward';
}
