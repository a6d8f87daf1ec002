import {
  jetstream,
  jetstreamManager,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
  type StreamInfo,
} from '@nats-io/jetstream';
import type { NatsAuthOptions } from './nats-credentials';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { Client, type PoolClient } from 'pg';
import type { StoredEvent } from '../port';
import { PostgresEventStore } from '../postgres/postgres-event-store';
import { POSITION_HEADER, relayHeaders, relaySubject, relayWildcard } from './cloudevents';
import { relayServerProblem } from './server-version';

export type RelayLogLevel = 'info' | 'warn' | 'error';
export type RelayLogger = (level: RelayLogLevel, msg: string, fields?: Record<string, unknown>) => void;

export interface OutboxRelayOptions {
  databaseUrl: string;
  /** Event store schema (default `aevo`). */
  schema?: string;
  /** One or more servers, comma separated (default nats://127.0.0.1:4222). */
  natsUrl?: string;
  /** Subjects are `<prefix>.evt.<campaignId>.<EventType>` (default `aevo`). */
  subjectPrefix?: string;
  /** JetStream stream (default `AEVO_EVENTS`). */
  stream?: string;
  /** Events read and published per batch (default 1000). */
  batchSize?: number;
  /** Batches whose acks may be outstanding at once (default 4). */
  maxBatchesInFlight?: number;
  /** Poll when no NOTIFY arrives (default 1000 ms); a standby tries to take over this often too. */
  pollIntervalMs?: number;
  /** duplicate_window of a stream this relay creates (default 10 min). Dedupe only needs to cover in-flight retries. */
  duplicateWindowMs?: number;
  /** PubAck timeout (default 30 s). */
  publishTimeoutMs?: number;
  /** Pause after a wake-up before reading, so that small appends are relayed in fuller batches (default 10 ms). */
  coalesceMs?: number;
  /**
   * Pause only while busy: when the last read found at least this many events (default 8). A trickle of appends
   * (a campaign's control flow: one append, one reaction) is relayed at once — every hop of a round's critical path
   * used to wait the full pause (bench/campaign/overhead.js) — while a flood still gets full batches.
   */
  coalesceFromEvents?: number;
  log?: RelayLogger;
  /** NATS user and password of the relay (natsAuthFor(env, 'relay', …)); empty for a server without authorization. */
  natsAuth?: NatsAuthOptions;
}

export type RelayRole = 'starting' | 'standby' | 'leader' | 'stopped';

/** What the relay needs of a stored event: header fields and the serialised body. */
type OutboxRow = Pick<
  StoredEvent,
  'position' | 'streamVersion' | 'id' | 'type' | 'streamId' | 'campaignId' | 'source' | 'time'
> & {
  payload: string;
  /** W3C trace context recorded with the append (metadata), copied onto the message headers. */
  traceparent: string | null;
  tracestate: string | null;
};

/** What the server must find as the stream's last message before storing the next one. */
type Expectation = { lastSequence: number } | { lastMsgID: string };

const CHECKPOINT_EVERY_MS = 1000;
const nanos = (ms: number) => ms * 1_000_000;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * How long the relay waits after a wake-up before reading, given how many events its last read found: the full
 * pause while busy (fuller batches), none for a trickle (latency).
 */
export function coalescePauseMs(lastRead: number, opts: { coalesceMs: number; coalesceFromEvents: number }): number {
  return opts.coalesceMs > 0 && lastRead >= opts.coalesceFromEvents ? opts.coalesceMs : 0;
}

/** Thrown (and logged) when the stream holds something the relay cannot continue from. */
export class RelayStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RelayStateError';
  }
}

/**
 * Publishes every stored event to JetStream, in position order, once in effect.
 *
 * - The `events` table is the outbox: an append commits the event and nothing else has to be written, so there
 *   is no dual write. The relay reads "position > last relayed" (safe because positions become visible in order).
 * - Where to resume is read from JetStream itself (the `aevo-position` header of the stream's last message), not
 *   from a local checkpoint that could lag behind what was already published. The checkpoint table is only for
 *   monitoring.
 * - Publishes are pipelined on one connection (in order) with async acks. Each carries `Nats-Msg-Id` = event id
 *   (dedupe covers messages in flight when a relay died) and an expectation about the stream's last message: the
 *   first after a resume `Nats-Expected-Last-Sequence` (the tail just read), every later one
 *   `Nats-Expected-Last-Msg-Id` = the previous event's id. So the server refuses a message unless the one
 *   before it is stored directly in front of it: once one message is lost or refused, every later one of the
 *   pipeline is refused too, and nothing (not even a foreign message taking its place) can leave a gap or a
 *   reordering. On any refusal or timeout the relay re-reads the stream's tail and continues from there.
 * - One leader at a time: a session-level `pg_try_advisory_lock` on a dedicated connection. When the leader dies,
 *   PostgreSQL drops its session and the lock, and a standby takes over within `pollIntervalMs`.
 */
