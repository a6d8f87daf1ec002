import { z } from 'zod';
import { IsoTime, StreamId, Uuidv7, uuidv7 } from './ids';
import { DomainError, zodIssues } from './errors';

export const ServiceName = z.enum([
  'orchestrator',
  'substrate',
  'worker',
  'dispatch',
  'evaluation',
  'leaderboard',
  'collector',
  'meta-policy',
  'api',
  'cli',
  'platform',
]);
export type ServiceName = z.infer<typeof ServiceName>;

/** Fields every event carries, whatever its type. `data` is validated by the event's own schema. */
export const EventEnvelopeFields = {
  id: Uuidv7,
  type: z.string().regex(/^[A-Z][A-Za-z0-9]+$/, 'expected a PascalCase past-tense event name'),
  schemaVersion: z.number().int().positive(),
  streamId: StreamId,
  campaignId: z.string().min(1),
  causationId: z.string().nullable(),
  correlationId: z.string().nullable(),
  time: IsoTime,
  source: ServiceName,
};
export const EventEnvelope = z.object({ ...EventEnvelopeFields, data: z.unknown() }).strict();
export type EventEnvelope<T extends string = string, D = unknown> = Omit<
  z.infer<typeof EventEnvelope>,
  'type' | 'data'
> & {
  type: T;
  data: D;
};

export interface EventDefinition<T extends string = string, S extends z.ZodType = z.ZodType> {
  type: T;
  version: number;
  /** Services allowed to emit it; normally exactly one (a service owns its events). */
  owners: readonly ServiceName[];
  data: S;
  description: string;
}

const registry = new Map<string, EventDefinition>();

export function defineEvent<T extends string, S extends z.ZodType>(
  type: T,
  opts: { version?: number; owners: readonly ServiceName[]; description: string },
  data: S,
): EventDefinition<T, S> {
  if (registry.has(type)) throw new Error(`event type ${type} defined twice`);
  const def: EventDefinition<T, S> = {
    type,
    version: opts.version ?? 1,
    owners: opts.owners,
    data,
    description: opts.description,
  };
  registry.set(type, def as unknown as EventDefinition);
  return def;
}

export function eventDefinitions(): EventDefinition[] {
  return [...registry.values()].sort((a, b) => a.type.localeCompare(b.type));
}

export function eventDefinition(type: string): EventDefinition | undefined {
  return registry.get(type);
}

export type EventOf<D extends EventDefinition> = EventEnvelope<D['type'], z.infer<D['data']>>;
export type DataOf<D extends EventDefinition> = z.infer<D['data']>;

/** Validates an envelope and its data against the registered schema; throws a DomainError naming each bad field. */
export function parseEvent(raw: unknown): EventEnvelope {
  const env = EventEnvelope.safeParse(raw);
  if (!env.success) throw new DomainError('INVALID_EVENT', 'event envelope does not validate', zodIssues(env.error));
  const def = registry.get(env.data.type);
  if (!def)
    throw new DomainError('UNKNOWN_EVENT_TYPE', `unknown event type "${env.data.type}"`, [
      { path: 'type', message: 'not a registered event type' },
    ]);
  if (env.data.schemaVersion !== def.version)
    throw new DomainError(
      'UNSUPPORTED_SCHEMA_VERSION',
      `${def.type} v${env.data.schemaVersion} is not supported (expected v${def.version})`,
      [{ path: 'schemaVersion', message: `expected ${def.version}` }],
    );
  if (!def.owners.includes(env.data.source))
    throw new DomainError(
      'NOT_EVENT_OWNER',
      `${env.data.source} may not emit ${def.type} (owners: ${def.owners.join(', ')})`,
      [{ path: 'source', message: `expected one of ${def.owners.join(', ')}` }],
    );
  const data = def.data.safeParse(env.data.data);
  if (!data.success)
    throw new DomainError('INVALID_EVENT_DATA', `${def.type} data does not validate`, zodIssues(data.error, 'data'));
  return { ...env.data, data: data.data };
}

export interface EventContext {
  campaignId: string;
  streamId: string;
  source: ServiceName;
  causationId?: string | null;
  correlationId?: string | null;
  /** Injected for deterministic tests; defaults to the wall clock. */
  now?: () => Date;
}

/** Builds a validated envelope for `def` with fresh id and time. */
export function createEvent<D extends EventDefinition>(
  def: D,
  data: z.input<D['data']>,
  ctx: EventContext,
): EventOf<D> {
  const time = (ctx.now ?? (() => new Date()))();
  const raw = {
    id: uuidv7(time.getTime()),
    type: def.type,
    schemaVersion: def.version,
    streamId: ctx.streamId,
    campaignId: ctx.campaignId,
    causationId: ctx.causationId ?? null,
    correlationId: ctx.correlationId ?? null,
    time: time.toISOString(),
    source: ctx.source,
    data,
  };
  return parseEvent(raw) as EventOf<D>;
}

/** Narrowing helper: `isEvent(e, RoundStarted)` makes `e.data` typed. */
export function isEvent<D extends EventDefinition>(e: { type: string }, def: D): e is EventOf<D> {
  return e.type === def.type;
}
