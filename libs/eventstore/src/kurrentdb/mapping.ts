/**
 * Pure translations between the EventStore port and KurrentDB's model: expected versions, the concurrency error,
 * stream names, event records and the gap-free position index. No I/O here, so every rule is unit-tested.
 */
import { createHash } from 'node:crypto';
import type { EventEnvelope } from '@aevo/contracts';
import { ConcurrencyError, type AppendOptions, type ExpectedVersion, type StoredEvent } from '../port';

/** The client's expected stream state: 'any', 'no_stream' or a 0-based revision. */
export type KurrentStreamState = 'any' | 'no_stream' | bigint;

/**
 * Our versions count events (a new stream is at 0, after its first event at 1); KurrentDB revisions number them
 * from 0. So version v ≥ 1 is revision v − 1, and version 0 is "the stream does not exist".
 */
export function toStreamState(expected: ExpectedVersion): KurrentStreamState {
  if (expected === 'any') return 'any';
  if (expected === 'no-stream' || expected === 0) return 'no_stream';
  return BigInt(expected - 1);
}

/** The client's `actualState` of a WrongExpectedVersionError ('no_stream' or the last revision) as our version. */
export function versionFromCurrent(current: unknown): number {
  if (typeof current === 'bigint') return Number(current) + 1;
  if (typeof current === 'number') return current + 1;
  return 0;
}

/** A WrongExpectedVersionError of the client (matched by shape, so a second copy of the client still maps). */
export function isWrongExpectedVersion(err: unknown): err is { type: string; actualState: unknown } {
  const e = err as { type?: unknown; name?: unknown };
  return e?.type === 'wrong-expected-version' || e?.name === 'WrongExpectedVersionError';
}

/**
 * Maps the client's concurrency error to ours (with the stream's actual version); anything else is returned unchanged.
 */
export function mapAppendError(err: unknown, streamId: string, expected: ExpectedVersion): unknown {
  if (isWrongExpectedVersion(err)) return new ConcurrencyError(streamId, expected, versionFromCurrent(err.actualState));
  return err;
}

/** Where a store's streams live in KurrentDB: events under `<ns>:`, command records under `<ns>-command:`. */
export interface StreamNames {
  namespace: string;
  eventPrefix: string;
  event(streamId: string): string;
  command(commandId: string): string;
  /** The hash chain: one link per position, link of position p at revision p − 1. */
  chain: string;
  /** Our stream id of a KurrentDB stream name under the event prefix, or null. */
  streamIdOf(name: string): string | null;
}

export function streamNames(namespace: string): StreamNames {
  if (!/^[A-Za-z0-9_-]+$/.test(namespace))
    throw new Error(`KurrentDB namespace "${namespace}": expected letters, digits, "_" or "-"`);
  const eventPrefix = `${namespace}:`;
  return {
    namespace,
    eventPrefix,
    event: (streamId) => `${eventPrefix}${streamId}`,
    // Hashed: command ids are free text up to 200 characters; the stream name stays short and fixed-length.
    command: (commandId) => `${namespace}-command:${createHash('sha256').update(commandId, 'utf8').digest('hex')}`,
    chain: `${namespace}-chain`,
    streamIdOf: (name) => (name.startsWith(eventPrefix) ? name.slice(eventPrefix.length) : null),
  };
}

/** W3C trace context of the code that appended (AppendOptions.traceContext). */
export type TraceContext = NonNullable<AppendOptions['traceContext']>;

/**
 * The envelope fields kept in the KurrentDB event's metadata; `data` and `type` and `id` are the event's own. The
 * append's command id and trace context ride along, as PostgreSQL keeps them in its `metadata` column.
 */
export interface EnvelopeMetadata {
  schemaVersion: number;
  streamId: string;
  campaignId: string;
  causationId: string | null;
  correlationId: string | null;
  time: string;
  source: string;
  commandId?: string;
  traceparent?: string;
  tracestate?: string;
}

export function envelopeMetadata(
  e: EventEnvelope,
  commandId: string | null,
  trace: TraceContext | null = null,
): EnvelopeMetadata {
  return {
    schemaVersion: e.schemaVersion,
    streamId: e.streamId,
    campaignId: e.campaignId,
    causationId: e.causationId ?? null,
    correlationId: e.correlationId ?? null,
    time: e.time,
    source: e.source,
    ...appendMetadata(commandId, trace),
  };
}

/**
 * What PostgreSQL records as an append's metadata — `{commandId?, traceparent?, tracestate?}` — and hashes into
 * each event's chain link: built the same way here, so the same log gives the same links on both stores.
 */
export function appendMetadata(commandId: string | null, trace: TraceContext | null): Record<string, string> {
  return {
    ...(commandId !== null ? { commandId } : {}),
    ...(trace ? { traceparent: trace.traceparent, ...(trace.tracestate ? { tracestate: trace.tracestate } : {}) } : {}),
  };
}

/** An event as the index keeps it: the envelope, and the command id and trace context it was appended with. */
export type IndexedEnvelope = EventEnvelope & { commandId: string | null; trace?: TraceContext | null };

/** An event as the client returns it (the fields we use). */
export interface ClientRecordedEvent {
  streamId: string;
  id: string;
  revision: bigint;
  type: string;
  data: unknown;
  metadata?: unknown;
  position?: { commit: bigint; prepare: bigint };
}

