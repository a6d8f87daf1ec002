import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import type { KurrentDbEventStore } from '../kurrentdb/kurrentdb-event-store';
import { openKurrentDbEventStore } from '../open-store';
import type { StoredEvent } from '../port';
import type { TraceContext } from '../kurrentdb/mapping';
import { relayHeaders, relayPayload, relaySubject, withTraceHeaders } from './cloudevents';
import { RelayStreamStateError, ensureEventStream, jetStreamResumePoint } from './jetstream-stream';
import type { NatsAuthOptions } from './nats-credentials';
import { coalescePauseMs, type RelayLogger } from './relay-common';
import { relayServerProblem } from './server-version';

export interface AllStreamRelayOptions {
  /** `kurrentdb://host:2113?tls=false`. */
  kurrentdbUrl: string;
  /** Stream namespace of the store (default `aevo`). */
  namespace?: string;
  natsUrl?: string;
  subjectPrefix?: string;
  stream?: string;
  batchSize?: number;
  maxBatchesInFlight?: number;
  /** Fallback poll when no wake-up arrives (default 1000 ms). */
  pollIntervalMs?: number;
  duplicateWindowMs?: number;
  publishTimeoutMs?: number;
  coalesceMs?: number;
  coalesceFromEvents?: number;
  log?: RelayLogger;
  natsAuth?: NatsAuthOptions;
}

