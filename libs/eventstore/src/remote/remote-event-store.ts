import type { NatsConnection, Subscription as NatsSubscription } from '@nats-io/nats-core';
import { DomainError, type EventEnvelope } from '@aevo/contracts';
import type { ChainLinkRow, ChainReport } from '../chain/chain';
import { PollingSubscription } from '../polling-subscription';
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
import { validateAppend, validatePosition, validateReadAll } from '../validation';
import {
  fromWireError,
  storeHeadSubject,
  storeSubject,
  type EventPage,
  type StoreOp,
  type StoreReply,
  storeUnavailable,
} from './protocol';

export interface RemoteEventStoreOptions {
  /** A connection to the local NATS (in a compute cluster: the leaf node); closed with the store only if owned. */
  nc: NatsConnection;
  /** Subject prefix the gateway serves. */
  prefix: string;
  /** How long one request waits for the gateway (default 10 s). */
  timeoutMs?: number;
  /** Fallback poll of a subscription when no head announcement arrives (default 2 s). */
  pollIntervalMs?: number;
  /** Bytes of events asked for per page (default 512 KiB; the gateway caps it below the server's max payload). */
  pageBytes?: number;
  /** Close `nc` with the store (when the store opened it, as openEventStoreFromEnv does). */
  ownsConnection?: boolean;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The event store port for a compute cluster, over NATS request/reply to a StoreGateway in the control cluster
 * (see remote/protocol.ts): no PostgreSQL connection of its own. Appends keep their optimistic concurrency and
 * idempotency (the store behind the gateway decides); reads page through large answers; subscriptions are
 * catch-up-then-follow over readAll, woken by the gateway's head announcements.
 *
 * A request that times out is ambiguous for an append (it may have committed): the caller's command id makes the
 * retry safe, as it does for a local store that lost its connection after COMMIT.
 */
export class RemoteEventStore implements EventStore {
  private readonly timeoutMs: number;
  private readonly pageBytes: number;
  private closed = false;
  private readonly headSubs = new Set<NatsSubscription>();
  private readonly subscriptions = new Set<Subscription>();

  constructor(private readonly opts: RemoteEventStoreOptions) {
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.pageBytes = opts.pageBytes ?? 512 * 1024;
  }

  private async request<T>(op: StoreOp, body: object): Promise<T> {
    if (this.closed) throw new Error('RemoteEventStore is closed');
    const data = encoder.encode(JSON.stringify(body));
    const max = this.opts.nc.info?.max_payload ?? 1024 * 1024;
    if (data.length > max)
      throw new DomainError(
        'PAYLOAD_TOO_LARGE',
        `${op}: the request (${data.length} bytes) exceeds the NATS max payload (${max} bytes)`,
        [{ path: op === 'append' ? 'events' : '(root)', message: `at most ${max} bytes serialised` }],
      );
    let answer;
    try {
      answer = await this.opts.nc.request(storeSubject(this.opts.prefix, op), data, { timeout: this.timeoutMs });
    } catch (err) {
      const e = err as Error & { code?: string };
      const why = /timeout/i.test(`${e.code ?? ''} ${e.message}`)
        ? `no answer within ${this.timeoutMs} ms`
        : /no responders/i.test(`${e.code ?? ''} ${e.message}`) || e.name === 'NoRespondersError'
          ? 'no store gateway is listening'
          : e.message;
      throw storeUnavailable(`event store gateway on ${this.opts.prefix}.store.${op}: ${why}`);
    }
    const reply = JSON.parse(decoder.decode(answer.data)) as StoreReply<T>;
    if (!reply.ok) throw fromWireError(reply.error);
    return reply.value;
  }

  async append(
    streamId: string,
    expected: ExpectedVersion,
    events: EventEnvelope[],
    opts: AppendOptions = {},
  ): Promise<AppendResult> {
    // Refused here with the same errors as a local store, before a round trip.
    validateAppend(streamId, expected, events, opts);
    return this.request<AppendResult>('append', {
      streamId,
      expected,
      events,
      ...(Object.keys(opts).length ? { opts } : {}),
    });
  }

