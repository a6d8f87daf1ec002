import { Logger } from '@nestjs/common';
import { Server, type CustomTransportStrategy, type MessageHandler } from '@nestjs/microservices';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import {
  jetstream,
  jetstreamManager,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
} from '@nats-io/jetstream';
import { commandDefinition, eventDefinition } from '@aevo/contracts';
import { natsServers } from './config';
import { commandSubject, consumerName, eventTypeFilter } from './subjects';
import { missingServerFeatures, ServerFeatureError } from './server-features';
import { ensureDurableConsumer, type ConsumerSpec } from './provisioning';
import { ensureServiceEventStream } from './domains';
import { nakDelay } from './backoff';
import { Semaphore } from './semaphore';
import { StoredEventProof, type StoredEventProofCounters } from './stored-event-proof';
import { EventDelivery } from './event-delivery';
import { processCommand } from './command-processing';
import {
  DEAD_LETTER_RETRY_MARGIN,
  type ConsumerLag,
  type EventConsumer,
  type JetStreamServerOptions,
  type ResolvedServerOptions,
} from './jetstream.options';

export { DEAD_LETTER_RETRY_MARGIN, type ConsumerLag, type JetStreamServerOptions } from './jetstream.options';

/** Backoff between attempts to re-establish a consumer whose iterator ended (jittered, capped). */
const RECONSUME_BASE_DELAY_MS = 250;
const RECONSUME_MAX_DELAY_MS = 10_000;

/**
 * NestJS transport on NATS: `@EventPattern('<EventType>')` handlers read JetStream through one durable pull
 * consumer per (service, event type); `@MessagePattern('<CommandName>')` handlers answer core-NATS requests on
 * `<prefix>.cmd.<CommandName>` in the service's queue group. See libs/messaging/README.md.
 */
export class JetStreamServer extends Server implements CustomTransportStrategy {
  private readonly log: Logger;
  private readonly opts: ResolvedServerOptions;
  private readonly proof: StoredEventProof | null;
  private readonly delivery: EventDelivery;
  private nc?: NatsConnection;
  private js?: JetStreamClient;
  private jsm?: JetStreamManager;
  private consumers: EventConsumer[] = [];
  private subscriptions: Subscription[] = [];
  private readonly inFlight = new Set<Promise<unknown>>();
  private closing = false;
  /** Wakes supervisors waiting to re-establish a consumer when the server closes. */
  private onClosing: Array<() => void> = [];
  private started = false;
  private natsState: 'connected' | 'disconnected' | 'reconnecting' | 'closed' = 'disconnected';

  constructor(options: JetStreamServerOptions) {
    super();
    this.opts = {
      ackWaitMs: 30_000,
      maxDeliver: 5,
      nakDelayMs: 1_000,
      maxNakDelayMs: 60_000,
      maxOutageRetryDelayMs: 5_000,
      deliverPolicy: 'all',
      requiredFeatures: [],
      commandConcurrency: 64,
      shutdownGraceMs: 30_000,
      ...options,
    };
    if (!Number.isInteger(this.opts.maxDeliver) || this.opts.maxDeliver < 1)
      throw new Error('maxDeliver must be an integer >= 1');
    if (this.opts.ackWaitMs < 1000) throw new Error('ackWaitMs must be at least 1000 ms');
    this.log = new Logger(`JetStreamServer(${options.service})`);
    this.proof = options.storedEvents
      ? new StoredEventProof(options.storedEvents, { subjectPrefix: options.subjectPrefix })
      : null;
    if (!this.proof)
      this.log.warn('stored-event proof is off: consumers act on any well-formed message on the event subjects');
    this.delivery = new EventDelivery(this.opts, this.log, this.proof, {
      closing: () => this.closing,
      toObservable: (result) => this.transformToObservable(result),
    });
  }

  /** Messages proven to be stored events, and those dropped as not (null when the proof is off). */
  storedEventCounters(): StoredEventProofCounters | null {
    return this.proof ? { ...this.proof.counters } : null;
  }

