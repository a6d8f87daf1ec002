import type { StoredEvent } from '@aevo/eventstore';

/**
 * A read model rebuilt by folding the log from position 0.
 *
 * Rules (the audit depends on them):
 * - `apply` is a pure fold step: it reads only `state` and the event's `type`, `campaignId`, `streamId` and `data`
 *   — never the event id, `time`, `position`, `streamVersion`, the clock, randomness or I/O. It returns the next
 *   state and may reuse (mutate) the given one: replay owns it and nothing else holds a reference.
 * - `snapshot` returns plain JSON whose canonical hash (`contentHash`) is the projection hash. It must not depend
 *   on arrival order across streams: key maps by id, sort arrays by a stable key.
 * - Then replaying the same log twice yields the same hash, and, for a projection marked `deterministic`, an
 *   undisturbed run and a disturbed run (crashes, redeliveries, retries) with the same seed hash equal too.
 */
export interface Projection<S = unknown, Snap = unknown> {
  /** Unique, kebab-case; printed by `aevo audit replay`. */
  readonly name: string;
  readonly description: string;
  /** Event types it reads; other events are not passed to `apply`. Omit to receive every event. */
  readonly eventTypes?: readonly string[];
  /**
   * True (default) when the snapshot describes outcomes only, so a disturbed run with the same seed must hash
   * equal. False for operational views (job attempts and the like) that legitimately differ.
   */
  readonly deterministic?: boolean;
  initial(): S;
  apply(state: S, event: StoredEvent): S;
  snapshot(state: S): Snap;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyProjection = Projection<any, unknown>;

/** Helper that keeps the state type of a projection literal. */
export const defineProjection = <S, Snap>(p: Projection<S, Snap>): Projection<S, Snap> => p;

/**
 * An empty null-prototype record, for objects keyed by external ids: a campaign named "constructor" or "__proto__"
 * is then an ordinary key. It serialises exactly like a plain object, so projection hashes do not change.
 */
export const nullRecord = <V>(): Record<string, V> => Object.create(null) as Record<string, V>;

/** Sorted entries → object, so snapshots are independent of insertion order (canonicalJson sorts keys too). */
export function sortedRecord<V, O>(map: Map<string, V>, f: (v: V, k: string) => O): Record<string, O> {
  const out = nullRecord<O>();
  for (const k of [...map.keys()].sort()) out[k] = f(map.get(k) as V, k);
  return out;
}
