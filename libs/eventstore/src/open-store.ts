import { connect } from '@nats-io/transport-node';
import type { EventStore } from './port';
import { PostgresEventStore } from './postgres/postgres-event-store';
import { natsAuthFor } from './relay/nats-credentials';
import { RemoteEventStore } from './remote/remote-event-store';
import type { KurrentDbEventStore, KurrentDbEventStoreOptions } from './kurrentdb/kurrentdb-event-store';

export type EventStoreKind = 'postgres' | 'kurrentdb' | 'remote';

export interface EventStoreSelection {
  kind: EventStoreKind;
  /** PostgreSQL: connection string and schema. */
  postgres?: { connectionString: string; schema: string };
  /** KurrentDB: connection string and stream namespace. */
  kurrentdb?: { connectionString: string; namespace: string };
  /** Remote: the store gateway's NATS (a compute cluster's leaf node) and subject prefix. */
  remote?: { natsUrl: string; prefix: string; timeoutMs: number };
}

const KURRENTDB_SCHEMES = [
  'kurrentdb://',
  'kurrentdb+discover://',
  'kurrent://',
  'kurrent+discover://',
  'esdb://',
  'esdb+discover://',
];

/**
 * Which event store the environment selects: AEVO_EVENT_STORE=postgres (default) with AEVO_DATABASE_URL and
 * AEVO_DB_SCHEMA, or AEVO_EVENT_STORE=kurrentdb with AEVO_KURRENTDB_URL (`kurrentdb://host:2113?tls=false`) and
 * AEVO_KURRENTDB_NAMESPACE (default `aevo`), or AEVO_EVENT_STORE=remote: the port over NATS request/reply to a store
 * gateway (a compute cluster without a database connection) at AEVO_NATS_URL, prefix AEVO_STORE_GATEWAY_PREFIX
 * (default AEVO_SUBJECT_PREFIX, else `aevo`), AEVO_STORE_TIMEOUT_MS per request (default 10000). A bad value throws
 * an error naming the variable. `defaults` (what the
 * caller's config already resolved) win over AEVO_DATABASE_URL / AEVO_DB_SCHEMA.
 */
export function eventStoreSelection(
  env: NodeJS.ProcessEnv,
  defaults: { databaseUrl?: string; dbSchema?: string } = {},
): EventStoreSelection {
  const raw = (env.AEVO_EVENT_STORE ?? '').trim();
  const kind = raw === '' ? 'postgres' : raw;
  if (kind === 'postgres')
    return {
      kind,
      postgres: {
        connectionString:
          defaults.databaseUrl || env.AEVO_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres',
        schema: defaults.dbSchema || env.AEVO_DB_SCHEMA || 'aevo',
      },
    };
  if (kind === 'remote') {
    const prefix = (env.AEVO_STORE_GATEWAY_PREFIX || env.AEVO_SUBJECT_PREFIX || 'aevo').trim();
    if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(prefix))
      throw new Error(`AEVO_STORE_GATEWAY_PREFIX="${prefix}": expected NATS subject tokens like "aevo" or "t1.aevo"`);
    const rawTimeout = (env.AEVO_STORE_TIMEOUT_MS ?? '').trim();
    const timeoutMs = rawTimeout === '' ? 10_000 : Number(rawTimeout);
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 100)
      throw new Error(`AEVO_STORE_TIMEOUT_MS="${rawTimeout}": expected an integer number of milliseconds >= 100`);
    return { kind, remote: { natsUrl: env.AEVO_NATS_URL || 'nats://127.0.0.1:4222', prefix, timeoutMs } };
  }
  if (kind !== 'kurrentdb') throw new Error(`AEVO_EVENT_STORE="${raw}": expected "postgres", "kurrentdb" or "remote"`);
  const url = (env.AEVO_KURRENTDB_URL ?? '').trim();
  if (url === '')
    throw new Error(
      'AEVO_KURRENTDB_URL is not set: AEVO_EVENT_STORE=kurrentdb needs a connection string like ' +
        'kurrentdb://127.0.0.1:2113?tls=false',
    );
  if (!KURRENTDB_SCHEMES.some((s) => url.startsWith(s)))
    throw new Error(
      `AEVO_KURRENTDB_URL="${url}": expected a connection string starting with ${KURRENTDB_SCHEMES.join(', ')}`,
    );
  const namespace = env.AEVO_KURRENTDB_NAMESPACE || 'aevo';
  if (!/^[A-Za-z0-9_-]+$/.test(namespace))
    throw new Error(`AEVO_KURRENTDB_NAMESPACE="${namespace}": expected letters, digits, "_" or "-"`);
  return { kind, kurrentdb: { connectionString: url, namespace } };
}

/** Opens the event store the environment selects (see eventStoreSelection). */
export async function openEventStoreFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  opts: { databaseUrl?: string; dbSchema?: string; applicationName?: string; natsUser?: string } = {},
): Promise<EventStore> {
  const sel = eventStoreSelection(env, opts);
  if (sel.kind === 'remote') {
    // The caller's own NATS user (credentials as for its transport); the store owns this connection.
    const nc = await connect({
      servers: sel.remote!.natsUrl,
      name: `${opts.applicationName ?? 'aevo'}-store`,
      ...natsAuthFor(env, opts.natsUser ?? 'cli'),
    });
    return new RemoteEventStore({
      nc,
      prefix: sel.remote!.prefix,
      timeoutMs: sel.remote!.timeoutMs,
      ownsConnection: true,
    });
  }
  if (sel.kind === 'kurrentdb')
    return openKurrentDbEventStore({
      connectionString: sel.kurrentdb!.connectionString,
      namespace: sel.kurrentdb!.namespace,
    });
  return PostgresEventStore.open({
    connectionString: sel.postgres!.connectionString,
    schema: sel.postgres!.schema,
    applicationName: opts.applicationName,
  });
}

/**
 * Opens the KurrentDB adapter, loading the client only now: @kurrent/kurrentdb-client and its native bridge take
 * about 0.8 s to load, which no PostgreSQL-backed process should pay.
 */
export async function openKurrentDbEventStore(options: KurrentDbEventStoreOptions): Promise<KurrentDbEventStore> {
  const { KurrentDbEventStore: Store } = await import('./kurrentdb/kurrentdb-event-store');
  return Store.open(options);
}