type Expectation = { lastSequence: number } | { lastMsgID: string };
/** An event with its message body, serialised once, and the trace context it was appended with. */
type Outgoing = StoredEvent & { payload: string; trace: TraceContext | null };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The relay for the KurrentDB store, with no outbox table: KurrentDB's `$all` is the outbox. It follows `$all`
 * through the store's catch-up subscription (the index that gives events their gap-free positions) and publishes
 * each event to JetStream in position order, with the outbox relay's subjects, body and headers (`Nats-Msg-Id` =
 * event id, CloudEvents, `aevo-position`, and the append's `traceparent` / `tracestate` from the event metadata).
 *
 * Once in effect, as the outbox relay: where to resume is read from JetStream (the last message's `aevo-position`),
 * and every publish carries an expectation about the stream's last message (the first after a resume
 * `Nats-Expected-Last-Sequence`, each later one `Nats-Expected-Last-Msg-Id` = the previous event's id), so nothing
 * can leave a gap or a reordering; on a refusal the relay re-reads the tail and continues from there.
 *
 * There is no leader election (the outbox relay's is a PostgreSQL advisory lock): two of these relays running at
 * once stay correct, because the expectations let only one of them extend the stream at each message and the other
 * resumes from what the winner stored; they only waste work. Run one per store.
 */
export class AllStreamRelay {
  private readonly opts: Required<Omit<AllStreamRelayOptions, 'log'>> & { log: RelayLogger };
  private store!: KurrentDbEventStore;
  private nc!: NatsConnection;
  private js!: JetStreamClient;
  private jsm!: JetStreamManager;
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private woken = false;
  private unlisten: (() => void) | null = null;
  private _relayed = 0;
  private _published = 0;
  private failures = 0;

  constructor(options: AllStreamRelayOptions) {
    this.opts = {
      namespace: 'aevo',
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
  }

  static async start(options: AllStreamRelayOptions): Promise<AllStreamRelay> {
    const relay = new AllStreamRelay(options);
    await relay.start();
    return relay;
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
   * Opens the store (its `$all` tail), connects to NATS (refusing a server without JetStream or older than 2.9),
   * provisions the stream, then relays in the background.
   */
  async start(): Promise<void> {
    const o = this.opts;
    this.store = await openKurrentDbEventStore({ connectionString: o.kurrentdbUrl, namespace: o.namespace });
    try {
      this.nc = await connect({
        servers: o.natsUrl
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
        name: 'aevo-all-stream-relay',
        maxReconnectAttempts: -1,
        ...(o.natsAuth ?? {}),
      });
      const problem = relayServerProblem(this.nc.info);
      if (problem) throw new Error(`all-stream relay refuses to start: ${problem}`);
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
    this.loop = this.run();
    o.log('info', 'all-stream relay started', {
      server: this.nc.info?.version,
      stream: o.stream,
      subjectPrefix: o.subjectPrefix,
      namespace: o.namespace,
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
      try {
        await this.relay();
      } catch (err) {
        const failures = ++this.failures;
        this.opts.log('warn', 'relay loop error; resuming from JetStream', { error: String(err), failures });
        if (this.running) await sleep(Math.min(10_000, 100 * 2 ** Math.min(failures, 6)));
      }
    }
  }

  /** Publishes from JetStream's resume point until stopped; throws on a refused or failed publish. */
  private async relay(): Promise<void> {
    const resumed = await jetStreamResumePoint(this.jsm, this.opts.stream, () => this.store.headPosition());
    let cursor = resumed.position;
    let expectNext: Expectation = { lastSequence: resumed.lastSeq };
    this._relayed = cursor;
    this.opts.log('info', 'resuming from JetStream', { position: cursor, streamSequence: resumed.lastSeq });
    const inFlight: Array<Promise<number>> = [];
    const settleOldest = async () => {
      this._relayed = await inFlight.shift()!;
      this.failures = 0;
    };
    try {
      while (this.running) {
        this.woken = false;
        const read = this.store.readIndexed(cursor, this.opts.batchSize);
        const batch = this.publishable(read);
        if (batch.length > 0) {
          const acked = this.publishBatch(batch, expectNext);
          acked.catch(() => undefined);
          inFlight.push(acked);
          cursor = batch[batch.length - 1].position;
          expectNext = { lastMsgID: batch[batch.length - 1].id };
          while (inFlight.length >= this.opts.maxBatchesInFlight) await settleOldest();
          if (read.length === this.opts.batchSize && batch.length === read.length) continue;
        }
        while (inFlight.length > 0) await settleOldest();
        if (batch.length < read.length)
          throw new RelayStreamStateError(
            `event at position ${read[batch.length].position} is too large for the server's max_payload (` +
              `${this.maxPayload()} bytes)`,
          );
        await this.idle(this.opts.pollIntervalMs);
        const pause = coalescePauseMs(read.length, this.opts);
        if (this.running && pause > 0) await sleep(pause);
      }
    } finally {
      for (const r of await Promise.allSettled(inFlight.splice(0)))
        if (r.status === 'fulfilled') this._relayed = r.value;
    }
  }

  private maxPayload(): number {
    return this.nc.info?.max_payload ?? 1024 * 1024;
  }

  /** The prefix of `read` whose messages fit the server's max_payload (headers and subject stay under 1 KiB). */
  private publishable(read: StoredEvent[]): Outgoing[] {
    const limit = this.maxPayload() - 1024;
    const out: Outgoing[] = [];
    for (const e of read) {
      const payload = relayPayload(e);
      if (Buffer.byteLength(payload) > limit) break;
      out.push({ ...e, payload, trace: this.store.traceContextAt(e.position) });
    }
    return out;
  }

  private publishBatch(batch: Outgoing[], expectFirst: Expectation): Promise<number> {
    const acks = batch.map((e, i) =>
      this.js.publish(relaySubject(this.opts.subjectPrefix, e), e.payload, {
        msgID: e.id,
        headers: withTraceHeaders(relayHeaders(e), e.trace),
        expect: i === 0 ? expectFirst : { lastMsgID: batch[i - 1].id },
      }),
    );
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

  /** Stops publishing (after outstanding acks) and closes the connections. */
  async stop(): Promise<void> {
    if (!this.running && !this.loop) return;
    this.running = false;
    this.poke();
    await this.loop?.catch(() => undefined);
    this.loop = null;
    this.unlisten?.();
    await this.nc.drain().catch(() => undefined);
    await this.store.close();
    this.opts.log('info', 'all-stream relay stopped', { relayedPosition: this._relayed });
  }
}
