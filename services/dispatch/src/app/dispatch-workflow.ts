import {
  createEvent,
  DomainError,
  eventDefinition,
  type Decider,
  type EventEnvelope,
  type EventOf,
  type JobCancellationRequested,
  type JobRequested,
  type JobSpec,
} from '@aevo/contracts';
import { handle, type EventStore, type StoredEvent } from '@aevo/eventstore';
import type { Executor, ExecutorEvent } from '@aevo/executors';
import {
  cancelDecision,
  decide,
  evolve,
  initialJobState,
  isTerminal,
  ownsJob,
  JOB_EVENTS,
  jobStreamId,
  type JobCommand,
  type JobState,
} from '../domain/job';

export interface DispatchLog {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** The job stream's state plus what the application needs to address and trace new events. */
interface StreamState {
  job: JobState;
  campaignId: string | null;
  lastEventId: string | null;
  correlationId: string | null;
}

const initialStreamState = (): StreamState => ({
  job: initialJobState(),
  campaignId: null,
  lastEventId: null,
  correlationId: null,
});

export interface CancelOutcome {
  jobId: string;
  /** `forwarded`: another cluster's dispatcher runs the job; the request is recorded for it (JobCancellationRequested). */
  status: 'cancelling' | 'forwarded' | 'already-finished';
}

const RECONCILE_TYPES = ['JobQueued', 'JobStarted', 'JobPreempted', 'JobSucceeded', 'JobFailed', 'JobCancelled'];

/**
 * Dispatch's use-case class: turns `JobRequested` into a queued job on the configured executor, the executor's
 * reports into events of the job's stream, and `CancelJob` into a cancellation. Everything goes through the pure job
 * decider with optimistic concurrency, so redeliveries, restarts and duplicate reports write nothing twice.
 */
export class DispatchWorkflow {
  private ready: Promise<void> | null = null;
  /**
   * Each open job's state after this process's last decision on it: the `from` of its next one, decided without a
   * read (handle's `optimistic`; the append at that version proves it current, anything else reads). Forgotten when
   * the job ends; bounded.
   */
  private readonly decided = new Map<string, { state: StreamState; version: number }>();
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly store: EventStore,
    private readonly executor: Executor,
    private readonly logger: DispatchLog,
    /** This dispatcher's name (config.ts); null: unnamed, a single cluster. */
    private readonly dispatcher: string | null = null,
  ) {}

  /**
   * Subscribes to the executor, lets it reattach to what a previous dispatch left running, then reconciles the
   * store with it: a queued job the executor never received is submitted, a started one it has no trace of is lost.
   */
  start(): Promise<void> {
    this.ready ??= (async () => {
      this.unsubscribe = this.executor.on((e) => this.onExecutorEvent(e));
      await this.executor.recover();
      await this.reconcile();
    })();
    return this.ready;
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    await this.executor.close();
  }

  async onJobRequested(e: EventOf<typeof JobRequested> | StoredEvent): Promise<void> {
    await this.start();
    const spec = (e.data as { spec: JobSpec }).spec;
    const queuedAhead = this.executor.views().filter((v) => v.phase === 'queued').length;
    const { state } = await this.run(
      spec.jobId,
      { type: 'QueueJob', spec, executor: this.executor.kind, queuePosition: queuedAhead, dispatcher: this.dispatcher },
      { campaignId: e.campaignId, causationId: e.id, correlationId: e.correlationId ?? e.id },
    );
    if (state.job.status !== 'none' && !ownsJob(state.job, this.dispatcher)) {
      // Another cluster's dispatcher queued it first (every compute domain reads every JobRequested): it runs there.
      this.logger.log(`${spec.jobId} was accepted by dispatcher ${state.job.dispatcher}; not run here`);
      return;
    }
    // Also on a redelivery: the first delivery may have recorded JobQueued and died before handing the job over.
    if (!isTerminal(state.job.status))
      await this.submit(state.campaignId ?? e.campaignId, state.job.status === 'none' ? spec : state.job.spec);
  }

