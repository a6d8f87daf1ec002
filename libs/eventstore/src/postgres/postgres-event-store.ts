import { DomainError, type EventEnvelope } from '@aevo/contracts';
import { Pool, type PoolConfig } from 'pg';
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
import { PollingSubscription } from '../polling-subscription';
import { expectedVersionNumber, validateAppend, validatePosition, validateReadAll } from '../validation';
import { HeadNotifier } from './notifier';
import {
  GENESIS_CHAIN_HASH,
  eventContentHash,
  metadataHash,
  verifyChainRows,
  type ChainFinding,
  type ChainLinkRow,
  type ChainReport,
} from '../chain/chain';
import { EVENT_COLUMNS, rowToStoredEvent, type EventRow } from './rows';

export { EVENT_COLUMNS, rowToStoredEvent } from './rows';
import { migrateEventStoreSchema, schemaNames, SQLSTATE_APPEND_ONLY, type SchemaNames } from './schema';

export interface PostgresEventStoreOptions {
  connectionString: string;
  /** PostgreSQL schema holding the tables (default `aevo`). */
  schema?: string;
  /** Maximum pool connections (default 10); subscriptions share one extra LISTEN connection. */
  poolSize?: number;
  /** Fallback poll of subscriptions when no NOTIFY arrives (default 1000 ms). */
  pollIntervalMs?: number;
  /** Page size of subscription catch-up reads (default 500). */
  subscriptionPageSize?: number;
  /** Largest accepted event, as JSON (default 900 KiB, so that it still fits one NATS message when relayed). */
  maxEventBytes?: number;
  /** Name reported in pg_stat_activity. */
  applicationName?: string;
}

interface GroupItem {
  stream: string;
  expected: number;
  commandId: string | null;
  commandResult?: unknown;
  events: EventEnvelope[];
  metadata: Record<string, unknown>;
  /** Per event, see chain/chain.ts; append_group links them under the append lock. */
  contentHashes: string[];
  metadataHash: string;
}

type GroupAnswer =
  { ok: AppendResult } | { error: 'concurrency'; actual: number } | { error: 'duplicate_event_id'; eventId: string };

interface PendingAppend {
  item: GroupItem;
  expected: ExpectedVersion;
  weight: number;
  resolve(r: AppendResult): void;
  reject(e: unknown): void;
}

/** Bound on one group commit: events plus one per append. */
const MAX_GROUP_WEIGHT = 2000;

/** Event ids as PostgreSQL renders a uuid. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The store of record on PostgreSQL: one append-only `events` table (the transactional outbox too), a `commands`
 * table for idempotency, both written by one function call per append. See schema.ts for why appends are
 * serialised.
 */
export class PostgresEventStore implements EventStore {
  readonly names: SchemaNames;
  readonly pool: Pool;
  private readonly notifier: HeadNotifier;
  private readonly subscriptions = new Set<PollingSubscription>();
  private closed = false;
  private readonly appendQueue: PendingAppend[] = [];
  private appending: Promise<void> | null = null;

  private constructor(readonly options: PostgresEventStoreOptions) {
    this.names = schemaNames(options.schema ?? 'aevo');
    const base: PoolConfig = {
      connectionString: options.connectionString,
      application_name: options.applicationName ?? 'aevo-eventstore',
    };
    this.pool = new Pool({ ...base, max: options.poolSize ?? 10 });
    // An idle client that loses its connection emits here; the pool replaces it, queries retry at the caller.
    this.pool.on('error', () => undefined);
    this.notifier = new HeadNotifier(
      { ...base, application_name: `${base.application_name}-listen` },
      this.names.channel,
    );
  }

  /** Connects and brings the schema up to date (idempotent, safe with concurrent starters). */
  static async open(options: PostgresEventStoreOptions): Promise<PostgresEventStore> {
    const store = new PostgresEventStore(options);
    try {
      await store.migrate();
    } catch (err) {
      await store.pool.end().catch(() => undefined);
      throw err;
    }
    return store;
  }

  async migrate(): Promise<number[]> {
    const client = await this.pool.connect();
    try {
      return await migrateEventStoreSchema(client, this.names);
    } finally {
      client.release();
    }
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
    const trace = opts?.traceContext;
    // Observability only: the relay copies it onto the NATS headers (traceparent, tracestate).
    const metadata = {
      ...(commandId !== null ? { commandId } : {}),
      ...(trace
        ? { traceparent: trace.traceparent, ...(trace.tracestate ? { tracestate: trace.tracestate } : {}) }
        : {}),
    };
    const item: GroupItem = {
      stream: streamId,
      expected: expectedVersionNumber(expected),
      commandId,
      events: valid,
      metadata,
      // Hashed here, outside the serialised section: only the cheap link is computed under the lock.
      contentHashes: valid.map(eventContentHash),
      metadataHash: metadataHash(metadata),
    };
    if (commandId !== null && opts?.commandResult !== undefined) item.commandResult = opts.commandResult;
    return new Promise<AppendResult>((resolve, reject) => {
      this.appendQueue.push({ item, expected, resolve, reject, weight: valid.length + 1 });
      this.kickAppends();
    });
  }