  async listen(callback: (err?: unknown, ...rest: unknown[]) => void): Promise<void> {
    try {
      await this.start();
      callback();
    } catch (err) {
      await this.shutdownConnection();
      callback(err);
    }
  }

  /** The NATS connection (once listening). */
  unwrap<T>(): T {
    if (!this.nc) throw new Error('JetStreamServer is not listening');
    return this.nc as T;
  }

  on(): void {
    throw new Error('JetStreamServer does not emit transport events; use status instead');
  }

  /** Consumers this replica reads (after listen). */
  consumerNames(): string[] {
    return this.consumers.map((c) => c.consumer);
  }

  /**
   * Why this replica cannot take work now, per readiness condition (null: it can): NATS connected, and every
   * durable consumer provisioned and being read with its command subscriptions in place.
   */
  readiness(): { nats: string | null; consumers: string | null } {
    const nc = this.nc;
    const nats = !nc
      ? 'not connected'
      : nc.isClosed()
        ? 'connection closed'
        : this.natsState !== 'connected'
          ? `connection ${this.natsState}`
          : null;
    let consumers: string | null = null;
    if (this.closing) consumers = 'shutting down';
    else if (!this.started) consumers = 'consumers and command subscriptions not bound yet';
    else {
      const stopped = this.consumers.filter((c) => !c.messages || c.ended).map((c) => c.consumer);
      if (stopped.length > 0) consumers = `not reading ${stopped.join(', ')}`;
    }
    return { nats, consumers };
  }

  /**
   * Backlog of each durable consumer, as the server counts it: one listing of the stream's consumers (a request per
   * 256 of them) rather than one request per consumer. Sample it when scraped, not per message.
   */
  async consumerLag(): Promise<ConsumerLag[]> {
    const jsm = this.jsm;
    if (!jsm || !this.started || this.consumers.length === 0) return [];
    const mine = new Map(this.consumers.map((c) => [c.consumer, c]));
    const lag: ConsumerLag[] = [];
    for await (const info of jsm.consumers.list(this.opts.stream)) {
      const c = mine.get(info.name);
      if (c)
        lag.push({
          consumer: c.consumer,
          type: c.type,
          pending: info.num_pending,
          ackPending: info.num_ack_pending,
          redelivered: info.num_redelivered,
        });
    }
    return lag;
  }

  private async start(): Promise<void> {
    if (this.started) return;
    const { events, commands } = this.classifyHandlers();
    const nc = await connect({
      servers: natsServers(this.opts.natsUrl),
      name: `aevo-${this.opts.service}`,
      maxReconnectAttempts: -1,
      ...(this.opts.natsAuth ?? {}),
    });
    this.nc = nc;
    this.watchStatus(nc);
    const version = nc.info?.version ?? 'unknown';
    const missing = missingServerFeatures(nc.info ?? { version }, this.opts.requiredFeatures);
    if (missing.length > 0) throw new ServerFeatureError(version, missing);
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    this.jsm = jsm;
    this.js = js;

    if (events.length > 0) await ensureServiceEventStream(jsm, this.opts);
    for (const e of events) {
      const durable = consumerName(this.opts.service, e.type);
      const spec: ConsumerSpec = {
        durable,
        filterSubject: eventTypeFilter(this.opts.subjectPrefix, e.type),
        ackWaitMs: this.opts.ackWaitMs,
        maxDeliver: this.opts.maxDeliver + DEAD_LETTER_RETRY_MARGIN,
        deliverPolicy: this.opts.deliverPolicy,
        maxAckPending: 1000,
        description: `${this.opts.service} handles ${e.type}`,
      };
      await ensureDurableConsumer(jsm, this.opts.stream, spec);
      this.consumers.push({
        stream: this.opts.stream,
        consumer: durable,
        type: e.type,
        handler: e.handler,
        concurrency: e.concurrency,
        spec,
        reestablished: 0,
      });
    }
    // The first open happens here, so that a service that cannot read its consumers fails to start; after that the
    // supervisor keeps each one read for the life of the process.
    for (const c of this.consumers) c.messages = await this.openConsumer(c);
    for (const c of this.consumers) c.loop = this.superviseConsumer(c).finally(() => (c.ended = true));
    for (const cmd of commands) this.subscribeCommand(cmd.name, cmd.handler);
    await nc.flush();
    this.started = true;
    this.log.log(
      `listening: ${this.consumers.length} event consumer(s) [${this.consumers.map((c) => c.type).join(', ')}], ` +
        `${commands.length} command(s) [${commands.map((c) => c.name).join(', ')}] on nats-server ${version}`,
    );
  }

