import { DomainError, type EventEnvelope } from '@aevo/contracts';
import { NO_STREAM, KurrentDBClient, jsonEvent } from '@kurrent/kurrentdb-client';
import { eventContentHash, type ChainLinkRow, type ChainReport } from '../chain/chain';
import { PollingSubscription } from '../polling-subscription';
import {
  ConcurrencyError,
  type AppendOptions,
  type AppendResult,
  type EventStore,
  type ExpectedVersion,
  type ReadAllOptions,
  type StoredEvent,
  type StoredEventLink,
  type Subscription,
} from '../port';
import { validateAppend, validatePosition, validateReadAll } from '../validation';
import { AllStreamTail } from './all-tail';
import { KurrentDbChain } from './chain-stream';
import {
  COMPLETED,
  RELEASED,
  RESERVED,
  readCommandRecords,
  recordCommand,
  type Completion,
  type Reservation,
} from './command-records';
import {
  envelopeMetadata,
  isWrongExpectedVersion,
  mapAppendError,
  streamNames,
  toStreamState,
  type StreamNames,
  type TraceContext,
} from './mapping';

export interface KurrentDbEventStoreOptions {
  /** `kurrentdb://host:port?tls=false` (or `esdb://…`): the client's connection string. */
  connectionString: string;
  /**
   * Prefix of every stream this store writes (default `aevo`): events in `<ns>:<streamId>`, commands in
   * `<ns>-command:<sha256>`.
   */
  namespace?: string;
  /** How long an append or read waits for the `$all` tail to index what it needs (default 30 s). */
  indexWaitMs?: number;
  /** Page size of subscription catch-up reads from the index (default 500). */
  subscriptionPageSize?: number;
  /** Fallback poll of subscriptions (default 1000 ms; the tail wakes them as events arrive). */
  pollIntervalMs?: number;
  maxEventBytes?: number;
}

/**
 * The EventStore port on KurrentDB, through the official client (`@kurrent/kurrentdb-client`).
 *
 * - Each of our streams is a KurrentDB stream (`<ns>:<streamId>`); appends use KurrentDB's own optimistic
 *   concurrency (our version v is revision v − 1; 'no-stream' is NO_STREAM) and its WrongExpectedVersion becomes our
 *   ConcurrencyError with the stream's actual version. Envelope fields ride in the event metadata; `data` is the data.
 * - Our gap-free position is the event's ordinal among this store's events in `$all` (see PositionIndex). Each
 *   instance keeps that index by following `$all` (a catch-up subscription filtered on `<ns>:`), and answers reads
 *   from it once it has caught up with the head (one backwards `$all` read per query). Cost: every instance holds
 *   the whole log in memory and reads it all when it opens; an append returns once the tail has indexed it.
 * - A commandId is a stream of its own (`<ns>-command:<sha256>`), written with NO_STREAM: of concurrent retries,
 *   exactly one reserves the command (the reservation carries the events and expected version), appends the events
 *   and records the outcome. A retry that finds a reservation without an outcome (its owner died or is still at it)
 *   completes it itself: re-appending the same event ids after the same revision is a no-op success on KurrentDB
 *   (its event-id idempotency), so the events are written once either way. Cost: two extra writes per command.
 * - Event ids are unique per store as far as this instance's index sees: a duplicate of an indexed id is refused,
 *   but two instances racing one *new* id into different streams can both succeed (KurrentDB checks ids per stream).
 */
export class KurrentDbEventStore implements EventStore {
  readonly names: StreamNames;
  private readonly tail: AllStreamTail;
  private readonly chain: KurrentDbChain;
  private readonly subscriptions = new Set<PollingSubscription>();
  private readonly inFlightIds = new Map<string, Promise<unknown>>();
  private closed = false;

  private constructor(
    readonly client: KurrentDBClient,
    private readonly options: KurrentDbEventStoreOptions,
  ) {
    this.names = streamNames(options.namespace ?? 'aevo');
    this.tail = new AllStreamTail(client, this.names, options.indexWaitMs ?? 30_000);
    this.chain = new KurrentDbChain(client, this.names, this.tail.index);
  }

  /** Connects, starts following `$all` and waits until the index has caught up with the head. */
  static async open(options: KurrentDbEventStoreOptions): Promise<KurrentDbEventStore> {
    const client = KurrentDBClient.connectionString(options.connectionString);
    const store = new KurrentDbEventStore(client, options);
    try {
      store.tail.follow(null);
      await store.tail.sync();
      await store.chain.adoptLinks(0);
    } catch (err) {
      await store.close().catch(() => undefined);
      const where = options.connectionString.replace(/\/\/[^@/]*@/, '//***@');
      throw new Error(
        `KurrentDB at ${where} could not be read: ${(err as Error)?.name ?? 'Error'}: ` +
          `${(err as Error)?.message ?? String(err)}`,
        { cause: err },
      );
    }
    return store;
  }

  private get index() {
    return this.tail.index;
  }

