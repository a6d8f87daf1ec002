import {
  BACKWARDS,
  END,
  START,
  streamNameFilter,
  type KurrentDBClient,
  type ResolvedEvent,
} from '@kurrent/kurrentdb-client';
import {
  PositionIndex,
  envelopeFromRecord,
  type AllPosition,
  type ClientRecordedEvent,
  type StreamNames,
} from './mapping';

/**
 * One store instance's follower of `$all` (our streams only, a catch-up subscription filtered on `<ns>:`): it feeds
 * the gap-free PositionIndex in `$all` order and lets callers wait until the index holds what they need.
 */
export class AllStreamTail {
  readonly index = new PositionIndex();
  private readonly waiters = new Set<() => void>();
  private tail: { unsubscribe(): Promise<void> } | null = null;
  private failure: Error | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly client: KurrentDBClient,
    private readonly names: StreamNames,
    /** How long a wait for the index gives up after (ms). */
    private readonly waitMs: number,
  ) {}

  /** Set once a foreign or out-of-order event arrived under our prefix: positions can no longer be trusted. */
  get tailFailure(): Error | null {
    return this.failure;
  }

  /** Follows `$all` from after `from`; on a dropped subscription resumes after the last indexed event. */
  follow(from: AllPosition | null = null): void {
    const sub = this.client.subscribeToAll({
      fromPosition: from ?? START,
      filter: streamNameFilter({ prefixes: [this.names.eventPrefix] }),
    });
    this.tail = sub;
    sub.on('data', (resolved: ResolvedEvent) => {
      const e = resolved.event as ClientRecordedEvent | undefined;
      if (!e || !e.position || this.failure) return;
      try {
        this.index.add(envelopeFromRecord(e), e.revision, e.position);
      } catch (err) {
        this.failure = err as Error;
        void sub.unsubscribe();
      }
      this.notify();
    });
    // Dropped (the server restarted, a network cut: an error) or ended by the server: resume after the last event
    // indexed. The index ignores an event it already holds, so a resumed subscription never counts one twice.
    const resume = () => {
      if (this.closed || this.tail !== sub || this.failure) return;
      this.tail = null;
      this.notify();
      this.restartTimer = setTimeout(() => {
        this.restartTimer = null;
        if (!this.closed) this.follow(this.index.lastAllPosition);
      }, 500);
    };
    sub.on('error', resume);
    sub.on('end', resume);
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Resolves once `check()` holds (re-checked as the tail indexes events); rejects after the wait limit. */
  waitFor(check: () => boolean, what: string): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (check()) return Promise.resolve();
    const ms = this.waitMs;
    return new Promise((resolve, reject) => {
      const done = (err?: Error) => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
        if (err) reject(err);
        else resolve();
      };
      const waiter = () => {
        if (this.failure) done(this.failure);
        else if (this.closed) done(new Error('event store is closed'));
        else if (check()) done();
      };
      const timer = setTimeout(
        () => done(new Error(`timed out after ${ms} ms waiting for the $all index to reach ${what}`)),
        ms,
      );
      this.waiters.add(waiter);
    });
  }

  /** `$all` position of the newest event in our streams (null when there is none): one backwards read. */
  private async newestAllPosition(): Promise<AllPosition | null> {
    for await (const r of this.client.readAll({
      fromPosition: END,
      direction: BACKWARDS,
      maxCount: 1,
      filter: streamNameFilter({ prefixes: [this.names.eventPrefix] }),
    })) {
      const e = r.event as ClientRecordedEvent | undefined;
      if (e?.position) return e.position;
    }
    return null;
  }

  /** Waits until the index holds everything committed before this call. */
  async sync(): Promise<void> {
    const newest = await this.newestAllPosition();
    if (newest) await this.waitFor(() => this.index.reached(newest), `$all ${newest.commit}/${newest.prepare}`);
  }

  /** The positions of these event ids, once the tail has indexed them all. */
  positionsOf(ids: string[]): Promise<number[]> {
    return this.waitFor(
      () => ids.every((id) => this.index.positionOfId(id) !== undefined),
      `events ${ids.join(', ')}`,
    ).then(() => ids.map((id) => this.index.positionOfId(id)!));
  }

  /** Calls `fn` as the tail indexes events (this instance's and every other writer's). */
  onHeadMoved(fn: (head: number | null) => void): () => void {
    let seen = this.index.head;
    const waiter = () => {
      if (this.index.head !== seen) {
        seen = this.index.head;
        fn(seen);
      }
    };
    this.waiters.add(waiter);
    return () => this.waiters.delete(waiter);
  }

  /** First step of closing: no more resumes, and a waiter woken from now on rejects ("event store is closed"). */
  closing(): void {
    this.closed = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
  }

  /** Last step of closing: pending waits reject and the subscription ends. */
  async close(): Promise<void> {
    this.closing();
    this.notify();
    const tail = this.tail;
    this.tail = null;
    await tail?.unsubscribe().catch(() => undefined);
  }
}