  /**
   * Group commit: appends requested while one transaction is in flight are sent together as the next one. Appends
   * are serialised by the database anyway; this lets one commit (one WAL flush) serve many of them. A lone append
   * is sent at once, so latency does not grow.
   */
  private kickAppends(): void {
    if (this.appending || this.appendQueue.length === 0) return;
    this.appending = this.drainAppends().finally(() => {
      this.appending = null;
      // An append queued between the loop's end and this callback would otherwise wait forever.
      this.kickAppends();
    });
  }

  private async drainAppends(): Promise<void> {
    while (this.appendQueue.length > 0) {
      const group: PendingAppend[] = [];
      let weight = 0;
      while (
        this.appendQueue.length > 0 &&
        (group.length === 0 || weight + this.appendQueue[0].weight <= MAX_GROUP_WEIGHT)
      ) {
        const next = this.appendQueue.shift()!;
        group.push(next);
        weight += next.weight;
      }
      try {
        const answers = await this.appendGroup(group.map((p) => p.item));
        group.forEach((p, i) => this.settle(p, answers[i]));
      } catch (err) {
        if (group.length === 1) {
          group[0].reject(this.translate(err, group[0].item.stream, group[0].expected));
          continue;
        }
        // Something unexpected failed the whole transaction: retry alone so only its owner sees the error.
        for (const p of group) {
          try {
            this.settle(p, (await this.appendGroup([p.item]))[0]);
          } catch (e) {
            p.reject(this.translate(e, p.item.stream, p.expected));
          }
        }
      }
    }
  }

  private async appendGroup(items: GroupItem[]): Promise<GroupAnswer[]> {
    const res = await this.pool.query<{ answers: GroupAnswer[] }>(
      `SELECT ${this.names.appendGroupFn}($1::jsonb) AS answers`,
      [JSON.stringify(items)],
    );
    return res.rows[0].answers;
  }

  private settle(p: PendingAppend, answer: GroupAnswer): void {
    if ('ok' in answer) p.resolve(answer.ok);
    else if (answer.error === 'concurrency') p.reject(new ConcurrencyError(p.item.stream, p.expected, answer.actual));
    else
      p.reject(
        new DomainError('DUPLICATE_EVENT_ID', `event ${answer.eventId} is already stored`, [
          {
            path: `events.${p.item.events.findIndex((e) => e.id === answer.eventId)}.id`,
            message: 'event ids must be unique',
          },
        ]),
      );
  }

  private translate(err: unknown, streamId: string, expected: ExpectedVersion): unknown {
    const e = err as { code?: string; constraint?: string; detail?: string };
    if (e.code === '23505' && e.constraint === 'events_event_id_key')
      return new DomainError('DUPLICATE_EVENT_ID', `an event with this id is already stored (${e.detail ?? ''})`, [
        { path: 'events.id', message: 'event ids must be unique' },
      ]);
    if (e.code === '23505' && e.constraint === 'events_stream_version_key')
      return new ConcurrencyError(streamId, expected, NaN);
    return err;
  }

  async commandOutcome(commandId: string): Promise<AppendResult | null> {
    this.assertOpen();
    const res = await this.pool.query<{ result: AppendResult }>(
      `SELECT result || '{"duplicate": true}'::jsonb AS result FROM ${this.names.commands} WHERE command_id = $1`,
      [commandId],
    );
    return res.rows[0]?.result ?? null;
  }

