import {
  CheckpointEvaluated,
  CheckpointSelected,
  EvaluationFailed,
  JobCancelled,
  JobFailed,
  JobSucceeded,
  isEvent,
} from '@aevo/contracts';
import type { EventStore, StoredEvent } from '@aevo/eventstore';
import type { EvaluationPort, EvaluationRequest, EvaluationResult, JobPort, JobTerminal } from '../ports';

const TERMINAL_TYPES = [JobSucceeded.type, JobFailed.type, JobCancelled.type];
const EVALUATION_TYPES = [CheckpointEvaluated.type, EvaluationFailed.type, CheckpointSelected.type];

/**
 * Resolves after `ms`, or sooner when the store reports an append (LISTEN/NOTIFY on PostgreSQL): a waiter sees a
 * result within milliseconds of its commit instead of up to one poll interval later. The timeout stays as the
 * fallback for a missed notification.
 */
function nextAppendOrTimeout(store: EventStore, ms: number): Promise<void> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      off?.();
      resolve();
    };
    const timer = setTimeout(finish, ms);
    // Deferred: a listener called back synchronously must not see `off` before it is assigned.
    const off = store.onHeadMoved?.(() => queueMicrotask(finish));
  });
}

/**
 * Tails the store for events of some types (one campaign), one reader at a time however many callers wait: each
 * refresh reads only what was appended since the last one.
 */
class TypeIndex {
  private position = 0;
  private refreshing: Promise<void> | null = null;

  constructor(
    private readonly store: EventStore,
    private readonly types: string[],
    private readonly campaignId: string | undefined,
    private readonly pageSize: number,
    private readonly onEvent: (e: StoredEvent) => void,
  ) {}

  refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      try {
        for (;;) {
          const page = await this.store.readAll({
            fromPosition: this.position,
            limit: this.pageSize,
            types: this.types,
            campaignId: this.campaignId,
          });
          for (const e of page) {
            this.position = Math.max(this.position, e.position);
            this.onEvent(e);
          }
          if (page.length < this.pageSize) break;
        }
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }
}

function terminalOf(e: StoredEvent): JobTerminal | null {
  if (isEvent(e, JobSucceeded))
    return {
      jobId: e.data.jobId,
      status: 'succeeded',
      exitCode: 0,
      reason: null,
      message: null,
      gpuSeconds: e.data.gpuSeconds,
      wallSeconds: e.data.wallSeconds,
      logTail: e.data.logTail,
    };
  if (isEvent(e, JobFailed))
    return {
      jobId: e.data.jobId,
      status: 'failed',
      exitCode: e.data.exitCode,
      reason: e.data.reason,
      message: e.data.message,
      gpuSeconds: e.data.gpuSeconds,
      wallSeconds: e.data.wallSeconds,
      logTail: e.data.logTail,
    };
  if (isEvent(e, JobCancelled))
    return {
      jobId: e.data.jobId,
      status: 'cancelled',
      exitCode: null,
      reason: e.data.reason,
      message: e.data.reason,
      gpuSeconds: e.data.gpuSeconds,
      wallSeconds: e.data.wallSeconds,
      logTail: e.data.logTail,
    };
  return null;
}

/**
 * Job outcomes as dispatch records them. Production path: the worker's JobRequested (already in the candidate
 * stream) is relayed to dispatch, which dedupes by jobId; this port only watches for the terminal event. One
 * index per process tails the store by type (whatever streams dispatch writes to) and serves every candidate.
 */
export class EventJobPort implements JobPort {
  private readonly terminals = new Map<string, JobTerminal>();
  private readonly index: TypeIndex;

  constructor(
    private readonly store: EventStore,
    private readonly opts: { campaignId?: string; pollMs?: number; pageSize?: number } = {},
  ) {
    this.index = new TypeIndex(store, TERMINAL_TYPES, opts.campaignId, opts.pageSize ?? 1000, (e) => {
      const t = terminalOf(e);
      if (t && !this.terminals.has(t.jobId)) this.terminals.set(t.jobId, t);
    });
  }

  async submit(): Promise<void> {
    // Nothing to do: dispatch consumes the JobRequested event the runtime appended.
  }

  async wait(jobId: string, waitMs: number): Promise<JobTerminal | null> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      await this.index.refresh();
      const t = this.terminals.get(jobId);
      if (t) return t;
      if (Date.now() >= deadline) return null;
      await nextAppendOrTimeout(this.store, Math.min(this.opts.pollMs ?? 1000, Math.max(1, deadline - Date.now())));
    }
  }
}

/** The evaluation service's stream for one request (see libs/contracts events/evaluation.ts). */
export const evaluationStreamId = (campaignId: string, requestId: string): string =>
  `evaluation:${campaignId}:${requestId}`;

/** Folds the evaluation stream of a request; complete once CheckpointSelected or a request-level failure is there. */
export function evaluationResultOf(events: readonly StoredEvent[]): EvaluationResult | null {
  const result: EvaluationResult = { checkpoints: [], selected: null, failures: [] };
  let done = false;
  for (const e of events) {
    if (isEvent(e, CheckpointEvaluated))
      result.checkpoints.push({ checkpoint: e.data.checkpoint, step: e.data.step, seed: e.data.seed, dev: e.data.dev });
    else if (isEvent(e, EvaluationFailed)) {
      if (e.data.checkpoint === null) {
        result.failures.push({ checkpoint: '(request)', reason: `${e.data.kind}: ${e.data.reason}` });
        done = true;
      } else result.failures.push({ checkpoint: e.data.checkpoint, reason: `${e.data.kind}: ${e.data.reason}` });
    } else if (isEvent(e, CheckpointSelected)) {
      result.selected = { checkpoint: e.data.checkpoint, score: e.data.score, criterion: e.data.criterion };
      done = true;
    }
  }
  return done ? result : null;
}

/**
 * Production path for evaluations: EvaluationRequested (in the candidate stream) → the evaluation service. One
 * index per campaign (the worker keeps one port per campaign) collects every evaluation stream's events.
 */
export class EventEvaluationPort implements EvaluationPort {
  private readonly streams = new Map<string, StoredEvent[]>();
  private readonly index: TypeIndex;

  constructor(
    private readonly store: EventStore,
    private readonly campaignId: string,
    private readonly opts: { pollMs?: number; pageSize?: number } = {},
  ) {
    this.index = new TypeIndex(store, EVALUATION_TYPES, campaignId, opts.pageSize ?? 1000, (e) => {
      const list = this.streams.get(e.streamId);
      if (list) list.push(e);
      else this.streams.set(e.streamId, [e]);
    });
  }

  async submit(): Promise<void> {
    // Nothing to do: the evaluation service consumes the EvaluationRequested event.
  }

  async wait(request: EvaluationRequest, waitMs: number): Promise<EvaluationResult | null> {
    const deadline = Date.now() + waitMs;
    const streamId = evaluationStreamId(this.campaignId, request.requestId);
    for (;;) {
      await this.index.refresh();
      const r = evaluationResultOf(this.streams.get(streamId) ?? []);
      if (r) return r;
      if (Date.now() >= deadline) return null;
      await nextAppendOrTimeout(this.store, Math.min(this.opts.pollMs ?? 1000, Math.max(1, deadline - Date.now())));
    }
  }
}
