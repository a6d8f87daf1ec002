import type { Msg, NatsConnection, Subscription as NatsSubscription } from '@nats-io/nats-core';
import { DomainError } from '@aevo/contracts';
import type { EventEnvelope } from '@aevo/contracts';
import type { EventStore, StoredEvent } from '../port';
import {
  STORE_GATEWAY_QUEUE,
  STORE_OPS,
  StoreRequests,
  storeHeadSubject,
  storeSubject,
  toWireError,
  type EventPage,
  type StoreOp,
  type StoreReply,
} from './protocol';

export interface StoreGatewayOptions {
  nc: NatsConnection;
  /** Subject prefix shared with the remote stores (e.g. `aevo`). */
  prefix: string;
  /** The store this gateway serves (the record: PostgreSQL or KurrentDB in the control cluster). */
  store: EventStore;
  /** Most events one readAll request reads from the store (a page; the remote side asks for the next). */
  pageEvents?: number;
  log?: (level: 'warn' | 'info', message: string) => void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The control-cluster side of the event store over NATS: answers the port's calls for remote stores (queue group,
 * so replicas share the load) and announces new heads. It holds no state of its own; every answer comes from the
 * store behind it, so a remote append gets the same optimistic concurrency, idempotency and chain as a local one.
 */
export class StoreGateway {
  private readonly subs: NatsSubscription[] = [];
  private unregisterHead: (() => void) | null = null;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly pageEvents: number;
  private closed = false;

  private constructor(private readonly opts: StoreGatewayOptions) {
    this.pageEvents = opts.pageEvents ?? 1000;
  }

  static start(opts: StoreGatewayOptions): StoreGateway {
    const gw = new StoreGateway(opts);
    for (const op of STORE_OPS)
      gw.subs.push(
        opts.nc.subscribe(storeSubject(opts.prefix, op), {
          queue: STORE_GATEWAY_QUEUE,
          callback: (err, msg) => {
            if (err) return opts.log?.('warn', `store gateway: ${op} subscription failed: ${err.message}`);
            const p = gw.answer(op, msg).finally(() => gw.inFlight.delete(p));
            gw.inFlight.add(p);
          },
        }),
      );
    // Appends made by anyone (local services, other gateways) move the head: remote subscriptions wake on it.
    gw.unregisterHead = opts.store.onHeadMoved?.((head, types) => gw.announce(head, types)) ?? null;
    return gw;
  }

  /** Stops answering; waits for the answers in flight. Does not close the store or the connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unregisterHead?.();
    for (const s of this.subs) s.unsubscribe();
    await Promise.allSettled([...this.inFlight]);
  }

  private announce(head: number | null, types?: ReadonlySet<string>): void {
    if (this.closed || this.opts.nc.isClosed()) return;
    // The appended types travel with the head when the store named them, so remote waiters can skip the rest.
    const body = types ? { head, types: [...types] } : { head };
    this.opts.nc.publish(storeHeadSubject(this.opts.prefix), encoder.encode(JSON.stringify(body)));
  }

  private async answer(op: StoreOp, msg: Msg): Promise<void> {
    let reply: StoreReply<unknown>;
    try {
      let body: unknown;
      try {
        body = JSON.parse(decoder.decode(msg.data));
      } catch {
        throw new DomainError('INVALID_ARGUMENT', `${op}: the request body is not JSON`, [
          { path: '(root)', message: 'expected a JSON object' },
        ]);
      }
      reply = { ok: true, value: await this.call(op, body) };
    } catch (err) {
      reply = { ok: false, error: toWireError(err) };
    }
    if (!msg.reply) return;
    const data = encoder.encode(JSON.stringify(reply));
    if (data.length > this.maxPayload())
      return void msg.respond(
        encoder.encode(
          JSON.stringify({
            ok: false,
            error: {
              code: 'PAYLOAD_TOO_LARGE',
              message:
                `${op}: the answer (${data.length} bytes) exceeds the NATS max payload (${this.maxPayload()}` +
                ` bytes)`,
              issues: [],
            },
          }),
        ),
      );
    msg.respond(data);
  }

  private maxPayload(): number {
    return this.opts.nc.info?.max_payload ?? 1024 * 1024;
  }

  /** What fits in one answer: the requested budget, and never more than ~90 % of what the server carries. */
  private budget(requested: number): number {
    return Math.min(requested, Math.floor(this.maxPayload() * 0.9) - 1024);
  }

  private async call(op: StoreOp, body: unknown): Promise<unknown> {
    const store = this.opts.store;
    switch (op) {
      case 'append': {
        const r = StoreRequests.append.parse(body);
        const out = await store.append(r.streamId, r.expected, r.events as unknown[] as EventEnvelope[], r.opts);
        if (!out.duplicate && !store.onHeadMoved) this.announce(out.positions[out.positions.length - 1] ?? null);
        return out;
      }
      case 'readStream': {
        const r = StoreRequests.readStream.parse(body);
        return page(await store.readStream(r.streamId, r.fromVersion), this.budget(r.maxBytes), false);
      }
      case 'readAll': {
        const r = StoreRequests.readAll.parse(body);
        const limit = Math.min(r.limit ?? this.pageEvents, this.pageEvents);
        const read = await store.readAll({
          fromPosition: r.fromPosition,
          limit,
          campaignId: r.campaignId,
          types: r.types,
        });
        // A full page may have more behind it (unless the caller's own limit was reached).
        const full = read.length === limit && (r.limit === undefined || r.limit > limit);
        return page(read, this.budget(r.maxBytes), full);
      }
      case 'streamVersion':
        return store.streamVersion(StoreRequests.streamVersion.parse(body).streamId);
      case 'headPosition':
        StoreRequests.headPosition.parse(body);
        return store.headPosition();
      case 'commandOutcome': {
        const r = StoreRequests.commandOutcome.parse(body);
        return store.commandOutcome ? store.commandOutcome(r.commandId) : null;
      }
      case 'lookupStoredEvents': {
        const r = StoreRequests.lookupStoredEvents.parse(body);
        if (!store.lookupStoredEvents) throw unsupported(op);
        return [...(await store.lookupStoredEvents(r.eventIds)).entries()];
      }
      case 'verifyChain': {
        const r = StoreRequests.verifyChain.parse(body);
        if (!store.verifyChain) throw unsupported(op);
        return store.verifyChain(r.toPosition === undefined ? undefined : { toPosition: r.toPosition });
      }
      case 'readChainLinks': {
        const r = StoreRequests.readChainLinks.parse(body);
        if (!store.readChainLinks) throw unsupported(op);
        return store.readChainLinks(r.fromPosition, r.limit);
      }
    }
  }
}

function unsupported(op: StoreOp): DomainError {
  return new DomainError('NOT_SUPPORTED', `${op}: the store behind the gateway does not implement it`, []);
}

/** The leading events that fit in `budget` bytes (at least one, so a page always moves on). */
function page(events: StoredEvent[], budget: number, moreBehind: boolean): EventPage<StoredEvent> {
  let bytes = 0;
  let n = 0;
  for (const e of events) {
    const size = Buffer.byteLength(JSON.stringify(e)) + 1;
    if (n > 0 && bytes + size > budget) break;
    bytes += size;
    n++;
  }
  return { events: n === events.length ? events : events.slice(0, n), more: n < events.length || moreBehind };
}