  async readStream(streamId: string, fromVersion = 1): Promise<StoredEvent[]> {
    this.assertOpen();
    validatePosition('fromVersion', fromVersion);
    const res = await this.pool.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM ${this.names.events} WHERE stream_id = $1 AND stream_version >= $2 ORDER BY stream_version`,
      [streamId, fromVersion],
    );
    return res.rows.map(rowToStoredEvent);
  }

  async readAll(opts: ReadAllOptions = {}): Promise<StoredEvent[]> {
    this.assertOpen();
    validateReadAll(opts);
    const where = ['position > $1'];
    const params: unknown[] = [opts.fromPosition ?? 0];
    if (opts.campaignId !== undefined) {
      params.push(opts.campaignId);
      where.push(`campaign_id = $${params.length}`);
    }
    if (opts.types !== undefined) {
      params.push(opts.types);
      where.push(`type = ANY($${params.length}::text[])`);
    }
    let sql = `SELECT ${EVENT_COLUMNS} FROM ${this.names.events} WHERE ${where.join(' AND ')} ORDER BY position`;
    if (opts.limit !== undefined) {
      params.push(opts.limit);
      sql += ` LIMIT $${params.length}`;
    }
    const res = await this.pool.query<EventRow>(sql, params);
    return res.rows.map(rowToStoredEvent);
  }

  async streamVersion(streamId: string): Promise<number> {
    this.assertOpen();
    const res = await this.pool.query<{ v: string }>(
      `SELECT coalesce(max(stream_version), 0) AS v FROM ${this.names.events} WHERE stream_id = $1`,
      [streamId],
    );
    return Number(res.rows[0].v);
  }

  async headPosition(): Promise<number> {
    this.assertOpen();
    const res = await this.pool.query<{ p: string }>(
      `SELECT coalesce(max(position), 0) AS p FROM ${this.names.events}`,
    );
    return Number(res.rows[0].p);
  }

  /**
   * Recomputes the hash chain over positions 1..toPosition (default: the head now) and returns every break, the
   * first one first. Reads pages of `pageSize` rows.
   */
  async verifyChain(opts: { toPosition?: number; pageSize?: number } = {}): Promise<ChainReport> {
    this.assertOpen();
    const upTo = opts.toPosition ?? (await this.headPosition());
    const origin = await this.pool.query<{ retroactive_through: string; chained_at: Date }>(
      `SELECT retroactive_through, chained_at FROM "${this.names.schema}".chain_origin WHERE id = 1`,
    );
    const findings: ChainFinding[] = [];
    const state = { previous: GENESIS_CHAIN_HASH, nextPosition: 1 };
    let checked = 0;
    for (let from = 0; from < upTo;) {
      const res = await this.pool.query<
        EventRow & { metadata: unknown; content_hash: string | null; chain_hash: string | null }
      >(
        `SELECT ${EVENT_COLUMNS}, metadata, content_hash, chain_hash FROM ${this.names.events} WHERE position > $1 AND position <= $2 ORDER BY position LIMIT $3`,
        [from, upTo, opts.pageSize ?? 5000],
      );
      if (res.rows.length === 0) break;
      verifyChainRows(
        res.rows.map((r) => ({
          event: rowToStoredEvent(r),
          metadata: r.metadata,
          contentHash: r.content_hash,
          chainHash: r.chain_hash,
        })),
        state,
        findings,
      );
      checked += res.rows.length;
      from = Number(res.rows[res.rows.length - 1].position);
    }
    if (state.nextPosition <= upTo)
      findings.push({ position: state.nextPosition, reason: `positions ${state.nextPosition}..${upTo} are missing` });
    const o = origin.rows[0];
    return {
      checked,
      upTo,
      retroactiveThrough: o ? Number(o.retroactive_through) : 0,
      chainedAt: o ? o.chained_at.toISOString() : null,
      findings,
    };
  }

  /** Position, event id and the recorded hashes of positions after `fromPosition`, in order (for comparing copies). */
  async readChainLinks(fromPosition: number, limit: number): Promise<ChainLinkRow[]> {
    this.assertOpen();
    const res = await this.pool.query<{
      position: string;
      event_id: string;
      content_hash: string | null;
      chain_hash: string | null;
    }>(
      `SELECT position, event_id, content_hash, chain_hash FROM ${this.names.events} WHERE position > $1 ORDER BY position LIMIT $2`,
      [fromPosition, limit],
    );
    return res.rows.map((r) => ({
      position: Number(r.position),
      id: r.event_id,
      contentHash: r.content_hash,
      chainHash: r.chain_hash,
    }));
  }

  /** One indexed read (events_event_id_key) for the whole batch; ids that cannot be uuids are simply not stored. */
  async lookupStoredEvents(eventIds: readonly string[]): Promise<Map<string, StoredEventLink>> {
    this.assertOpen();
    const out = new Map<string, StoredEventLink>();
    const ids = [...new Set(eventIds.filter((id) => UUID.test(id)))];
    if (ids.length === 0) return out;
    const res = await this.pool.query<EventRow & { content_hash: string | null }>(
      `SELECT ${EVENT_COLUMNS}, content_hash FROM ${this.names.events} WHERE event_id = ANY($1::uuid[])`,
      [ids],
    );
    for (const r of res.rows) {
      const event = rowToStoredEvent(r);
      // Every row has its hash since the chain migration; computing it from the row covers a store mid-migration.
      out.set(event.id, {
        position: event.position,
        streamVersion: event.streamVersion,
        contentHash: r.content_hash ?? eventContentHash(event),
      });
    }
    return out;
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
      readPage: (after, limit) =>
        this.readAll({ fromPosition: after, limit, campaignId: opts.campaignId, types: opts.types }),
      onWake: (fn) => this.onHeadMoved(() => fn()),
    });
    this.subscriptions.add(sub);
    void sub.done.catch(() => undefined).finally(() => this.subscriptions.delete(sub));
    return sub;
  }

  /** Calls `fn` after appends commit (best effort, via LISTEN/NOTIFY; pair it with polling). Returns an unregister function. */
  onHeadMoved(fn: (head: number | null) => void): () => void {
    return this.notifier.listen(fn);
  }

  /** True when `err` is the database refusing to change stored events (the append-only triggers). */
  static isAppendOnlyViolation(err: unknown): boolean {
    return (err as { code?: string })?.code === SQLSTATE_APPEND_ONLY;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('event store is closed');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    // Appends already accepted are committed (or refused) before the pool goes.
    while (this.appending) await this.appending;
    await this.notifier.close();
    await this.pool.end();
  }
}
