import { Logger } from '@nestjs/common';
import { Server, type CustomTransportStrategy, type MessageHandler } from '@nestjs/microservices';
import { connect } from '@nats-io/transport-node';
import type { Msg, NatsConnection, Subscription } from '@nats-io/nats-core';
import {
  jetstream,
  jetstreamManager,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import { lastValueFrom } from 'rxjs';
import type { NatsAuthOptions } from '@aevo/eventstore';
import { commandDefinition, eventDefinition, type CommandReply, type ServiceName } from '@aevo/contracts';
import { natsServers } from './config';
import { commandSubject, consumerName, eventTypeFilter, parseEventSubject } from './subjects';
import { missingServerFeatures, ServerFeatureError, type ServerFeature } from './server-features';
import { ensureDurableConsumer, ensureEventStream, type ConsumerSpec } from './provisioning';
import { decodeEventMessage } from './event-decoding';
import { decodeCommandRequest, errorReplyOf, okReply } from './command-decoding';
import { CommandContext, JetStreamEventContext, type ConsumerRef } from './contexts';
import type { DeadLetterSink } from './dead-letter';
import { nakDelay } from './backoff';
import { unavailableDependency } from './unavailable';
import { Semaphore } from './semaphore';
import {
  StoredEventProof,
  type StoredEventLookup,
  type StoredEventProofCounters,
  type StoredEventVerdict,
} from './stored-event-proof';
import type { TransportObserver } from './observability/metrics';
import { ServiceTracing, SpanKind } from './observability/tracing';

export interface JetStreamServerOptions {
  /** Names the queue group and the durable consumers: every replica of a service passes the same name. */
  service: ServiceName;
  natsUrl: string;
  subjectPrefix: string;
  stream: string;
  /** Where dead letters are recorded (normally `eventStoreDeadLetterSink(store, service)`). Without it they are only logged. */
  deadLetter?: DeadLetterSink;
  /** The server redelivers an unacked message after this long (default 30 s); handlers get `working()` every third of it. */
  ackWaitMs?: number;
  /** Deliveries (first + retries) before a failing message is dead-lettered (default 5). */
  maxDeliver?: number;
  /** First redelivery delay after a handler error, doubled per delivery (default 1 s) up to `maxNakDelayMs` (default 60 s). */
  nakDelayMs?: number;
  /**
   * While PostgreSQL or nats-server is unreachable a handler is retried in place, without spending a delivery,
   * backing off from `nakDelayMs` up to this (default 5 s) so that it resumes soon after the dependency is back.
   */
  maxOutageRetryDelayMs?: number;
  maxNakDelayMs?: number;
  /** Where a newly provisioned consumer starts: the whole stream (default) or only new events. */
  deliverPolicy?: 'all' | 'new';
  /** Features beyond JetStream on >= 2.9 that the service needs; start-up fails when the server lacks one. */
  requiredFeatures?: ServerFeature[];
  /** Commands handled at once by this replica (default 64). */
  commandConcurrency?: number;
  /** How long close() waits for running handlers (default 30 s). */
  shutdownGraceMs?: number;
  /**
   * How a consumer proves a message is the stored event before acting on it (normally the store's
   * `lookupStoredEvents`). `null` turns the proof off and must be said explicitly: then any well-formed message
   * on the event subjects is acted on, as a forger's would be.
   */
  storedEvents: StoredEventLookup | null;
  /** This service's NATS user (natsAuthFor); empty for a server without authorization. */
  natsAuth?: NatsAuthOptions;
  /** Told about every event, dead letter and command (metrics); none: nothing is measured. */
  observer?: TransportObserver;
  /** Runs each handler in a span continuing the message's trace context (traceparent header); none: no tracing. */
  tracing?: ServiceTracing;
}

/** A durable consumer's backlog as the server counts it. */
export interface ConsumerLag {
  consumer: string;
  type: string;
  /** Messages matching the filter not yet delivered (num_pending). */
  pending: number;
  /** Delivered, not yet acknowledged (num_ack_pending). */
  ackPending: number;
  /** Delivered more than once and still unacknowledged (num_redelivered). */
  redelivered: number;
}

/** Backoff between attempts to re-establish a consumer whose iterator ended (jittered, capped). */
const RECONSUME_BASE_DELAY_MS = 250;
const RECONSUME_MAX_DELAY_MS = 10_000;

/** Extra deliveries the server allows beyond `maxDeliver`, used only to retry recording a dead letter. */
export const DEAD_LETTER_RETRY_MARGIN = 5;

interface EventConsumer extends ConsumerRef {
  type: string;
  handler: MessageHandler;
  concurrency: number;
  messages?: ConsumerMessages;
  loop?: Promise<void>;
  /** The consume loop ended (stopped, or the iterator failed): this replica no longer reads the consumer. */
  ended?: boolean;
  /** How the durable was provisioned: re-provisioned from this when it disappears (deleted, server state lost). */
  spec: ConsumerSpec;
  /** Times the consumer was re-established after its iterator ended. */
  reestablished: number;
}

/**
 * NestJS transport on NATS: `@EventPattern('<EventType>')` handlers read JetStream through one durable pull
 * consumer per (service, event type); `@MessagePattern('<CommandName>')` handlers answer core-NATS requests on
 * `<prefix>.cmd.<CommandName>` in the service's queue group. See libs/messaging/README.md.
 */
export class JetStreamServer extends Server implements CustomTransportStrategy {
  private readonly log: Logger;
  private readonly opts: Required<
    Omit<JetStreamServerOptions, 'deadLetter' | 'storedEvents' | 'natsAuth' | 'observer' | 'tracing'>
  > & {
    deadLetter?: DeadLetterSink;
    natsAuth?: NatsAuthOptions;
    observer?: TransportObserver;
    tracing?: ServiceTracing;
  };
  private readonly proof: StoredEventProof | null;
  private nc?: NatsConnection;
  private js?: JetStreamClient;
  private jsm?: JetStreamManager;
  private consumers: EventConsumer[] = [];
  private subscriptions: Subscription[] = [];
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Last handler error per (consumer, stream sequence), kept for a dead letter whose recording had to be retried. */
  private readonly lastErrors = new Map<string, string>();
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

    if (events.length > 0) await ensureEventStream(jsm, this.opts.stream, this.opts.subjectPrefix);
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
          await ensureEventStream(jsm, this.opts.stream, this.opts.subjectPrefix);
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
        this.processEvent(c, m, proving).finally(() => {
          clearInterval(heartbeat);
          gate.release();
        }),
      );
    }
  }

  private async processEvent(c: EventConsumer, m: JsMsg, proving?: Promise<StoredEventVerdict>): Promise<void> {
    const delivery = m.info.deliveryCount;
    const key = `${c.consumer}#${m.info.streamSequence}`;
    const observer = this.opts.observer;
    observer?.eventReceived(c.type, delivery);
    if (this.proof && !(await this.proveStored(c, m, proving))) {
      observer?.notStored(c.type);
      return;
    }
    const decoded = decodeEventMessage(this.opts.subjectPrefix, m.subject, m.data, m.headers);
    if (!decoded.ok) {
      const detail = decoded.error.issues.map((i) => `${i.path}: ${i.message}`).join('; ');
      await this.giveUp(c, m, {
        eventId: decoded.eventId,
        eventType: decoded.eventType,
        correlationId: null,
        campaignId: parseEventSubject(this.opts.subjectPrefix, m.subject)?.campaignId ?? 'unknown',
        error: `malformed message (${decoded.error.code}): ${decoded.error.message}${detail ? ` — ${detail}` : ''}`,
      });
      return;
    }
    const event = decoded.event;
    const where = {
      eventId: event.id,
      eventType: event.type,
      correlationId: event.correlationId,
      campaignId: event.campaignId,
    };
    if (delivery > this.opts.maxDeliver) {
      // The handler already failed maxDeliver times; only recording the dead letter is left to do.
      await this.giveUp(c, m, {
        ...where,
        error: this.lastErrors.get(key) ?? `handler failed ${this.opts.maxDeliver} times`,
      });
      return;
    }
    for (let outage = 1; ; outage++) {
      const began = observer ? performance.now() : 0;
      try {
        const ctx = new JetStreamEventContext([m, { stream: c.stream, consumer: c.consumer }]);
        const handle = async () => {
          const result = await c.handler(event, ctx);
          await lastValueFrom(this.transformToObservable(result), { defaultValue: undefined });
        };
        const tracing = this.opts.tracing;
        if (tracing)
          await tracing.inSpan(
            `process ${event.type}`,
            SpanKind.CONSUMER,
            ServiceTracing.extract(m.headers),
            eventSpanAttributes(event, m, c.consumer),
            handle,
            event.id,
          );
        else await handle();
        observer?.eventHandled(c.type, (performance.now() - began) / 1000);
        break;
      } catch (err) {
        const unavailable = unavailableDependency(err);
        if (unavailable === null) {
          observer?.eventFailed(c.type, (performance.now() - began) / 1000);
          return this.handlerFailed(c, m, event, where, delivery, err);
        }
        if (this.closing) {
          m.nak(); // another replica (or this one, restarted) takes it; the outage did not count against it
          return;
        }
        // A dependency is down: nothing is wrong with the message, so keep it (the consume loop's heartbeat holds
        // it) and try again here, without spending one of its deliveries. Handlers are idempotent.
        const delay = nakDelay(
          outage,
          this.opts.nakDelayMs,
          Math.min(this.opts.maxNakDelayMs, this.opts.maxOutageRetryDelayMs),
        );
        if (outage === 1 || outage % 10 === 0)
          this.log.warn(
            `${c.consumer}: ${event.type} ${event.id} waits for an unavailable dependency (attempt ${outage}, next in ${delay} ms): ${unavailable}`,
          );
        await new Promise((r) => setTimeout(r, delay));
      }
    }
    this.lastErrors.delete(key);
    try {
      await m.ackAck({ timeout: 10_000 });
    } catch (err) {
      // Not confirmed: the message may come again; handlers are idempotent (at-least-once delivery).
      this.log.warn(`${c.consumer}: ack of ${event.id} not confirmed: ${describeError(err)}`);
    }
  }

  /**
   * Whether the message is the stored event it claims to be. One that is not is dropped (terminated, a warning, a
   * counter), never dead-lettered: a forger must not be able to write into a campaign's log. While the store cannot
   * be asked the message is held and the question retried, without spending a delivery.
   */
  private async proveStored(c: EventConsumer, m: JsMsg, proving?: Promise<StoredEventVerdict>): Promise<boolean> {
    const proof = this.proof as StoredEventProof;
    for (let outage = 1; ; outage++) {
      try {
        const verdict = await (outage === 1 && proving ? proving : proof.verify(m.subject, m.data));
        if (verdict.stored) return true;
        this.log.warn(
          `${c.consumer}: dropped message ${m.info.streamSequence} on ${m.subject}: not a stored event (${verdict.reason}); ${proof.counters.dropped} dropped so far`,
        );
        m.term();
        return false;
      } catch (err) {
        if (this.closing) {
          m.nak();
          return false;
        }
        const delay = nakDelay(
          outage,
          this.opts.nakDelayMs,
          Math.min(this.opts.maxNakDelayMs, this.opts.maxOutageRetryDelayMs),
        );
        if (outage === 1 || outage % 10 === 0)
          this.log.warn(
            `${c.consumer}: cannot check message ${m.info.streamSequence} against the store (attempt ${outage}, next in ${delay} ms): ${describeError(err)}`,
          );
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /** A handler error that is not an outage: counts against the message's deliveries, then dead-letters it. */
  private async handlerFailed(
    c: EventConsumer,
    m: JsMsg,
    event: { type: string; id: string },
    where: { eventId: string; eventType: string; correlationId: string | null; campaignId: string },
    delivery: number,
    err: unknown,
  ): Promise<void> {
    const error = describeError(err);
    if (delivery >= this.opts.maxDeliver) {
      this.log.warn(
        `${c.consumer}: ${event.type} ${event.id} failed on delivery ${delivery}/${this.opts.maxDeliver}, dead-lettering: ${error}`,
      );
      await this.giveUp(c, m, { ...where, error });
    } else {
      const delay = nakDelay(delivery, this.opts.nakDelayMs, this.opts.maxNakDelayMs);
      this.log.warn(
        `${c.consumer}: ${event.type} ${event.id} failed on delivery ${delivery}/${this.opts.maxDeliver}, retry in ${delay} ms: ${error}`,
      );
      m.nak(delay);
    }
  }

  private async giveUp(
    c: EventConsumer,
    m: JsMsg,
    what: {
      eventId: string | null;
      eventType: string | null;
      correlationId: string | null;
      campaignId: string;
      error: string;
    },
  ): Promise<void> {
    const key = `${c.consumer}#${m.info.streamSequence}`;
    const record = {
      stream: c.stream,
      consumer: c.consumer,
      subject: m.subject,
      streamSequence: m.info.streamSequence,
      deliveries: m.info.deliveryCount,
      ...what,
    };
    try {
      if (this.opts.deadLetter) await this.opts.deadLetter(record);
      else this.log.error(`dead letter (no sink configured): ${JSON.stringify(record)}`);
    } catch (err) {
      // Keep the message: it comes back and only the recording is retried (server max_deliver has a margin).
      this.lastErrors.set(key, what.error);
      this.log.error(
        `${c.consumer}: could not record dead letter for sequence ${record.streamSequence}: ${describeError(err)}`,
      );
      m.nak(nakDelay(m.info.deliveryCount, this.opts.nakDelayMs, this.opts.maxNakDelayMs));
      return;
    }
    this.lastErrors.delete(key);
    this.opts.observer?.deadLettered(what.eventType ?? 'unknown');
    // No reason text: nats-server 2.9 does not recognise "+TERM <reason>" and would leave the message pending.
    m.term();
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
        this.track(this.processCommand(name, handler, msg).finally(() => gate.release()));
      }
    })().catch((err) => this.log.error(`command subscription ${name} stopped: ${String(err)}`));
  }

  private async processCommand(name: string, handler: MessageHandler, msg: Msg): Promise<void> {
    const began = this.opts.observer ? performance.now() : 0;
    let reply: CommandReply;
    const decoded = decodeCommandRequest(name, msg.data);
    if (!decoded.ok) reply = decoded.reply;
    else {
      const command = decoded.command;
      try {
        const ctx = new CommandContext([msg, command]);
        const run = async () =>
          lastValueFrom(this.transformToObservable(await handler(command, ctx)), { defaultValue: undefined });
        const tracing = this.opts.tracing;
        const value = tracing
          ? await tracing.inSpan(
              `handle ${name}`,
              SpanKind.SERVER,
              ServiceTracing.extract(msg.headers),
              { 'messaging.system': 'nats', 'aevo.command': name, 'aevo.command_id': command.commandId },
              run,
              command.commandId,
            )
          : await run();
        reply = okReply(command.commandId, value);
      } catch (err) {
        const failed = errorReplyOf(command.commandId, err);
        reply = failed;
        if (failed.error.code === 'INTERNAL')
          this.log.error(`${name} ${command.commandId} failed: ${describeError(err)}`);
      }
    }
    this.opts.observer?.commandAnswered(name, reply.ok ? 'ok' : reply.error.code, (performance.now() - began) / 1000);
    if (!msg.reply) return; // published without a reply subject: nothing to answer
    try {
      msg.respond(JSON.stringify(reply));
    } catch (err) {
      this.log.error(`could not reply to ${name}: ${describeError(err)}`);
      msg.respond(JSON.stringify(errorReplyOf(reply.commandId, new Error('reply could not be serialised'))));
    }
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

/** What a handler span says about the message: OpenTelemetry messaging conventions plus the envelope's ids. */
function eventSpanAttributes(
  event: { id: string; type: string; campaignId: string; causationId: string | null; correlationId: string | null },
  m: JsMsg,
  consumer: string,
): Record<string, string | number> {
  const attrs: Record<string, string | number> = {
    'messaging.system': 'nats',
    'messaging.operation.type': 'process',
    'messaging.destination.name': m.subject,
    'messaging.consumer.group.name': consumer,
    'messaging.message.id': event.id,
    'aevo.event.type': event.type,
    'aevo.campaign_id': event.campaignId,
    'aevo.delivery': m.info.deliveryCount,
  };
  if (event.causationId) attrs['aevo.causation_id'] = event.causationId;
  if (event.correlationId) attrs['aevo.correlation_id'] = event.correlationId;
  return attrs;
}

function describeError(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  if (err !== null && typeof err === 'object') {
    const m = (err as { message?: unknown }).message;
    if (typeof m === 'string') return m;
    try {
      return JSON.stringify(err);
    } catch {
      return String(err);
    }
  }
  return String(err);
}
