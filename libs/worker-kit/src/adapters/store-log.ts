import type { EventEnvelope } from '@aevo/contracts';
import {
  ConcurrencyError,
  type AppendOptions,
  type AppendResult,
  type EventStore,
  type ExpectedVersion,
  type ReadAllOptions,
  type StoredEvent,
  type Subscription,
} from '@aevo/eventstore';
import type { CandidateLog } from '../ports';

/** The candidate stream in the event store of record; appends go through `handle()` on `store`. */
export class EventStoreCandidateLog implements CandidateLog {
  private readonly view: CandidateStreamView;

  constructor(store: EventStore, streamId: string) {
    this.view = new CandidateStreamView(store, streamId);
  }

  get streamId(): string {
    return this.view.streamId;
  }

  get store(): EventStore {
    return this.view;
  }

  async read(): Promise<EventEnvelope[]> {
    return (await this.view.refresh()).slice();
  }
}

/**
 * The event store as one replica's trace engine sees it: the candidate stream's events are kept once read, and a
 * read of that stream answers from them without a round trip. That is the optimistic concurrency the store already
 * enforces: `handle()` decides on what the view holds and appends at its version; if anyone appended meanwhile the
 * append fails with ConcurrencyError, the view stops trusting itself and handle's retry reads the new tail. A
 * successful append at the view's version extends it by exactly the appended events, so a step costs the append
 * alone, as before the runtime went through `handle()`. Other streams and methods go straight to the store.
 */
export class CandidateStreamView implements EventStore {
  private events: StoredEvent[] = [];
  /** False until read, and after an append that did not extend the view (a conflict, or any other outcome). */
  private current = false;

  constructor(
    private readonly store: EventStore,
    readonly streamId: string,
  ) {}

  /** Reads what the store holds beyond the view (everything, the first time). */
  async refresh(): Promise<StoredEvent[]> {
    const tail = await this.store.readStream(this.streamId, this.events.length + 1);
    for (const e of tail) if (e.streamVersion === this.events.length + 1) this.events.push(e);
    this.current = true;
    return this.events;
  }

  async readStream(streamId: string, fromVersion = 1): Promise<StoredEvent[]> {
    if (streamId !== this.streamId) return this.store.readStream(streamId, fromVersion);
    if (!this.current) await this.refresh();
    return this.events.slice(Math.max(0, fromVersion - 1));
  }

  async append(
    streamId: string,
    expected: ExpectedVersion,
    events: EventEnvelope[],
    opts?: AppendOptions,
  ): Promise<AppendResult> {
    if (streamId !== this.streamId) return this.store.append(streamId, expected, events, opts);
    const at = expected === 'no-stream' ? 0 : expected;
    let r: AppendResult;
    try {
      r = await this.store.append(streamId, expected, events, opts);
    } catch (err) {
      if (err instanceof ConcurrencyError) this.current = false;
      throw err;
    }
    if (this.current && !r.duplicate && at === this.events.length && r.positions.length === events.length)
      events.forEach((e, i) => this.events.push({ ...e, position: r.positions[i], streamVersion: at + i + 1 }));
    else this.current = false;
    return r;
  }

  readAll(opts?: ReadAllOptions): Promise<StoredEvent[]> {
    return this.store.readAll(opts);
  }

  streamVersion(streamId: string): Promise<number> {
    return this.store.streamVersion(streamId);
  }

  headPosition(): Promise<number> {
    return this.store.headPosition();
  }

  subscribe(
    fromPosition: number,
    handler: (e: StoredEvent) => Promise<void>,
    opts?: { campaignId?: string },
  ): Subscription {
    return this.store.subscribe(fromPosition, handler, opts);
  }

  /** The view does not own the store: closing it closes nothing. */
  async close(): Promise<void> {}
}
