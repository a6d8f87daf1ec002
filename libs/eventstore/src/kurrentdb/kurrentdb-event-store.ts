import { DomainError, type EventEnvelope } from '@aevo/contracts';
import {
  BACKWARDS,
  END,
  NO_STREAM,
  START,
  FORWARDS,
  KurrentDBClient,
  jsonEvent,
  streamNameFilter,
  type ResolvedEvent,
} from '@kurrent/kurrentdb-client';
import {
  GENESIS_CHAIN_HASH,
  chainLink,
  eventContentHash,
  metadataHash,
  verifyChainRows,
  type ChainFinding,
  type ChainLinkRow,
  type ChainReport,
} from '../chain/chain';
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
import {
  PositionIndex,
  envelopeFromRecord,
  envelopeMetadata,
  isWrongExpectedVersion,
  mapAppendError,
  streamNames,
  toStreamState,
  type AllPosition,
  type ClientRecordedEvent,
  type StreamNames,
} from './mapping';

export interface KurrentDbEventStoreOptions {
  /** `kurrentdb://host:port?tls=false` (or `esdb://…`): the client's connection string. */
  connectionString: string;
  /** Prefix of every stream this store writes (default `aevo`): events in `<ns>:<streamId>`, commands in `<ns>-command:<sha256>`. */
  namespace?: string;
  /** How long an append or read waits for the `$all` tail to index what it needs (default 30 s). */
  indexWaitMs?: number;
  /** Page size of subscription catch-up reads from the index (default 500). */
  subscriptionPageSize?: number;
  /** Fallback poll of subscriptions (default 1000 ms; the tail wakes them as events arrive). */
  pollIntervalMs?: number;
  maxEventBytes?: number;
}

/** Records in a command's stream (`<ns>-command:<sha256(commandId)>`), in order: Reserved, then Completed or Released. */
const RESERVED = 'AevoCommandReserved';
const COMPLETED = 'AevoCommandCompleted';
const RELEASED = 'AevoCommandReleased';
/** Events of the chain stream (`<ns>-chain`). */
const CHAIN_LINK = 'AevoChainLink';