  /** Splits Nest's handlers into event consumers and commands, refusing names the contracts do not know. */
  private classifyHandlers() {
    const events: Array<{ type: string; handler: MessageHandler; concurrency: number }> = [];
    const commands: Array<{ name: string; handler: MessageHandler }> = [];
    const problems: string[] = [];
    for (const [pattern, handler] of this.messageHandlers) {
      if (handler.isEventHandler) {
        if (!eventDefinition(pattern))
          problems.push(`@EventPattern('${pattern}') is not an event type registered in @aevo/contracts`);
        const concurrency = Number(handler.extras?.concurrency ?? 1);
        if (!Number.isInteger(concurrency) || concurrency < 1)
          problems.push(`@EventPattern('${pattern}'): concurrency must be an integer >= 1`);
        events.push({ type: pattern, handler, concurrency });
      } else {
        const def = commandDefinition(pattern);
        if (!def) problems.push(`@MessagePattern('${pattern}') is not a command registered in @aevo/contracts`);
        else if (def.handler !== this.opts.service)
          problems.push(`command ${pattern} belongs to ${def.handler}, not ${this.opts.service}`);
        commands.push({ name: pattern, handler });
      }
    }
    if (problems.length > 0) throw new Error(`cannot start ${this.opts.service}: ${problems.join('; ')}`);
    return { events, commands };
  }

  // ---------------------------------------------------------------- events

  /**
   * A pull iterator on the durable. `abort_on_missing_resource`: a deleted consumer or stream ends the iterator
   * (instead of the client retrying "consumer not found" forever), so the supervisor can provision it again.
   */
  private async openConsumer(c: EventConsumer): Promise<ConsumerMessages> {
    const js = this.js;
    if (!js) throw new Error('JetStreamServer is not connected');
    const consumer = await js.consumers.get(c.stream, c.consumer);
    return consumer.consume({ max_messages: c.concurrency, abort_on_missing_resource: true });
  }

  /**
   * Reads one durable consumer until the server closes: when its iterator ends — the consumer or stream deleted,
   * the server restarted without its state, a pull refused — it is provisioned again (same config; a re-created
   * durable starts from the stream's first message of its type, since which messages the old one had settled is
   * gone with it; handlers are idempotent, so only the time to skip them is spent) and read again, with backoff.
   */
  private async superviseConsumer(c: EventConsumer): Promise<void> {
    for (let failures = 0; !this.closing;) {
      const began = Date.now();
      try {
        if (!c.messages) {
          const jsm = this.jsm;
          if (!jsm) throw new Error('JetStreamServer is not connected');
          await ensureServiceEventStream(jsm, this.opts);
          await ensureDurableConsumer(jsm, c.stream, c.spec);
          c.messages = await this.openConsumer(c);
          c.reestablished++;
          this.log.log(`consumer ${c.consumer} re-established (${c.reestablished} time(s))`);
        }
        c.ended = false;
        await this.consumeLoop(c);
        if (this.closing) return;
        this.log.warn(`consumer ${c.consumer}: its message iterator ended; re-establishing it`);
      } catch (err) {
        if (this.closing) return;
        this.log.warn(`consumer ${c.consumer} stopped (${String(err)}); re-establishing it`);
      }
      c.messages = undefined;
      c.ended = true;
      // A loop that ran a while was healthy: start the backoff over.
      failures = Date.now() - began > 10 * RECONSUME_MAX_DELAY_MS ? 1 : failures + 1;
      await this.pause(nakDelay(failures, RECONSUME_BASE_DELAY_MS, RECONSUME_MAX_DELAY_MS) * (0.5 + Math.random() / 2));
    }
  }