/** Rebuilds our envelope from a KurrentDB event; throws when the metadata is not ours (a foreign writer). */
export function envelopeFromRecord(r: ClientRecordedEvent): IndexedEnvelope {
  const m = r.metadata as Partial<EnvelopeMetadata> | undefined;
  if (!m || typeof m !== 'object' || typeof m.streamId !== 'string' || typeof m.campaignId !== 'string')
    throw new Error(`event ${r.id} in ${r.streamId} carries no aevo envelope metadata`);
  return {
    id: r.id,
    type: r.type,
    schemaVersion: m.schemaVersion as number,
    streamId: m.streamId,
    campaignId: m.campaignId,
    causationId: m.causationId ?? null,
    correlationId: m.correlationId ?? null,
    time: m.time as string,
    source: m.source as EventEnvelope['source'],
    data: r.data === undefined ? null : r.data,
    commandId: typeof m.commandId === 'string' ? m.commandId : null,
    trace:
      typeof m.traceparent === 'string'
        ? { traceparent: m.traceparent, ...(typeof m.tracestate === 'string' ? { tracestate: m.tracestate } : {}) }
        : null,
  } as IndexedEnvelope;
}

/** A `$all` position; compared as (commit, prepare). */
export interface AllPosition {
  commit: bigint;
  prepare: bigint;
}

export function compareAllPositions(a: AllPosition, b: AllPosition): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  if (a.prepare !== b.prepare) return a.prepare < b.prepare ? -1 : 1;
  return 0;
}

/**
 * Our gap-free position of each event: its 1-based ordinal among this store's events in `$all` order. `$all`
 * positions are byte offsets with gaps (other streams, system events, commit records); the ordinal has none and
 * keeps `$all`'s commit order, which every reader of `$all` sees the same. `add` must be called in `$all` order.
 */
export class PositionIndex {
  private readonly events: Array<StoredEvent & { commandId: string | null; trace: TraceContext | null }> = [];
  private readonly allPositions: AllPosition[] = [];
  private readonly byId = new Map<string, number>();
  private readonly byStream = new Map<string, number[]>();

  get head(): number {
    return this.events.length;
  }

  /** `$all` position of the last indexed event (null when none). */
  get lastAllPosition(): AllPosition | null {
    return this.allPositions[this.allPositions.length - 1] ?? null;
  }

  /** Adds the next event in `$all` order and returns its position; an event already indexed keeps its position. */
  add(envelope: IndexedEnvelope, revision: bigint, at: AllPosition): number {
    const last = this.lastAllPosition;
    if (last && compareAllPositions(at, last) <= 0) {
      const known = this.byId.get(envelope.id);
      if (known !== undefined) return known;
      throw new Error(
        `event ${envelope.id} at $all ${at.commit}/${at.prepare} arrived after ${last.commit}/` +
          `${last.prepare}: $all must be read in order`,
      );
    }
    const position = this.events.length + 1;
    this.events.push({ ...envelope, trace: envelope.trace ?? null, position, streamVersion: Number(revision) + 1 });
    this.allPositions.push(at);
    // The first stored copy of an id wins: a later copy (another store instance racing the same new id) is still
    // in the log, but lookups answer with the first.
    if (!this.byId.has(envelope.id)) this.byId.set(envelope.id, position);
    const list = this.byStream.get(envelope.streamId) ?? [];
    list.push(position);
    this.byStream.set(envelope.streamId, list);
    return position;
  }

  positionOfId(id: string): number | undefined {
    return this.byId.get(id);
  }

  /** The event at a position, as read (without the commandId and trace context we keep beside it). */
  at(position: number): StoredEvent {
    const { commandId: _c, trace: _t, ...e } = this.events[position - 1];
    return e;
  }

  commandIdAt(position: number): string | null {
    return this.events[position - 1].commandId;
  }

  /** The trace context the event at a position was appended with (null when none). */
  traceContextAt(position: number): TraceContext | null {
    return this.events[position - 1].trace;
  }

  /** The append metadata of the event at a position, as PostgreSQL would record it (see appendMetadata). */
  appendMetadataAt(position: number): Record<string, string> {
    const e = this.events[position - 1];
    return appendMetadata(e.commandId, e.trace);
  }

  /** `$all` position of our position p (p ≥ 1). */
  allPositionOf(position: number): AllPosition {
    return this.allPositions[position - 1];
  }

  /** True once an event at or after `$all` position `p` is indexed. */
  reached(p: AllPosition): boolean {
    const last = this.lastAllPosition;
    return last !== null && compareAllPositions(last, p) >= 0;
  }

  streamVersion(streamId: string): number {
    const list = this.byStream.get(streamId);
    return list ? this.events[list[list.length - 1] - 1].streamVersion : 0;
  }

  readStream(streamId: string, fromVersion: number): StoredEvent[] {
    return (this.byStream.get(streamId) ?? []).map((p) => this.at(p)).filter((e) => e.streamVersion >= fromVersion);
  }

  readAll(after: number, filter: { limit?: number; campaignId?: string; types?: string[] }): StoredEvent[] {
    const out: StoredEvent[] = [];
    const types = filter.types ? new Set(filter.types) : null;
    for (let p = after + 1; p <= this.events.length; p++) {
      const e = this.events[p - 1];
      if (filter.campaignId !== undefined && e.campaignId !== filter.campaignId) continue;
      if (types && !types.has(e.type)) continue;
      out.push(this.at(p));
      if (filter.limit !== undefined && out.length >= filter.limit) break;
    }
    return out;
  }
}