interface Reservation {
  commandId: string;
  streamId: string;
  expected: ExpectedVersion;
  events: EventEnvelope[];
  commandResult?: unknown;
}
interface Completion {
  nextExpectedVersion: number;
  eventIds: string[];
}
type CommandRecord =
  | { type: typeof RESERVED; revision: bigint; data: Reservation }
  | { type: typeof COMPLETED; revision: bigint; data: Completion; reservation: Reservation }
  | { type: typeof RELEASED; revision: bigint };

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
  private readonly index = new PositionIndex();
  private readonly waiters = new Set<() => void>();
  private readonly subscriptions = new Set<PollingSubscription>();
  private readonly inFlightIds = new Map<string, Promise<unknown>>();
  private tail: { unsubscribe(): Promise<void> } | null = null;
  private tailFailure: Error | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private closed = false;
  /** How many positions `<ns>-chain` links (as far as this instance knows) and the last link's hash. */
  private readonly chain = { linked: 0, lastHash: GENESIS_CHAIN_HASH };
  private chaining: Promise<void> | null = null;

  private constructor(
    readonly client: KurrentDBClient,
    private readonly options: KurrentDbEventStoreOptions,
  ) {
    this.names = streamNames(options.namespace ?? 'aevo');
  }

  /** Connects, starts following `$all` and waits until the index has caught up with the head. */
  static async open(options: KurrentDbEventStoreOptions): Promise<KurrentDbEventStore> {
    const client = KurrentDBClient.connectionString(options.connectionString);
    const store = new KurrentDbEventStore(client, options);
    try {
      store.followAll(null);
      await store.sync();
      await store.adoptLinks(0);
    } catch (err) {
      await store.close().catch(() => undefined);
      const where = options.connectionString.replace(/\/\/[^@/]*@/, '//***@');
      throw new Error(
        `KurrentDB at ${where} could not be read: ${(err as Error)?.name ?? 'Error'}: ${(err as Error)?.message ?? String(err)}`,
        { cause: err },
      );
    }
    return store;
  }

  /** Follows `$all` (our streams only) from after `from`; on a dropped subscription resumes after the last indexed event. */
  private followAll(from: AllPosition | null): void {
    const sub = this.client.subscribeToAll({
      fromPosition: from ?? START,
      filter: streamNameFilter({ prefixes: [this.names.eventPrefix] }),
    });
    this.tail = sub;
    sub.on('data', (resolved: ResolvedEvent) => {
      const e = resolved.event as ClientRecordedEvent | undefined;
      if (!e || !e.position || this.tailFailure) return;
      try {
        this.index.add(envelopeFromRecord(e), e.revision, e.position);
      } catch (err) {
        // A foreign or out-of-order event under our prefix: positions can no longer be trusted.
        this.tailFailure = err as Error;
        void sub.unsubscribe();
      }
      this.notify();
    });
    // Dropped (the server restarted, a network cut: an error) or ended by the server: resume after the last event
    // indexed. The index ignores an event it already holds, so a resumed subscription never counts one twice.
    const resume = () => {
      if (this.closed || this.tail !== sub || this.tailFailure) return;
      this.tail = null;
      this.notify();
      this.restartTimer = setTimeout(() => {
        this.restartTimer = null;
        if (!this.closed) this.followAll(this.index.lastAllPosition);
      }, 500);
    };
    sub.on('error', resume);
    sub.on('end', resume);
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Resolves once `check()` holds (re-checked as the tail indexes events); rejects after indexWaitMs. */
  private waitFor(check: () => boolean, what: string): Promise<void> {
    if (this.tailFailure) return Promise.reject(this.tailFailure);
    if (check()) return Promise.resolve();
    const ms = this.options.indexWaitMs ?? 30_000;
    return new Promise((resolve, reject) => {
      const done = (err?: Error) => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
        if (err) reject(err);
        else resolve();
      };
      const waiter = () => {
        if (this.tailFailure) done(this.tailFailure);
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
  private async sync(): Promise<void> {
    const newest = await this.newestAllPosition();
    if (newest) await this.waitFor(() => this.index.reached(newest), `$all ${newest.commit}/${newest.prepare}`);
  }

  private positionsOf(ids: string[]): Promise<number[]> {
    return this.waitFor(
      () => ids.every((id) => this.index.positionOfId(id) !== undefined),
      `events ${ids.join(', ')}`,
    ).then(() => ids.map((id) => this.index.positionOfId(id)!));
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
    if (commandId === null) return this.withIdsReserved(valid, () => this.writeEvents(streamId, expected, valid, null));
    return this.appendCommand({
      commandId,
      streamId,
      expected,
      events: valid,
      ...(opts?.commandResult !== undefined ? { commandResult: opts.commandResult } : {}),
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

  /** Appends to the KurrentDB stream and waits for the index to give the events their positions. */
  private async writeEvents(
    streamId: string,
    expected: ExpectedVersion,
    events: EventEnvelope[],
    commandId: string | null,
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
            metadata: envelopeMetadata(e, commandId) as never,
          }),
        ),
        { streamState: toStreamState(expected) },
      );
      nextRevision = res.nextExpectedRevision;
    } catch (err) {
      throw mapAppendError(err, streamId, expected);
    }
    const positions = events.length > 0 ? await this.positionsOf(events.map((e) => e.id)) : [];
    if (events.length > 0) await this.extendChain();
    // An empty append answers with the stream's state; a stream that does not exist is at version 0.
    const nextExpectedVersion = events.length > 0 ? Number(nextRevision) + 1 : await this.streamVersion(streamId);
    return { streamId, nextExpectedVersion, positions, duplicate: false };
  }

  private async appendCommand(r: Reservation): Promise<AppendResult> {
    const stream = this.names.command(r.commandId);
    for (;;) {
      const records = await this.readCommandRecords(stream);
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
    try {
      result = mine
        ? await this.withIdsReserved(r.events, () => this.writeEvents(r.streamId, r.expected, r.events, r.commandId))
        : await this.writeEvents(r.streamId, r.expected, r.events, r.commandId);
    } catch (err) {
      // A refusal (conflict, duplicate id) ends this attempt: released, so a retry decides afresh. Anything else (the
      // server is away) leaves the reservation for a retry to complete.
      if (err instanceof DomainError)
        await this.recordCommand(
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
    await this.recordCommand(stream, COMPLETED, completion, reservedAt);
    return this.outcome(r, completion, !mine);
  }

  /** Writes the record right after the reservation; losing that race to another completer is fine (same outcome). */
  private async recordCommand(stream: string, type: string, data: unknown, reservedAt: bigint): Promise<void> {
    try {
      await this.client.appendToStream(stream, jsonEvent({ type, data: data as never }), { streamState: reservedAt });
    } catch (err) {
      if (!isWrongExpectedVersion(err)) throw err;
    }
  }

  private async outcome(r: Reservation, c: Completion, duplicate: boolean): Promise<AppendResult> {
    const positions = c.eventIds.length > 0 ? await this.positionsOf(c.eventIds) : [];
    const result: AppendResult = {
      streamId: r.streamId,
      nextExpectedVersion: c.nextExpectedVersion,
      positions,
      duplicate,
    };
    if (r.commandResult !== undefined) result.commandResult = r.commandResult;
    return result;
  }

  private async readCommandRecords(stream: string): Promise<CommandRecord[]> {
    const out: CommandRecord[] = [];
    let reservation: Reservation | null = null;
    try {
      for await (const resolved of this.client.readStream(stream, { fromRevision: START, direction: FORWARDS })) {
        const e = resolved.event as ClientRecordedEvent | undefined;
        if (!e) continue;
        if (e.type === RESERVED) {
          reservation = e.data as Reservation;
          out.push({ type: RESERVED, revision: e.revision, data: reservation });
        } else if (e.type === COMPLETED && reservation)
          out.push({ type: COMPLETED, revision: e.revision, data: e.data as Completion, reservation });
        else if (e.type === RELEASED) out.push({ type: RELEASED, revision: e.revision });
      }
    } catch (err) {
      if ((err as { type?: string })?.type === 'stream-not-found' || (err as Error)?.name === 'StreamNotFoundError')
        return [];
      throw err;
    }
    return out;
  }

  async commandOutcome(commandId: string): Promise<AppendResult | null> {
    this.assertOpen();
    const records = await this.readCommandRecords(this.names.command(commandId));
    const last = records[records.length - 1];
    return last?.type === COMPLETED ? this.outcome(last.reservation, last.data, true) : null;
  }

  async readStream(streamId: string, fromVersion = 1): Promise<StoredEvent[]> {
    this.assertOpen();
    validatePosition('fromVersion', fromVersion);
    await this.sync();
    return this.index.readStream(streamId, fromVersion);
  }

  async readAll(opts: ReadAllOptions = {}): Promise<StoredEvent[]> {
    this.assertOpen();
    validateReadAll(opts);
    await this.sync();
    return this.index.readAll(opts.fromPosition ?? 0, opts);
  }

  async streamVersion(streamId: string): Promise<number> {
    this.assertOpen();
    await this.sync();
    return this.index.streamVersion(streamId);
  }

  async headPosition(): Promise<number> {
    this.assertOpen();
    await this.sync();
    return this.index.head;
  }

  /** Content hashes are computed from the events as stored (KurrentDB keeps no column for them). */
  async lookupStoredEvents(eventIds: readonly string[]): Promise<Map<string, StoredEventLink>> {
    this.assertOpen();
    const out = new Map<string, StoredEventLink>();
    if (eventIds.length === 0) return out;
    await this.sync();
    for (const id of new Set(eventIds)) {
      const p = this.index.positionOfId(id);
      if (p === undefined) continue;
      const e = this.index.at(p);
      out.set(id, { position: e.position, streamVersion: e.streamVersion, contentHash: eventContentHash(e) });
    }
    return out;
  }

  /**
   * Links every indexed position not yet chained, in one append to `<ns>-chain` whose expected revision is the last
   * link: of two instances extending at once one wins and the other adopts its links and goes on from there. So
   * the chain follows `$all` order with no gap and is written after the events, not with them (KurrentDB has no
   * atomic write across streams): an append returns once its events are chained; one whose writer died before
   * that is chained by the next append of any instance, and verifyChain reports it unchained meanwhile.
   */
  private extendChain(): Promise<void> {
    const run = (this.chaining ?? Promise.resolve()).then(() => this.extendChainNow());
    const settled = run.catch(() => undefined);
    this.chaining = settled;
    void settled.finally(() => {
      if (this.chaining === settled) this.chaining = null;
    });
    return run;
  }

  private async extendChainNow(): Promise<void> {
    for (;;) {
      const from = this.chain.linked;
      const upTo = this.index.head;
      if (from >= upTo) return;
      let previous = this.chain.lastHash;
      const links: ChainLinkRow[] = [];
      for (let p = from + 1; p <= upTo; p++) {
        const e = this.index.at(p);
        const commandId = this.index.commandIdAt(p);
        const contentHash = eventContentHash(e);
        const chainHash = chainLink(
          previous,
          p,
          e.streamVersion,
          contentHash,
          metadataHash(commandId !== null ? { commandId } : {}),
        );
        links.push({ position: p, id: e.id, contentHash, chainHash });
        previous = chainHash;
      }
      try {
        await this.client.appendToStream(
          this.names.chain,
          links.map((l) => jsonEvent({ type: CHAIN_LINK, data: l as never })),
          { streamState: from === 0 ? NO_STREAM : BigInt(from - 1) },
        );
        this.chain.linked = upTo;
        this.chain.lastHash = previous;
        return;
      } catch (err) {
        if (!isWrongExpectedVersion(err)) throw err;
        await this.adoptLinks(from);
      }
    }
  }

  /** Moves this instance's chain state past the links others stored after `from` (paged: the chain can be long). */
  private async adoptLinks(from: number): Promise<void> {
    for (let after = from; ;) {
      const page = await this.readChainStream(after, 5000);
      if (page.length === 0) return;
      const last = page[page.length - 1];
      this.chain.linked = last.position;
      this.chain.lastHash = last.chainHash ?? this.chain.lastHash;
      after = last.position;
    }
  }

  /** Links stored at positions after `fromPosition`, at most `limit`, read from the server. */
  private async readChainStream(fromPosition: number, limit: number): Promise<ChainLinkRow[]> {
    const out: ChainLinkRow[] = [];
    try {
      for await (const r of this.client.readStream(this.names.chain, {
        fromRevision: BigInt(fromPosition),
        direction: FORWARDS,
        maxCount: limit,
      })) {
        const d = r.event?.data as Partial<ChainLinkRow> | undefined;
        out.push({
          position: Number(r.event!.revision) + 1,
          id: String(d?.id ?? ''),
          contentHash: d?.contentHash ?? null,
          chainHash: d?.chainHash ?? null,
        });
      }
    } catch (err) {
      if ((err as Error)?.name === 'StreamNotFoundError' || (err as { type?: string })?.type === 'stream-not-found')
        return [];
      throw err;
    }
    return out;
  }

  /** Position, event id and the recorded hashes after `fromPosition`, as stored in `<ns>-chain`. */
  async readChainLinks(fromPosition: number, limit: number): Promise<ChainLinkRow[]> {
    this.assertOpen();
    validatePosition('fromPosition', fromPosition);
    return this.readChainStream(fromPosition, limit);
  }

  /**
   * Recomputes the chain over positions 1..toPosition (default: the head) from the events as this instance's index
   * holds them and compares it with the links stored in `<ns>-chain` (read afresh from the server). A deleted or
   * rewritten stream shifts or changes what is at a position, which no longer matches its link.
   */
  async verifyChain(opts: { toPosition?: number } = {}): Promise<ChainReport> {
    this.assertOpen();
    await this.sync();
    const upTo = Math.min(opts.toPosition ?? this.index.head, this.index.head);
    const stored = await this.readChainStream(0, upTo);
    const findings: ChainFinding[] = [];
    const state = { previous: GENESIS_CHAIN_HASH, nextPosition: 1 };
    const rows = [];
    for (let p = 1; p <= upTo; p++) {
      const event = this.index.at(p);
      const commandId = this.index.commandIdAt(p);
      const link = stored[p - 1];
      if (link && link.id !== event.id)
        findings.push({
          position: p,
          reason: `position ${p} holds event ${event.id} but its chain link was written for ${link.id}`,
        });
      rows.push({
        event,
        metadata: commandId !== null ? { commandId } : {},
        contentHash: link?.contentHash ?? null,
        chainHash: link?.chainHash ?? null,
      });
    }
    verifyChainRows(rows, state, findings);
    if (opts.toPosition !== undefined && opts.toPosition > upTo)
      findings.push({ position: upTo + 1, reason: `positions ${upTo + 1}..${opts.toPosition} are missing` });
    findings.sort((a, b) => a.position - b.position);
    return { checked: rows.length, upTo: opts.toPosition ?? upTo, retroactiveThrough: 0, chainedAt: null, findings };
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
        if (this.tailFailure) throw this.tailFailure;
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
    if (this.tailFailure) throw this.tailFailure;
    return this.index.readAll(after, { limit });
  }

  /** Calls `fn` as the `$all` tail indexes events (this instance's and every other writer's). */
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

  private assertOpen(): void {
    if (this.closed) throw new Error('event store is closed');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    await Promise.allSettled([...this.inFlightIds.values()]);
    await this.chaining;
    this.notify();
    const tail = this.tail;
    this.tail = null;
    await tail?.unsubscribe().catch(() => undefined);
    await this.client.dispose();
  }
}
