import type { DataOf, EventDefinition } from './envelope';

/** `{ type, data }` of each listed event definition: an aggregate's events as its decider sees them. */
export type EventUnionOf<Defs extends readonly EventDefinition[]> = {
  [K in keyof Defs]: Defs[K] extends EventDefinition ? { type: Defs[K]['type']; data: DataOf<Defs[K]> } : never;
}[number];

/** An aggregate's events, listed once: the union type, its type names and a type guard all come from the list. */
export interface EventUnion<U extends { type: string }> {
  readonly definitions: readonly EventDefinition[];
  /** The type names, e.g. to read only these events from the store. */
  readonly types: ReadonlySet<U['type']>;
  readonly typeList: ReadonlyArray<U['type']>;
  /** Narrows an event to the union by its type (its data was validated against the schema when it was parsed). */
  is<E extends { type: string; data?: unknown }>(e: E): e is E & U;
}

/**
 * `eventUnion(JobQueued, JobStarted, …)`: the union of those events (`EventUnionOf`), the set of their names and a
 * guard, so an aggregate never keeps a hand-written list beside its type or casts a stored event into it.
 */
export function eventUnion<const Defs extends readonly EventDefinition[]>(
  ...defs: Defs
): EventUnion<EventUnionOf<Defs>> {
  type U = EventUnionOf<Defs>;
  const typeList = defs.map((d) => d.type) as Array<U['type']>;
  if (new Set(typeList).size !== typeList.length)
    throw new Error(`eventUnion: an event is listed twice (${typeList.join(', ')})`);
  const types: ReadonlySet<U['type']> = new Set(typeList);
  return {
    definitions: defs,
    types,
    typeList,
    is: <E extends { type: string; data?: unknown }>(e: E): e is E & U => types.has(e.type as U['type']),
  };
}

/** The event type of an `eventUnion(...)`: `type JobEvent = EventOfUnion<typeof JOB_EVENTS>`. */
export type EventOfUnion<X> = X extends EventUnion<infer U> ? U : never;