export class OutboxRelay {
  private readonly opts: Required<Omit<OutboxRelayOptions, 'log'>> & { log: RelayLogger };
  private store!: PostgresEventStore;
  private nc!: NatsConnection;
  private js!: JetStreamClient;
  private jsm!: JetStreamManager;
  private lockClient: Client | null = null;
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private woken = false;
  private unlisten: (() => void) | null = null;
  private _role: RelayRole = 'starting';
  private _relayed = 0;
  private _published = 0;
  /** Consecutive failed leadership attempts, for the back-off. */
  private failures = 0;
  private readonly lockKey: string;

  constructor(options: OutboxRelayOptions) {
    this.opts = {
      schema: 'aevo',
      natsUrl: 'nats://127.0.0.1:4222',
      subjectPrefix: 'aevo',
      stream: 'AEVO_EVENTS',
      batchSize: 1000,
      maxBatchesInFlight: 4,
      pollIntervalMs: 1000,
      duplicateWindowMs: 10 * 60_000,
      publishTimeoutMs: 30_000,
      coalesceMs: 10,
      coalesceFromEvents: 8,
      natsAuth: {},
      log: () => undefined,
      ...options,
    };
    this.lockKey = `aevo-outbox-relay:${this.opts.schema}:${this.opts.stream}`;
  }

  /** Creates and starts a relay (see start()). */
  static async start(options: OutboxRelayOptions): Promise<OutboxRelay> {
    const relay = new OutboxRelay(options);
    await relay.start();
    return relay;
  }

  get role(): RelayRole {
    return this._role;
  }

  /** Highest position known to be in JetStream (acked, or found there on resume). */
  get relayedPosition(): number {
    return this._relayed;
  }

  /** Messages this process got acks for (duplicates included). */
  get publishedCount(): number {
    return this._published;
  }

  /**
   * Connects to PostgreSQL (migrating the schema) and NATS, refuses a server without JetStream or older than
   * 2.9, provisions the stream, then leads or stands by in the background.
   */
  async start(): Promise<void> {
    const o = this.opts;
    this.store = await PostgresEventStore.open({
      connectionString: o.databaseUrl,
      schema: o.schema,
      poolSize: 3,
      applicationName: 'aevo-outbox-relay',
    });
    try {
      this.nc = await connect({
        servers: o.natsUrl
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
        name: 'aevo-outbox-relay',
        maxReconnectAttempts: -1,
        ...(o.natsAuth ?? {}),
      });
      const problem = relayServerProblem(this.nc.info);
      if (problem) throw new Error(`outbox relay refuses to start: ${problem}`);
      this.jsm = await jetstreamManager(this.nc);
      this.js = jetstream(this.nc, { timeout: o.publishTimeoutMs });
      await this.ensureStream();
    } catch (err) {
      await this.nc?.close().catch(() => undefined);
      await this.store.close();
      throw err;
    }
    this.unlisten = this.store.onHeadMoved(() => this.poke());
    this.running = true;
    this._role = 'standby';
    this.loop = this.run();
    o.log('info', 'outbox relay started', {
      server: this.nc.info?.version,
      stream: o.stream,
      subjectPrefix: o.subjectPrefix,
      schema: o.schema,
    });
  }

