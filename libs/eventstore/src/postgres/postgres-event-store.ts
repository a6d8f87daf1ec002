import type { EventEnvelope } from '@aevo/contracts';
import { Pool, type PoolConfig } from 'pg';
import type {
  AppendOptions,
  AppendResult,
  EventStore,
  ExpectedVersion,
  ReadAllOptions,
  StoredEvent,
  StoredEventLink,
  Subscription,
} from '../port';
import { PollingSubscription } from '../polling-subscription';
import { expectedVersionNumber, validateAppend, validatePosition, validateReadAll } from '../validation';
import { HeadNotifier } from './notifier';
import { eventContentHash, metadataHash, type ChainLinkRow, type ChainReport } from '../chain/chain';
import { EVENT_COLUMNS, rowToStoredEvent, type EventRow } from './rows';
import { lookupStoredEventLinks, readStoredChainLinks, verifyStoredChain } from './chain-queries';
import { GroupCommitQueue, type GroupItem } from './group-commit';

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
  private readonly appends: GroupCommitQueue;

  private constructor(readonly options: PostgresEventStoreOptions) {
    this.names = schemaNames(options.schema ?? 'aevo');
    const base: PoolConfig = {
      connectionString: options.connectionString,
      application_name: options.applicationName ?? 'aevo-eventstore',
    };
    this.pool = new Pool({ ...base, max: options.poolSize ?? 10 });
    // An idle client that loses its connection emits here; the pool replaces it, queries retry at the caller.
    this.pool.on('error', () => undefined);
    this.appends = new GroupCommitQueue(this.pool, this.names.appendGroupFn);
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
      types: [...new Set(valid.map((e) => e.type))].join(','),
    };
    if (commandId !== null && opts?.commandResult !== undefined) item.commandResult = opts.commandResult;
    return this.appends.append(item, expected);
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
      `SELECT ${EVENT_COLUMNS} FROM ${this.names.events} WHERE stream_id = $1 AND stream_version >= $2 ` +
        `ORDER BY stream_version`,
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
    return verifyStoredChain(this.pool, this.names, upTo, opts.pageSize);
  }

  /** Position, event id and the recorded hashes of positions after `fromPosition`, in order (for comparing copies). */
  async readChainLinks(fromPosition: number, limit: number): Promise<ChainLinkRow[]> {
    this.assertOpen();
    return readStoredChainLinks(this.pool, this.names, fromPosition, limit);
  }

  /** One indexed read (events_event_id_key) for the whole batch; ids that cannot be uuids are simply not stored. */
  async lookupStoredEvents(eventIds: readonly string[]): Promise<Map<string, StoredEventLink>> {
    this.assertOpen();
    return lookupStoredEventLinks(this.pool, this.names, eventIds);
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

  /**
   * Calls `fn` after appends commit (best effort, via LISTEN/NOTIFY; pair it with polling). Returns an unregister
   * function.
   */
  onHeadMoved(fn: (head: number | null, types?: ReadonlySet<string>) => void): () => void {
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
    await this.appends.drained();
    await this.notifier.close();
    await this.pool.end();
  }
}
