import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsAuthOptions } from './nats-credentials';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { PostgresEventStore } from '../postgres/postgres-event-store';
import { relayHeaders, relaySubject, withTraceHeaders } from './cloudevents';
import { RelayStreamStateError, ensureEventStream, jetStreamResumePoint } from './jetstream-stream';
import { readOutbox, saveRelayCheckpoint, type OutboxRow } from './outbox-rows';
import { coalescePauseMs, RelayStateError, type RelayLogger } from './relay-common';
import { RelayLeadership } from './relay-leadership';
import { relayServerProblem } from './server-version';

export { coalescePauseMs, RelayStateError, type RelayLogger, type RelayLogLevel } from './relay-common';

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

/** What the server must find as the stream's last message before storing the next one. */
type Expectation = { lastSequence: number } | { lastMsgID: string };

const CHECKPOINT_EVERY_MS = 1000;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

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
  private readonly leadership: RelayLeadership;
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
    this.leadership = new RelayLeadership(
      this.opts.databaseUrl,
      `aevo-outbox-relay:${this.opts.schema}:${this.opts.stream}`,
      () => this.poke(),
    );
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
      await ensureEventStream(this.jsm, {
        stream: o.stream,
        subjectPrefix: o.subjectPrefix,
        duplicateWindowMs: o.duplicateWindowMs,
        log: o.log,
      });
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
        if (await this.leadership.acquire()) {
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
        const stateError = err instanceof RelayStateError || err instanceof RelayStreamStateError;
        this.opts.log(stateError ? 'error' : 'warn', 'relay loop error; retrying', {
          error: String(err),
          failures,
        });
        // Drop the session (and any lock) so a healthy standby can lead meanwhile.
        await this.leadership.release();
        if (this.running) await sleep(Math.min(10_000, 200 * 2 ** Math.min(failures, 6)));
      } finally {
        if (led) {
          this._role = this.running ? 'standby' : 'stopped';
          if (this.running) this.opts.log('warn', 'leadership given up');
          await this.leadership.release();
        }
      }
    }
    this._role = 'stopped';
  }

  /** The leader's loop; returns when stopped, throws when leadership, a connection or a publish is lost. */
  private async lead(): Promise<void> {
    const lockClient = this.leadership.connection!;
    const resumed = await jetStreamResumePoint(this.jsm, this.opts.stream, () => this.store.headPosition());
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
        if (this.leadership.connection !== lockClient) throw new Error('lost the leadership connection');
        if (Date.now() - lastLockCheck >= this.opts.pollIntervalMs) {
          // A dead leadership session must stop this relay before a standby's output interleaves with ours.
          await lockClient.query('SELECT 1');
          lastLockCheck = Date.now();
        }
        this.woken = false;
        const read = await readOutbox(this.store, cursor, this.opts.batchSize);
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
          await saveRelayCheckpoint(this.store, this.opts.stream, this._relayed, this.opts.log);
          lastCheckpoint = this._relayed;
          lastCheckpointAt = Date.now();
        }
        if (batch.length < read.length)
          throw new RelayStateError(
            `event at position ${read[batch.length].position} is too large for the server's max_payload (` +
              `${this.maxPayload()} bytes)`,
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
      if (this._relayed !== lastCheckpoint)
        await saveRelayCheckpoint(this.store, this.opts.stream, this._relayed, this.opts.log);
    }
  }

  private maxPayload(): number {
    return this.nc.info?.max_payload ?? 1024 * 1024;
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

  /**
   * Pipelines the batch (sends are ordered on the connection) and resolves with its last position once all are acked.
   */
  private publishBatch(batch: OutboxRow[], expectFirst: Expectation): Promise<number> {
    const acks = batch.map((e, i) =>
      this.js.publish(relaySubject(this.opts.subjectPrefix, e), e.payload, {
        msgID: e.id,
        headers: withTraceHeaders(relayHeaders(e), e),
        expect: i === 0 ? expectFirst : { lastMsgID: batch[i - 1].id },
      }),
    );
    // Every ack is awaited (no unhandled rejections) even when an earlier one fails.
    return Promise.allSettled(acks).then((results) => {
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed)
        throw new Error(
          `publish failed in positions ${batch[0].position}..${batch[batch.length - 1].position}: ` +
            `${String(failed.reason)}`,
        );
      this._published += results.length;
      return batch[batch.length - 1].position;
    });
  }

  /** Stops publishing (waiting for outstanding acks), gives up leadership and closes the connections. */
  async stop(): Promise<void> {
    if (!this.running && !this.loop) return;
    this.running = false;
    this.poke();
    await this.loop?.catch(() => undefined);
    this.loop = null;
    this.unlisten?.();
    await this.leadership.release();
    await this.nc.drain().catch(() => undefined);
    await this.store.close();
    this._role = 'stopped';
    this.opts.log('info', 'outbox relay stopped', { relayedPosition: this._relayed });
  }
}