  /** Waits `ms`, or less when the server starts closing. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(t);
        this.onClosing = this.onClosing.filter((w) => w !== wake);
        resolve();
      };
      const t = setTimeout(wake, ms);
      this.onClosing.push(wake);
    });
  }

  private async consumeLoop(c: EventConsumer): Promise<void> {
    const gate = new Semaphore(c.concurrency);
    const messages = c.messages as ConsumerMessages;
    for await (const m of messages) {
      // The ack timer runs from delivery, so keep the message alive while it waits for a slot, too.
      const heartbeat = setInterval(() => m.working(), Math.max(Math.floor(this.opts.ackWaitMs / 3), 300));
      // The proof starts on receipt, not when a slot frees up: its store read overlaps the handlers still running,
      // and messages that arrive together share one read.
      const proving = this.proof?.verify(m.subject, m.data);
      proving?.catch(() => undefined); // an outage is handled (retried) where it is awaited
      await gate.acquire();
      if (this.closing) {
        clearInterval(heartbeat);
        gate.release();
        m.nak(); // let another replica take it now rather than after ack_wait
        continue;
      }
      this.track(
        this.delivery.process(c, m, proving).finally(() => {
          clearInterval(heartbeat);
          gate.release();
        }),
      );
    }
  }

  // ---------------------------------------------------------------- commands

  private subscribeCommand(name: string, handler: MessageHandler): void {
    const nc = this.nc as NatsConnection;
    const gate = new Semaphore(this.opts.commandConcurrency);
    const sub = nc.subscribe(commandSubject(this.opts.subjectPrefix, name), { queue: this.opts.service });
    this.subscriptions.push(sub);
    void (async () => {
      for await (const msg of sub) {
        await gate.acquire();
        this.track(
          processCommand(name, handler, msg, {
            opts: this.opts,
            log: this.log,
            toObservable: (result) => this.transformToObservable(result),
          }).finally(() => gate.release()),
        );
      }
    })().catch((err) => this.log.error(`command subscription ${name} stopped: ${String(err)}`));
  }

  // ---------------------------------------------------------------- lifecycle

  /** Mirrors the connection state onto Nest's `status` stream. */
  private watchStatus(nc: NatsConnection): void {
    const state = (s: 'connected' | 'disconnected' | 'reconnecting' | 'closed') => {
      this.natsState = s;
      this._status$.next(s);
    };
    state('connected');
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') state('disconnected');
        else if (s.type === 'reconnecting') state('reconnecting');
        else if (s.type === 'reconnect') state('connected');
      }
    })().catch(() => undefined);
    void nc.closed().then(() => state('closed'));
  }

  private track(p: Promise<unknown>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  /** Stops pulling and taking commands, lets running handlers finish (up to shutdownGraceMs), then drains NATS. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const wake of this.onClosing.splice(0)) wake();
    for (const s of this.subscriptions) s.unsubscribe();
    for (const c of this.consumers) c.messages?.stop();
    const grace = new Promise((r) => setTimeout(r, this.opts.shutdownGraceMs).unref());
    await Promise.race([Promise.allSettled([...this.inFlight]), grace]);
    await Promise.race([Promise.allSettled(this.consumers.map((c) => c.loop)), grace]);
    await this.shutdownConnection();
  }

  private async shutdownConnection(): Promise<void> {
    const nc = this.nc;
    this.nc = undefined;
    if (!nc || nc.isClosed()) return;
    try {
      await nc.drain();
    } catch {
      await nc.close().catch(() => undefined);
    }
  }
}