  async readStream(streamId: string, fromVersion?: number): Promise<StoredEvent[]> {
    const out: StoredEvent[] = [];
    let from = fromVersion;
    for (;;) {
      const page = await this.request<EventPage<StoredEvent>>('readStream', {
        streamId,
        ...(from !== undefined ? { fromVersion: from } : {}),
        maxBytes: this.pageBytes,
      });
      out.push(...page.events);
      if (!page.more || page.events.length === 0) return out;
      from = page.events[page.events.length - 1].streamVersion + 1;
    }
  }

  async readAll(opts: ReadAllOptions = {}): Promise<StoredEvent[]> {
    validateReadAll(opts);
    const out: StoredEvent[] = [];
    let from = opts.fromPosition ?? 0;
    for (;;) {
      const left = opts.limit === undefined ? undefined : opts.limit - out.length;
      if (left !== undefined && left <= 0) return out;
      const page = await this.request<EventPage<StoredEvent>>('readAll', {
        fromPosition: from,
        ...(left !== undefined ? { limit: left } : {}),
        ...(opts.campaignId !== undefined ? { campaignId: opts.campaignId } : {}),
        ...(opts.types !== undefined ? { types: opts.types } : {}),
        maxBytes: this.pageBytes,
      });
      out.push(...page.events);
      if (!page.more || page.events.length === 0) return out;
      from = page.events[page.events.length - 1].position;
    }
  }

  streamVersion(streamId: string): Promise<number> {
    return this.request('streamVersion', { streamId });
  }

  headPosition(): Promise<number> {
    return this.request('headPosition', {});
  }

  commandOutcome(commandId: string): Promise<AppendResult | null> {
    return this.request('commandOutcome', { commandId });
  }

  async lookupStoredEvents(eventIds: readonly string[]): Promise<Map<string, StoredEventLink>> {
    return new Map(await this.request<[string, StoredEventLink][]>('lookupStoredEvents', { eventIds }));
  }

  verifyChain(opts: { toPosition?: number } = {}): Promise<ChainReport> {
    return this.request('verifyChain', opts);
  }

  readChainLinks(fromPosition: number, limit: number): Promise<ChainLinkRow[]> {
    return this.request('readChainLinks', { fromPosition, limit });
  }

  onHeadMoved(fn: (head: number | null, types?: ReadonlySet<string>) => void): () => void {
    const sub = this.opts.nc.subscribe(storeHeadSubject(this.opts.prefix), {
      callback: (err, msg) => {
        if (err) return;
        try {
          const { head, types } = JSON.parse(decoder.decode(msg.data)) as { head: unknown; types?: unknown };
          const named = Array.isArray(types) && types.every((t) => typeof t === 'string');
          fn(typeof head === 'number' ? head : null, named ? new Set(types as string[]) : undefined);
        } catch {
          fn(null);
        }
      },
    });
    this.headSubs.add(sub);
    return () => {
      this.headSubs.delete(sub);
      sub.unsubscribe();
    };
  }

  subscribe(
    fromPosition: number,
    handler: (e: StoredEvent) => Promise<void>,
    opts: { campaignId?: string; types?: string[] } = {},
  ): Subscription {
    if (this.closed) throw new Error('RemoteEventStore is closed');
    validatePosition('fromPosition', fromPosition);
    const sub = new PollingSubscription({
      fromPosition,
      handler,
      readPage: (after, limit) =>
        this.readAll({ fromPosition: after, limit, campaignId: opts.campaignId, types: opts.types }),
      onWake: (fn) => this.onHeadMoved(() => fn()),
      pollIntervalMs: this.opts.pollIntervalMs ?? 2000,
    });
    this.subscriptions.add(sub);
    void sub.done.finally(() => this.subscriptions.delete(sub)).catch(() => undefined);
    return sub;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.allSettled([...this.subscriptions].map((s) => s.close()));
    this.closed = true;
    for (const s of this.headSubs) s.unsubscribe();
    this.headSubs.clear();
    if (this.opts.ownsConnection) await this.opts.nc.close();
  }
}