  /** Creates the stream, or checks an existing one (fixing deny flags it lacks). */
  private async ensureStream(): Promise<StreamInfo> {
    const o = this.opts;
    const wanted = relayWildcard(o.subjectPrefix);
    let info: StreamInfo | null = null;
    try {
      info = await this.jsm.streams.info(o.stream);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    if (!info) {
      try {
        info = await this.jsm.streams.add({
          name: o.stream,
          subjects: [wanted],
          storage: StorageType.File,
          deny_delete: true,
          deny_purge: true,
          max_age: 0,
          duplicate_window: nanos(o.duplicateWindowMs),
        });
        o.log('info', 'stream created', { stream: o.stream, subjects: [wanted] });
        return info;
      } catch (err) {
        // Another relay or service created it meanwhile.
        info = await this.jsm.streams.info(o.stream).catch(() => null);
        if (!info) throw err;
      }
    }
    const c = info.config;
    if (!c.subjects?.includes(wanted))
      throw new RelayStateError(
        `stream ${o.stream} exists but does not capture ${wanted} (subjects: ${(c.subjects ?? []).join(', ')})`,
      );
    if (c.storage !== StorageType.File)
      throw new RelayStateError(`stream ${o.stream} uses ${c.storage} storage; the event stream must use file storage`);
    if (c.max_age !== 0)
      o.log('warn', 'stream has an age limit: old events will expire from JetStream', {
        stream: o.stream,
        max_age_ns: c.max_age,
      });
    if (!c.deny_delete || !c.deny_purge) {
      info = await this.jsm.streams.update(o.stream, { ...c, deny_delete: true, deny_purge: true });
      o.log('info', 'stream updated to deny delete and purge', { stream: o.stream });
    }
    return info;
  }

  private poke(): void {
    this.woken = true;
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private idle(ms: number): Promise<void> {
    if (this.woken || !this.running) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  private async run(): Promise<void> {
    while (this.running) {
      let led = false;
      try {
        if (await this.acquireLeadership()) {
          led = true;
          this._role = 'leader';
          this.opts.log('info', 'leadership acquired');
          await this.lead();
        } else {
          this._role = 'standby';
          await sleep(this.opts.pollIntervalMs);
        }
      } catch (err) {
        const failures = ++this.failures;
        this.opts.log(err instanceof RelayStateError ? 'error' : 'warn', 'relay loop error; retrying', {
          error: String(err),
          failures,
        });
        // Drop the session (and any lock) so a healthy standby can lead meanwhile.
        await this.releaseLeadership();
        if (this.running) await sleep(Math.min(10_000, 200 * 2 ** Math.min(failures, 6)));
      } finally {
        if (led) {
          this._role = this.running ? 'standby' : 'stopped';
          if (this.running) this.opts.log('warn', 'leadership given up');
          await this.releaseLeadership();
        }
      }
    }
    this._role = 'stopped';
  }

  private async acquireLeadership(): Promise<boolean> {
    if (!this.lockClient) {
      const c = new Client({
        connectionString: this.opts.databaseUrl,
        application_name: 'aevo-outbox-relay-lock',
        keepAlive: true,
        query_timeout: 30_000,
      });
      c.on('error', () => {
        if (this.lockClient === c) this.lockClient = null;
        this.poke();
      });
      this.lockClient = c;
      await c.connect();
    }
    const res = await this.lockClient.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [
      this.lockKey,
    ]);
    return res.rows[0].ok === true;
  }

  private async releaseLeadership(): Promise<void> {
    // Ending the session releases the lock; the next attempt opens a fresh one.
    const c = this.lockClient;
    this.lockClient = null;
    if (c) await c.end().catch(() => undefined);
  }

  /** The leader's loop; returns when stopped, throws when leadership, a connection or a publish is lost. */
  private async lead(): Promise<void> {
    const lockClient = this.lockClient!;
    const resumed = await this.resumePoint();
    const lastSeq = resumed.lastSeq;
    let cursor = resumed.position;
    let expectNext: Expectation = { lastSequence: lastSeq };
    this._relayed = cursor;
    this.opts.log('info', 'resuming from JetStream', { position: cursor, streamSequence: lastSeq });
    const inFlight: Array<Promise<number>> = [];
    let lastCheckpoint = -1;
    let lastCheckpointAt = 0;
    let lastLockCheck = Date.now();
    const settleOldest = async () => {
      this._relayed = await inFlight.shift()!;
      // Progress: the next failure starts its back-off from the beginning.
      this.failures = 0;
    };
    try {
      while (this.running) {
        if (this.lockClient !== lockClient) throw new Error('lost the leadership connection');
        if (Date.now() - lastLockCheck >= this.opts.pollIntervalMs) {
          // A dead leadership session must stop this relay before a standby's output interleaves with ours.
          await lockClient.query('SELECT 1');
          lastLockCheck = Date.now();
        }
        this.woken = false;
        const read = await this.readOutbox(cursor, this.opts.batchSize);
        const batch = this.publishable(read);
        if (batch.length > 0) {
          const acked = this.publishBatch(batch, expectNext);
          // Observed now so a failure while an older batch is awaited is not an unhandled rejection.
          acked.catch(() => undefined);
          inFlight.push(acked);
          cursor = batch[batch.length - 1].position;
          expectNext = { lastMsgID: batch[batch.length - 1].id };
          while (inFlight.length >= this.opts.maxBatchesInFlight) await settleOldest();
          if (read.length === this.opts.batchSize && batch.length === read.length) continue;
        }
        while (inFlight.length > 0) await settleOldest();
        if (this._relayed !== lastCheckpoint && Date.now() - lastCheckpointAt >= CHECKPOINT_EVERY_MS) {
          await this.saveCheckpoint(this._relayed);
          lastCheckpoint = this._relayed;
          lastCheckpointAt = Date.now();
        }
        if (batch.length < read.length)
          throw new RelayStateError(
            `event at position ${read[batch.length].position} is too large for the server's max_payload (${this.maxPayload()} bytes)`,
          );
        await this.idle(this.opts.pollIntervalMs);
        // Let a few more commits land before reading: fewer, fuller batches cost far less CPU per event under
        // a stream of small appends, for a few milliseconds of latency.
        const pause = coalescePauseMs(read.length, this.opts);
        if (this.running && pause > 0) await sleep(pause);
      }
    } finally {
      // Let outstanding acks settle so relayedPosition is exact and no publish outlives the leadership.
      for (const r of await Promise.allSettled(inFlight.splice(0)))
        if (r.status === 'fulfilled') this._relayed = r.value;
      if (this._relayed !== lastCheckpoint) await this.saveCheckpoint(this._relayed);
    }
  }

  private maxPayload(): number {
    return this.nc.info?.max_payload ?? 1024 * 1024;
  }

  /**
   * Reads the next events with their message body already serialised by PostgreSQL (json_build_object keeps the
   * key order of relayPayload), so the relay neither parses nor re-serialises `data`.
   */
  private async readOutbox(after: number, limit: number): Promise<OutboxRow[]> {
    const res = await this.store.pool.query<{
      position: string;
      stream_version: string;
      event_id: string;
      type: string;
      stream_id: string;
      campaign_id: string;
      source: string;
      time: string;
      payload: string;
      traceparent: string | null;
      tracestate: string | null;
    }>(
      `SELECT position, stream_version, event_id, type, stream_id, campaign_id, source, time,
              metadata->>'traceparent' AS traceparent, metadata->>'tracestate' AS tracestate,
              json_build_object('id', event_id, 'type', type, 'schemaVersion', schema_version, 'streamId', stream_id,
                'campaignId', campaign_id, 'causationId', causation_id, 'correlationId', correlation_id, 'time', time,
                'source', source, 'data', data, 'position', position, 'streamVersion', stream_version)::text AS payload
         FROM ${this.store.names.events} WHERE position > $1 ORDER BY position LIMIT $2`,
      [after, limit],
    );
    return res.rows.map((r) => ({
      position: Number(r.position),
      streamVersion: Number(r.stream_version),
      id: r.event_id,
      type: r.type,
      streamId: r.stream_id,
      campaignId: r.campaign_id,
      source: r.source as StoredEvent['source'],
      time: r.time,
      payload: r.payload,
      traceparent: r.traceparent,
      tracestate: r.tracestate,
    }));
  }

  /** The prefix of `batch` whose messages fit the server's max_payload (headers and subject stay under 1 KiB). */
  private publishable(batch: OutboxRow[]): OutboxRow[] {
    const limit = this.maxPayload() - 1024;
    const out: OutboxRow[] = [];
    for (const e of batch) {
      if (Buffer.byteLength(e.payload) > limit) break;
      out.push(e);
    }
    return out;
  }

  /** Pipelines the batch (sends are ordered on the connection) and resolves with its last position once all are acked. */
  private publishBatch(batch: OutboxRow[], expectFirst: Expectation): Promise<number> {
    const acks = batch.map((e, i) =>
      this.js.publish(relaySubject(this.opts.subjectPrefix, e), e.payload, {
        msgID: e.id,
        headers: withTraceContext(relayHeaders(e), e),
        expect: i === 0 ? expectFirst : { lastMsgID: batch[i - 1].id },
      }),
    );
    // Every ack is awaited (no unhandled rejections) even when an earlier one fails.
    return Promise.allSettled(acks).then((results) => {
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed)
        throw new Error(
          `publish failed in positions ${batch[0].position}..${batch[batch.length - 1].position}: ${String(failed.reason)}`,
        );
      this._published += results.length;
      return batch[batch.length - 1].position;
    });
  }

  /**
   * Position of the last event in JetStream and the stream's last sequence. Walks back over messages that do
   * not carry `aevo-position` (published by something else) up to a bound.
   */
  private async resumePoint(): Promise<{ position: number; lastSeq: number }> {
    const info = await this.jsm.streams.info(this.opts.stream);
    const lastSeq = info.state.last_seq;
    if (info.state.messages === 0) return { position: 0, lastSeq };
    const first = info.state.first_seq;
    for (let seq = lastSeq, steps = 0; seq >= first && steps < 1000; seq--, steps++) {
      const m = await this.jsm.streams.getMessage(this.opts.stream, { seq }).catch((err) => {
        if (isNotFound(err)) return null;
        throw err;
      });
      const raw = m?.header?.get(POSITION_HEADER);
      if (!raw) continue;
      const position = Number(raw);
      if (!Number.isSafeInteger(position) || position < 1)
        throw new RelayStateError(`message ${seq} in ${this.opts.stream} has a bad ${POSITION_HEADER} header "${raw}"`);
      const head = await this.store.headPosition();
      if (position > head)
        throw new RelayStateError(
          `stream ${this.opts.stream} already holds position ${position} but the store (schema ${this.opts.schema}) ends at ${head}: they belong to different logs`,
        );
      return { position, lastSeq };
    }
    throw new RelayStateError(
      `stream ${this.opts.stream} has messages but none of its last 1000 carries ${POSITION_HEADER}: it is not this relay's stream`,
    );
  }

  /** Monitoring only (resume never trusts it): written at most once a second, without waiting for the WAL flush. */
  private async saveCheckpoint(position: number): Promise<void> {
    let client: PoolClient | null = null;
    try {
      client = await this.store.pool.connect();
      await client.query('BEGIN');
      await client.query('SET LOCAL synchronous_commit = off');
      await client.query(
        `INSERT INTO ${this.store.names.relayCheckpoints} (name, position, updated_at) VALUES ($1, $2, now())
         ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, updated_at = now()`,
        [this.opts.stream, position],
      );
      await client.query('COMMIT');
    } catch (err) {
      await client?.query('ROLLBACK').catch(() => undefined);
      this.opts.log('warn', 'could not save the monitoring checkpoint', { error: String(err) });
    } finally {
      client?.release();
    }
  }

  /** Stops publishing (waiting for outstanding acks), gives up leadership and closes the connections. */
  async stop(): Promise<void> {
    if (!this.running && !this.loop) return;
    this.running = false;
    this.poke();
    await this.loop?.catch(() => undefined);
    this.loop = null;
    this.unlisten?.();
    await this.releaseLeadership();
    await this.nc.drain().catch(() => undefined);
    await this.store.close();
    this._role = 'stopped';
    this.opts.log('info', 'outbox relay stopped', { relayedPosition: this._relayed });
  }
}

/** The append's trace context as W3C headers, so that a consumer's span continues the trace of the code that appended. */
function withTraceContext(
  h: ReturnType<typeof relayHeaders>,
  e: Pick<OutboxRow, 'traceparent' | 'tracestate'>,
): ReturnType<typeof relayHeaders> {
  if (e.traceparent) h.set('traceparent', e.traceparent);
  if (e.traceparent && e.tracestate) h.set('tracestate', e.tracestate);
  return h;
}

function isNotFound(err: unknown): boolean {
  const e = err as { code?: unknown; name?: unknown; message?: unknown; api_error?: { code?: number } };
  return (
    e?.name === 'StreamNotFoundError' ||
    e?.code === 404 ||
    e?.api_error?.code === 404 ||
    /not found/i.test(String(e?.message ?? ''))
  );
}
