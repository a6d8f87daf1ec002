import type { Logger } from '@nestjs/common';
import type { JsMsg } from '@nats-io/jetstream';
import { lastValueFrom, type Observable } from 'rxjs';
import { parseEventSubject } from './subjects';
import { decodeEventMessage } from './event-decoding';
import { JetStreamEventContext } from './contexts';
import { nakDelay } from './backoff';
import { unavailableDependency } from './unavailable';
import { describeError } from './describe-error';
import type { StoredEventProof, StoredEventVerdict } from './stored-event-proof';
import { ServiceTracing, SpanKind } from './observability/tracing';
import type { EventConsumer, ResolvedServerOptions } from './jetstream.options';

/** What event delivery needs of the server that owns it. */
export interface DeliveryHost {
  /** The server is closing: hand messages back rather than wait. */
  closing(): boolean;
  /** Nest's conversion of a handler's result (value, promise or observable) to an observable. */
  toObservable(result: unknown): Observable<unknown>;
}

/**
 * One delivered event, from receipt to settlement: the stored-event proof, decoding, the handler (in a span when
 * tracing), retries in place while a dependency is down, naks with backoff, and the dead letter after maxDeliver.
 */
export class EventDelivery {
  /** Last handler error per (consumer, stream sequence), kept for a dead letter whose recording had to be retried. */
  private readonly lastErrors = new Map<string, string>();

  constructor(
    private readonly opts: ResolvedServerOptions,
    private readonly log: Logger,
    private readonly proof: StoredEventProof | null,
    private readonly host: DeliveryHost,
  ) {}

  async process(c: EventConsumer, m: JsMsg, proving?: Promise<StoredEventVerdict>): Promise<void> {
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
          await lastValueFrom(this.host.toObservable(result), { defaultValue: undefined });
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
        if (this.host.closing()) {
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
            `${c.consumer}: ${event.type} ${event.id} waits for an unavailable dependency (attempt ${outage}, next ` +
              `in ${delay} ms): ${unavailable}`,
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
          `${c.consumer}: dropped message ${m.info.streamSequence} on ${m.subject}: not a stored event ` +
            `(${verdict.reason}); ${proof.counters.dropped} dropped so far`,
        );
        m.term();
        return false;
      } catch (err) {
        if (this.host.closing()) {
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
            `${c.consumer}: cannot check message ${m.info.streamSequence} against the store (attempt ${outage}, next ` +
              `in ${delay} ms): ${describeError(err)}`,
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
        `${c.consumer}: ${event.type} ${event.id} failed on delivery ${delivery}/${this.opts.maxDeliver}, ` +
          `dead-lettering: ${error}`,
      );
      await this.giveUp(c, m, { ...where, error });
    } else {
      const delay = nakDelay(delivery, this.opts.nakDelayMs, this.opts.maxNakDelayMs);
      this.log.warn(
        `${c.consumer}: ${event.type} ${event.id} failed on delivery ${delivery}/${this.opts.maxDeliver}, retry ` +
          `in ${delay} ms: ${error}`,
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