  async cancel(jobId: string, reason: string, commandId: string): Promise<CancelOutcome> {
    await this.start();
    const state = await this.load(jobId);
    const decision = cancelDecision(state.job, jobId, this.dispatcher);
    if (decision === 'already-finished') return { jobId, status: 'already-finished' };
    if (decision === 'forward') {
      const { state: after } = await this.run(
        jobId,
        { type: 'RequestCancellation', jobId, reason, receivedBy: this.dispatcher },
        { causationId: commandId },
      );
      // It may have ended meanwhile (decided again on what the append found).
      return { jobId, status: isTerminal(after.job.status) ? 'already-finished' : 'forwarded' };
    }
    return this.cancelHere(jobId, reason, commandId);
  }

  /**
   * JobCancellationRequested (another dispatcher received the CancelJob): the dispatcher that accepted the job
   * cancels it on its executor; every other dispatcher, and a job already over, leaves it.
   */
  async onCancellationRequested(e: EventOf<typeof JobCancellationRequested> | StoredEvent): Promise<void> {
    await this.start();
    const { jobId, reason } = e.data as { jobId: string; reason: string };
    const state = await this.load(jobId);
    if (state.job.status === 'none' || cancelDecision(state.job, jobId, this.dispatcher) !== 'cancel') return;
    this.logger.log(`${jobId}: cancelling on request forwarded by another dispatcher (${reason})`);
    await this.cancelHere(jobId, reason, e.id);
  }

  private async cancelHere(jobId: string, reason: string, causationId: string): Promise<CancelOutcome> {
    const r = await this.executor.cancel(jobId, reason);
    if (r === 'already-finished') return { jobId, status: 'already-finished' };
    if (r === 'not-found') {
      // Queued in the store but never handed to the executor (it would be on the next start): cancel it here.
      await this.run(
        jobId,
        {
          type: 'RecordJobFinished',
          jobId,
          outcome: {
            status: 'cancelled',
            exitCode: null,
            reason: null,
            message: reason,
            wallSeconds: 0,
            gpuSeconds: 0,
            gpuCount: 0,
            budgetUnit: 'gpu-seconds',
            logTail: '',
            logPath: null,
          },
        },
        { causationId },
      );
    }
    return { jobId, status: 'cancelling' };
  }

  async state(jobId: string): Promise<JobState> {
    return (await this.load(jobId)).job;
  }

  // ---------------------------------------------------------------- executor reports

  private async onExecutorEvent(e: ExecutorEvent): Promise<void> {
    const command: JobCommand =
      e.type === 'started'
        ? { type: 'RecordJobStarted', jobId: e.jobId, slot: e.slot, handle: e.handle, isolation: e.isolation }
        : e.type === 'preempted'
          ? { type: 'RecordJobPreempted', jobId: e.jobId, reason: e.reason }
          : { type: 'RecordJobFinished', jobId: e.jobId, outcome: e.outcome };
    try {
      await this.run(e.jobId, command, {});
    } catch (err) {
      if (err instanceof DomainError && err.code === 'JOB_NOT_FOUND') {
        // Not a job of this store (run directly on the executor): nothing to record, and retrying cannot help.
        this.logger.warn(`executor reported ${e.type} for ${e.jobId}, which dispatch never queued; ignored`);
        if (e.type === 'finished') await this.executor.acknowledge(e.jobId);
        return;
      }
      this.logger.error(`recording ${e.type} of ${e.jobId} failed (will retry): ${(err as Error).message}`);
      throw err; // the executor delivers it again
    }
    if (e.type === 'finished') await this.executor.acknowledge(e.jobId);
  }

  // ---------------------------------------------------------------- restart reconciliation