  async append(
    streamId: string,
    expected: ExpectedVersion,
    events: EventEnvelope[],
    opts?: AppendOptions,
  ): Promise<AppendResult> {
    this.assertOpen();
    const valid = validateAppend(streamId, expected, events, opts, this.options.maxEventBytes);
    const commandId = opts?.commandId ?? null;
    const trace = opts?.traceContext ?? null;
    if (commandId === null)
      return this.withIdsReserved(valid, () => this.writeEvents(streamId, expected, valid, null, trace));
    return this.appendCommand({
      commandId,
      streamId,
      expected,
      events: valid,
      ...(opts?.commandResult !== undefined ? { commandResult: opts.commandResult } : {}),
      ...(trace ? { traceContext: trace } : {}),
    });
  }

  /** Refuses ids already indexed, and runs one append at a time per event id within this instance. */
  private async withIdsReserved<T>(events: EventEnvelope[], fn: () => Promise<T>): Promise<T> {
    for (;;) {
      const busy = events.map((e) => this.inFlightIds.get(e.id)).filter((p): p is Promise<unknown> => p !== undefined);
      if (busy.length === 0) break;
      await Promise.allSettled(busy);
    }
    this.refuseStoredIds(events);
    const run = fn();
    const settled = run.catch(() => undefined);
    for (const e of events) this.inFlightIds.set(e.id, settled);
    try {
      return await run;
    } finally {
      for (const e of events) if (this.inFlightIds.get(e.id) === settled) this.inFlightIds.delete(e.id);
    }
  }

  private refuseStoredIds(events: EventEnvelope[]): void {
    const stored = events.findIndex((e) => this.index.positionOfId(e.id) !== undefined);
    if (stored >= 0)
      throw new DomainError('DUPLICATE_EVENT_ID', `event ${events[stored].id} is already stored`, [
        { path: `events.${stored}.id`, message: 'event ids must be unique' },
      ]);
  }

  /**
   * Appends to the KurrentDB stream (the command id and trace context in each event's metadata, as PostgreSQL
   * records them with the append) and waits for the index to give the events their positions.
   */
  private async writeEvents(
    streamId: string,
    expected: ExpectedVersion,
    events: EventEnvelope[],
    commandId: string | null,
    trace: TraceContext | null,
  ): Promise<AppendResult> {
    let nextRevision: bigint;
    try {
      const res = await this.client.appendToStream(
        this.names.event(streamId),
        events.map((e) =>
          jsonEvent({
            id: e.id,
            type: e.type,
            data: (e.data ?? null) as never,
            metadata: envelopeMetadata(e, commandId, trace) as never,
          }),
        ),
        { streamState: toStreamState(expected) },
      );
      nextRevision = res.nextExpectedRevision;
    } catch (err) {
      throw mapAppendError(err, streamId, expected);
    }
    const positions = events.length > 0 ? await this.tail.positionsOf(events.map((e) => e.id)) : [];
    if (events.length > 0) await this.chain.extend();
    // An empty append answers with the stream's state; a stream that does not exist is at version 0.
    const nextExpectedVersion = events.length > 0 ? Number(nextRevision) + 1 : await this.streamVersion(streamId);
    return { streamId, nextExpectedVersion, positions, duplicate: false };
  }

  private async appendCommand(r: Reservation): Promise<AppendResult> {
    const stream = this.names.command(r.commandId);
    for (;;) {
      const records = await readCommandRecords(this.client, stream);
      const last = records[records.length - 1];
      if (last?.type === COMPLETED) return this.outcome(last.reservation, last.data, true);
      if (last?.type === RESERVED) {
        // Someone reserved it and has not recorded an outcome: finish their append (idempotent), then look again.
        await this.complete(stream, last.data, last.revision, false).catch((err) => {
          if (!(err instanceof DomainError)) throw err;
        });
        continue;
      }
      // Refused before anything is written, so a reservation never carries an id that is already stored.
      this.refuseStoredIds(r.events);
      try {
        await this.client.appendToStream(stream, jsonEvent({ type: RESERVED, data: r as never }), {
          streamState: last ? last.revision : NO_STREAM,
        });
      } catch (err) {
        if (isWrongExpectedVersion(err)) continue; // a concurrent retry reserved it first
        throw err;
      }
      return this.complete(stream, r, last ? last.revision + 1n : 0n, true);
    }
  }

  /** Appends a reservation's events and records the outcome after it (Completed, or Released on a conflict). */
  private async complete(stream: string, r: Reservation, reservedAt: bigint, mine: boolean): Promise<AppendResult> {
    let result: AppendResult;
    const write = () => this.writeEvents(r.streamId, r.expected, r.events, r.commandId, r.traceContext ?? null);
    try {
      result = mine ? await this.withIdsReserved(r.events, write) : await write();
    } catch (err) {
      // A refusal (conflict, duplicate id) ends this attempt: released, so a retry decides afresh. Anything else (the
      // server is away) leaves the reservation for a retry to complete.
      if (err instanceof DomainError)
        await recordCommand(
          this.client,
          stream,
          RELEASED,
          { code: err.code, ...(err instanceof ConcurrencyError ? { actual: err.actual } : {}) },
          reservedAt,
        );
      throw err;
    }
    const completion: Completion = {
      nextExpectedVersion: result.nextExpectedVersion,
      eventIds: r.events.map((e) => e.id),
    };
    await recordCommand(this.client, stream, COMPLETED, completion, reservedAt);
    return this.outcome(r, completion, !mine);
  }

