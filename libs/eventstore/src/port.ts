import { DomainError, type EventEnvelope } from '@aevo/contracts';
import type { ChainLinkRow, ChainReport } from './chain/chain';

/**
 * Expected stream version for optimistic concurrency. Stream versions count events: a new stream is at 0,
 * after its first event at 1. 'no-stream' ≡ 0; 'any' skips the check.
 */
export type ExpectedVersion = number | 'any' | 'no-stream';

/** An event as the store returns it: the envelope plus its place in the log. */
export type StoredEvent = EventEnvelope & {
  /** Global, gap-free-in-commit-order position (1-based). */
  position: number;
  /** 1-based version of this event within its stream. */
  streamVersion: number;
};

export interface AppendOptions {
  /**
   * Idempotency key: when a previous append carried the same commandId, nothing is written and the
   * earlier result is returned with `duplicate: true`.
   */
  commandId?: string;
  /**
   * JSON value recorded with the commandId in the same transaction (e.g. what a decider answered); a retried
   * commandId gets it back as `commandResult`. Ignored without a commandId.
   */
  commandResult?: unknown;
  /**
   * W3C trace context (https://www.w3.org/TR/trace-context/) of the code that appends, recorded in the append's
   * metadata so that the relay puts it on the NATS headers of each event and consumers continue the trace.
   * Optional: observability only, never part of the event or of a decision.
   */
  traceContext?: { traceparent: string; tracestate?: string };
}

export interface AppendResult {
  streamId: string;
  /**
   * Stream version after the append (pass it as the next expected version). For a duplicate, the first append's
   * value: the stream may have moved on since.
   */
  nextExpectedVersion: number;
  /** Positions of the appended events; for a duplicate, those written by the first append (nothing new is written). */
  positions: number[];
  duplicate: boolean;
  /** The `commandResult` recorded by the first append with this commandId (undefined when none was given). */
  commandResult?: unknown;
}

export interface ReadAllOptions {
  /** Exclusive lower bound: events with position > fromPosition. */
  fromPosition?: number;
  limit?: number;
  campaignId?: string;
  types?: string[];
}

export interface Subscription {
  /** Resolves when the subscription has stopped (after close()). */
  readonly done: Promise<void>;
  close(): Promise<void>;
}

/** The port every event store adapter implements and the shared contract test suite checks. */
export interface EventStore {
  append(
    streamId: string,
    expected: ExpectedVersion,
    events: EventEnvelope[],
    opts?: AppendOptions,
  ): Promise<AppendResult>;
  readStream(streamId: string, fromVersion?: number): Promise<StoredEvent[]>;
  readAll(opts?: ReadAllOptions): Promise<StoredEvent[]>;
  /** Current version of a stream (0 when it does not exist). */
  streamVersion(streamId: string): Promise<number>;
  /** Highest committed position (0 when empty). */
  headPosition(): Promise<number>;
  /** Catches up from `fromPosition` (exclusive), then follows new events in order, awaiting the handler. */
  subscribe(
    fromPosition: number,
    handler: (e: StoredEvent) => Promise<void>,
    opts?: { campaignId?: string },
  ): Subscription;
  /**
   * The recorded outcome of an earlier append that carried `commandId` (as a retry of it would return, with
   * `duplicate: true`), or null. Optional: lets a command handler answer a retry before deciding again.
   */
  commandOutcome?(commandId: string): Promise<AppendResult | null>;
  /**
   * Calls `fn` soon after appends commit (best effort: a notification can be missed, so pair it with a slow poll).
   * Optional: lets a reader wait for the next append instead of polling at a fixed interval. Returns an unregister
   * function. `types`, when the store knows them, are the event types the commit appended (none other): a reader
   * waiting for other types may skip that notification; without `types` any notification may concern any reader.
   */
  onHeadMoved?(fn: (head: number | null, types?: ReadonlySet<string>) => void): () => void;
  /** Recomputes the log's hash chain (see chain/chain.ts). Optional: for stores that keep one. */
  verifyChain?(opts?: { toPosition?: number }): Promise<ChainReport>;
  /**
   * Recorded ids and hashes after `fromPosition`, in position order (to compare a copy of the log). Optional, as
   * verifyChain.
   */
  readChainLinks?(fromPosition: number, limit: number): Promise<ChainLinkRow[]>;
  /**
   * Where each of the given event ids is stored and the hash of its stored envelope (ids not stored are absent).
   * Optional, as verifyChain: a consumer uses it to act only on messages that are provably the stored events.
   */
  lookupStoredEvents?(eventIds: readonly string[]): Promise<Map<string, StoredEventLink>>;
  close(): Promise<void>;
}

/** What the store holds about one event: enough to prove that a message carrying it is the stored one. */
export interface StoredEventLink {
  position: number;
  streamVersion: number;
  /** eventContentHash of the envelope as stored (chain/chain.ts). */
  contentHash: string;
}

export class ConcurrencyError extends DomainError {
  constructor(
    public readonly streamId: string,
    public readonly expected: ExpectedVersion,
    public readonly actual: number,
  ) {
    super('CONCURRENCY_CONFLICT', `stream ${streamId} is at version ${actual}, expected ${String(expected)}`, [
      { path: 'expectedVersion', message: `expected ${String(expected)}, stream is at ${actual}` },
    ]);
    this.name = 'ConcurrencyError';
  }
}
