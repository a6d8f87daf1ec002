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
 * Tails the store for events of some types (one campaign), one reader at a time however many callers wait: each
 * refresh reads only what was appended since the last one. While someone waits, the store's append notifications
 * (LISTEN/NOTIFY on PostgreSQL) are counted when they may concern these types — a notification that names only
 * other types is skipped — so a waiter reads again within milliseconds of a relevant commit, and not for the many
 * commits of other services; its timeout stays as the fallback for a missed notification.
 */
class TypeIndex {
  private position = 0;
  private refreshing: Promise<number> | null = null;
  private readonly wanted: ReadonlySet<string>;
  /** Relevant notifications received while someone waits; a refresh records the count it started at. */
  private generation = 0;
  private readonly wakers = new Set<() => void>();
  private waiting = 0;
  private unlisten: (() => void) | null = null;

  constructor(
    private readonly store: EventStore,
    types: string[],
    private readonly campaignId: string | undefined,
    private readonly pageSize: number,
    private readonly onEvent: (e: StoredEvent) => void,
  ) {
    this.wanted = new Set(types);
  }

  /** Runs a waiter's loop with the store's notifications counted (registered before its first refresh). */
  async track<T>(waiter: () => Promise<T>): Promise<T> {
    if (this.waiting++ === 0) this.unlisten = this.store.onHeadMoved?.((_head, types) => this.notified(types)) ?? null;
    try {
      return await waiter();
    } finally {
      if (--this.waiting === 0) {
        this.unlisten?.();
        this.unlisten = null;
      }
    }
  }

  /** Reads what was appended since the last refresh; resolves with the notification count the read started at. */
  refresh(): Promise<number> {
    this.refreshing ??= (async () => {
      const startedAt = this.generation;
      try {
        for (;;) {
          const page = await this.store.readAll({
            fromPosition: this.position,
            limit: this.pageSize,
            types: [...this.wanted],
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
      return startedAt;
    })();
    return this.refreshing;
  }

  /** Resolves once a relevant notification came after count `seen` (perhaps already), or after `ms`. */
  changedSince(seen: number, ms: number): Promise<void> {
    if (this.generation > seen) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakers.add(done);
    });
  }

  private notified(types: ReadonlySet<string> | undefined): void {
    if (types && ![...this.wanted].some((t) => types.has(t))) return;
    this.generation++;
    for (const wake of [...this.wakers]) wake();
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
    return this.index.track(async () => {
      for (;;) {
        const seen = await this.index.refresh();
        const t = this.terminals.get(jobId);
        if (t) return t;
        if (Date.now() >= deadline) return null;
        await this.index.changedSince(seen, Math.min(this.opts.pollMs ?? 1000, Math.max(1, deadline - Date.now())));
      }
    });
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
    return this.index.track(async () => {
      for (;;) {
        const seen = await this.index.refresh();
        const r = evaluationResultOf(this.streams.get(streamId) ?? []);
        if (r) return r;
        if (Date.now() >= deadline) return null;
        await this.index.changedSince(seen, Math.min(this.opts.pollMs ?? 1000, Math.max(1, deadline - Date.now())));
      }
    });
  }
}