  private async outcome(r: Reservation, c: Completion, duplicate: boolean): Promise<AppendResult> {
    const positions = c.eventIds.length > 0 ? await this.tail.positionsOf(c.eventIds) : [];
    const result: AppendResult = {
      streamId: r.streamId,
      nextExpectedVersion: c.nextExpectedVersion,
      positions,
      duplicate,
    };
    if (r.commandResult !== undefined) result.commandResult = r.commandResult;
    return result;
  }

  async commandOutcome(commandId: string): Promise<AppendResult | null> {
    this.assertOpen();
    const records = await readCommandRecords(this.client, this.names.command(commandId));
    const last = records[records.length - 1];
    return last?.type === COMPLETED ? this.outcome(last.reservation, last.data, true) : null;
  }

  async readStream(streamId: string, fromVersion = 1): Promise<StoredEvent[]> {
    this.assertOpen();
    validatePosition('fromVersion', fromVersion);
    await this.tail.sync();
    return this.index.readStream(streamId, fromVersion);
  }

  async readAll(opts: ReadAllOptions = {}): Promise<StoredEvent[]> {
    this.assertOpen();
    validateReadAll(opts);
    await this.tail.sync();
    return this.index.readAll(opts.fromPosition ?? 0, opts);
  }

  async streamVersion(streamId: string): Promise<number> {
    this.assertOpen();
    await this.tail.sync();
    return this.index.streamVersion(streamId);
  }

  async headPosition(): Promise<number> {
    this.assertOpen();
    await this.tail.sync();
    return this.index.head;
  }

  /** Content hashes are computed from the events as stored (KurrentDB keeps no column for them). */
  async lookupStoredEvents(eventIds: readonly string[]): Promise<Map<string, StoredEventLink>> {
    this.assertOpen();
    const out = new Map<string, StoredEventLink>();
    if (eventIds.length === 0) return out;
    await this.tail.sync();
    for (const id of new Set(eventIds)) {
      const p = this.index.positionOfId(id);
      if (p === undefined) continue;
      const e = this.index.at(p);
      out.set(id, { position: e.position, streamVersion: e.streamVersion, contentHash: eventContentHash(e) });
    }
    return out;
  }

  /** Position, event id and the recorded hashes after `fromPosition`, as stored in `<ns>-chain`. */
  async readChainLinks(fromPosition: number, limit: number): Promise<ChainLinkRow[]> {
    this.assertOpen();
    validatePosition('fromPosition', fromPosition);
    return this.chain.readLinks(fromPosition, limit);
  }

  /**
   * Recomputes the chain over positions 1..toPosition (default: the head) and compares it with `<ns>-chain`
   * (KurrentDbChain.verify).
   */
  async verifyChain(opts: { toPosition?: number } = {}): Promise<ChainReport> {
    this.assertOpen();
    await this.tail.sync();
    return this.chain.verify(opts);
  }

  subscribe(
    fromPosition: number,
    handler: (e: StoredEvent) => Promise<void>,
    opts: { campaignId?: string; types?: string[] } = {},
  ): Subscription {
    this.assertOpen();
    validatePosition('fromPosition', fromPosition);
    const sub = new PollingSubscription({
      fromPosition,
      handler,
      pageSize: this.options.subscriptionPageSize ?? 500,
      pollIntervalMs: this.options.pollIntervalMs ?? 1000,
      // The index only grows in `$all` order, so "after the last one seen" never skips an event.
      readPage: async (after, limit) => {
        if (this.tail.tailFailure) throw this.tail.tailFailure;
        return this.index.readAll(after, { limit, campaignId: opts.campaignId, types: opts.types });
      },
      onWake: (fn) => this.onHeadMoved(() => fn()),
    });
    this.subscriptions.add(sub);
    void sub.done.catch(() => undefined).finally(() => this.subscriptions.delete(sub));
    return sub;
  }

  /**
   * Up to `limit` events after `after` as far as this instance's `$all` tail has indexed them, with no server round
   * trip (for a follower such as the relay, woken by onHeadMoved; readAll is the call that sees the head).
   */
  readIndexed(after: number, limit: number): StoredEvent[] {
    this.assertOpen();
    if (this.tail.tailFailure) throw this.tail.tailFailure;
    return this.index.readAll(after, { limit });
  }

  /** The W3C trace context the event at an indexed position was appended with (null when none): the relay's headers. */
  traceContextAt(position: number): TraceContext | null {
    return this.index.traceContextAt(position);
  }

  /** Calls `fn` as the `$all` tail indexes events (this instance's and every other writer's). */
  onHeadMoved(fn: (head: number | null) => void): () => void {
    return this.tail.onHeadMoved(fn);
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('event store is closed');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.tail.closing();
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    await Promise.allSettled([...this.inFlightIds.values()]);
    await this.chain.settled();
    await this.tail.close();
    await this.client.dispose();
  }
}