  private async reconcile(): Promise<void> {
    const open = new Map<string, { status: JobState['status']; spec: JobSpec; campaignId: string }>();
    const elsewhere = (d: { dispatcher?: string }) => d.dispatcher !== undefined && d.dispatcher !== this.dispatcher;
    let from = 0;
    for (;;) {
      const page = await this.store.readAll({ fromPosition: from, types: RECONCILE_TYPES, limit: 5000 });
      for (const e of page) {
        const d = e.data as { jobId: string; spec?: JobSpec; dispatcher?: string };
        // Another cluster's jobs are that cluster's dispatcher's to resubmit or declare lost.
        if (e.type === 'JobQueued' && d.spec && !elsewhere(d))
          open.set(d.jobId, { status: 'queued', spec: d.spec, campaignId: e.campaignId });
        const row = open.get(d.jobId);
        if (!row) continue;
        if (e.type === 'JobStarted') row.status = 'running';
        else if (e.type === 'JobPreempted') row.status = 'preempted';
        else if (e.type !== 'JobQueued') open.delete(d.jobId);
      }
      if (page.length < 5000) break;
      from = page[page.length - 1].position;
    }
    for (const [jobId, row] of open) {
      if (this.executor.view(jobId)) continue; // the executor knows it and reports its state itself
      if (row.status === 'queued') {
        this.logger.log(`resubmitting ${jobId}: queued before the restart, never handed to the executor`);
        await this.submit(row.campaignId, row.spec);
      } else {
        await this.run(
          jobId,
          {
            type: 'RecordJobFinished',
            jobId,
            outcome: {
              status: 'failed',
              exitCode: null,
              reason: 'lost',
              message:
                `dispatch restarted and the ${this.executor.kind} executor ` + `has no trace of this ${row.status} job`,
              wallSeconds: 0,
              gpuSeconds: 0,
              gpuCount: 0,
              budgetUnit: 'gpu-seconds',
              logTail: '',
              logPath: null,
            },
          },
          {},
        );
      }
    }
  }

  // ---------------------------------------------------------------- plumbing

  private async submit(campaignId: string, spec: JobSpec): Promise<void> {
    await this.executor.submit({ campaignId, spec });
  }

  private async load(jobId: string): Promise<StreamState> {
    const events = await this.store.readStream(jobStreamId(jobId));
    return events.reduce(evolveStream, initialStreamState());
  }

  private async run(
    jobId: string,
    command: JobCommand,
    trace: { campaignId?: string; causationId?: string | null; correlationId?: string | null },
  ): Promise<{ state: StreamState; events: StoredEvent[] }> {
    const streamId = jobStreamId(jobId);
    const decider: Decider<JobCommand, EventEnvelope, StreamState> = {
      initialState: initialStreamState,
      evolve: evolveStream,
      decide: (c, s) => {
        const campaignId = s.campaignId ?? trace.campaignId;
        const events = decide(c, s.job);
        if (events.length > 0 && !campaignId) throw new Error(`no campaign known for job ${jobId}`);
        return events.map((e) => {
          const def = eventDefinition(e.type);
          if (!def) throw new Error(`event type ${e.type} is not registered`);
          return createEvent(def, e.data, {
            campaignId: campaignId!,
            streamId,
            source: 'dispatch',
            causationId: trace.causationId ?? s.lastEventId,
            correlationId: trace.correlationId ?? s.correlationId,
          });
        });
      },
    };
    const known = this.decided.get(jobId) ?? { state: initialStreamState(), version: 0 };
    const outcome = await handle(this.store, streamId, decider, command, { from: known, optimistic: true });
    this.decided.delete(jobId);
    if (!isTerminal(outcome.state.job.status)) {
      if (this.decided.size >= DECIDED_JOBS_KEPT) this.decided.delete(this.decided.keys().next().value as string);
      this.decided.set(jobId, { state: outcome.state, version: outcome.version });
    }
    return { state: outcome.state, events: outcome.events };
  }
}

/** Open jobs whose last decided state is kept (beyond it the oldest is read again at its next decision). */
const DECIDED_JOBS_KEPT = 10_000;

function evolveStream(s: StreamState, e: EventEnvelope): StreamState {
  if (!JOB_EVENTS.is(e)) return s;
  return {
    job: evolve(s.job, e),
    campaignId: s.campaignId ?? e.campaignId,
    lastEventId: e.id,
    correlationId: s.correlationId ?? e.correlationId,
  };
}
