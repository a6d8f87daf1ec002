import type { ChildProcess } from 'node:child_process';
import type { DynamicModule, Type } from '@nestjs/common';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import type { CommandDefinition, CommandReply, DataOf, EventDefinition, EventEnvelope } from '@aevo/contracts';
import { OutboxRelay, PostgresEventStore, type EventStore, type StoredEvent } from '@aevo/eventstore';
import {
  CommandClient,
  createServiceApp,
  type SendOptions,
  type ServiceApp,
  type ServiceAppOptions,
} from '@aevo/messaging';
import type { z } from 'zod';
import { createTestDb, createTestNatsNames, eventually, type TestDb, type TestNatsNames } from './infra';
import { ServiceProcesses, serviceProcessEnv } from './service-processes';

/** Every createServiceApp option except those the harness sets (where the service's events and store live). */
export type HarnessAppOptions = Omit<
  ServiceAppOptions,
  'natsUrl' | 'subjectPrefix' | 'stream' | 'databaseUrl' | 'dbSchema' | 'store' | 'openStore'
>;

export interface ServiceHarnessOptions extends HarnessAppOptions {
  /**
   * Whether the replicas share the harness's store (default false: each opens its own pool of 4). Share it when a
   * test swaps the store's behaviour, or to save connections.
   */
  shareStore?: boolean;
  /**
   * The store the replicas get, made from the harness's (implies `shareStore`; made once, for every replica): a test's
   * wrapper that records or
   * alters what the service reads and writes.
   */
  storeView?: (store: PostgresEventStore) => EventStore;
  /** Connections of the harness's store, and of each replica's own when they do not share it (default 4). */
  poolSize?: number;
  /**
   * Relay the store's events to JetStream from the harness (default true unless `processRelay`; poll 100 ms), so that
   * appended events reach the service. Off: the test relays itself (or passes `relay: true` for each replica's
   * embedded relay), or nothing reaches JetStream.
   */
  harnessRelay?: boolean;
  /**
   * Spawned processes run their embedded relay, as deployed (default false: `AEVO_RELAY=off`, the harness relays).
   * Turns the harness's relay off unless `harnessRelay` says otherwise.
   */
  processRelay?: boolean;
  /**
   * Start listening (default true). False: the test calls `service.app.listen()`, e.g. to probe a service not yet
   * bound.
   */
  listen?: boolean;
  /** Default timeout of `send` (default 60 s: a command may wait on a real job). */
  commandTimeoutMs?: number;
  /** Default timeout of `waitForEvent` (default 60 s). */
  waitTimeoutMs?: number;
}

export type ServiceModule = Type<unknown> | DynamicModule;
type StoredOf<D extends EventDefinition> = StoredEvent & { type: D['type']; data: DataOf<D> };

export interface ServiceHarness {
  db: TestDb;
  names: TestNatsNames;
  /** The store of record, in this suite's own PostgreSQL schema. */
  store: PostgresEventStore;
  /** The first replica; `replicas` has them all. Throws when the harness was started with no module. */
  readonly service: ServiceApp;
  /** The replicas running now, in the order they started. */
  replicas: ServiceApp[];
  /** Starts one more replica of `module` with the harness's options (listening unless `listen: false`). */
  startReplica(module: ServiceModule): Promise<ServiceApp>;
  /** Closes every running replica (last started first), e.g. to see what a restarted one catches up on. */
  stopReplicas(): Promise<void>;
  client: CommandClient;
  /** The environment of a service process in this suite (its NATS prefix, stream, schema; relay off), then `extra`. */
  processEnv(extra?: Record<string, string>): NodeJS.ProcessEnv;
  /** Starts the built service `name` as its own process in this suite; `close` stops it (SIGTERM, then SIGKILL). */
  spawn(name: string, extra?: Record<string, string>): ChildProcess;
  /** Every process `spawn` started, in order. */
  readonly processes: readonly ChildProcess[];
  /** What the spawned processes of `name` wrote (stdout and stderr); without a name all of it, headed `[name] `. */
  output(name?: string): string;
  /** Sends a command on the suite's subject prefix, as the CLI or another service would. */
  send<D extends CommandDefinition>(
    def: D | string,
    payload: z.input<D['payload']> | unknown,
    opts?: SendOptions,
  ): Promise<CommandReply>;
  /** Appends each event to its own stream (expected version `any`), as the upstream service would have. */
  append(...events: EventEnvelope[]): Promise<void>;
  /** The recorded events of one type, in log order (of one campaign when given). */
  eventsOf<D extends EventDefinition>(def: D, campaignId?: string): Promise<Array<StoredOf<D>>>;
  /** Resolves with the first recorded event of the type that matches; rejects, naming it, at the deadline. */
  waitForEvent<D extends EventDefinition>(
    def: D,
    predicate?: (e: StoredOf<D>) => boolean,
    opts?: { campaignId?: string; timeoutMs?: number },
  ): Promise<StoredOf<D>>;
  /**
   * Closes the client, replicas, spawned processes, relay and store, then drops the suite's stream and schema;
   * idempotent.
   */
  close(): Promise<void>;
}

const openPool = (url: string, schema: string, poolSize = 4) =>
  PostgresEventStore.open({ connectionString: url, schema, poolSize });

/**
 * Starts `module` as the service `opts.service` against the shared PostgreSQL and nats-server, isolated as every
 * suite must be (ARCHITECTURE.md, *Tests*): its own schema, subject prefix and stream, a relay from the store to
 * the stream, the Nest app listening, and a command client. An array of modules starts one replica per module, each
 * with its own store pool like a process of its own (replicas that need providers of their own); an empty array
 * starts none, for a suite whose services run only as processes (`spawn`).
 */
export async function startServiceHarness(
  module: ServiceModule | readonly ServiceModule[],
  opts: ServiceHarnessOptions,
): Promise<ServiceHarness> {
  const {
    shareStore = false,
    storeView,
    poolSize,
    processRelay = false,
    harnessRelay = !processRelay,
    listen = true,
    commandTimeoutMs,
    waitTimeoutMs,
    ...app
  } = opts;
  const db = await createTestDb();
  const names = createTestNatsNames();
  const processEnv = (extra?: Record<string, string>) => serviceProcessEnv(db, names, extra, processRelay);
  const processes = new ServiceProcesses(processEnv);
  const replicas: ServiceApp[] = [];
  let store: PostgresEventStore | null = null;
  let relay: OutboxRelay | null = null;
  let client: CommandClient | null = null;
  // One view for all replicas, as one store is shared by them (set once the store is open).
  let shared: EventStore | null = null;

  const stopReplicas = async () => {
    for (const r of replicas.splice(0).reverse()) await r.app.close();
  };
  const startReplica = async (m: ServiceModule) => {
    const built = await createServiceApp(m, {
      logger: ['error'],
      ...app,
      natsUrl: names.url,
      subjectPrefix: names.subjectPrefix,
      stream: names.stream,
      databaseUrl: db.url,
      dbSchema: db.schema,
      ...(shared ? { store: shared } : { openStore: (cfg) => openPool(cfg.databaseUrl, cfg.dbSchema, poolSize) }),
    });
    replicas.push(built);
    if (listen) await built.app.listen();
    return built;
  };

  const closeAll = async () => {
    await client?.close();
    await stopReplicas();
    await processes.stop();
    await relay?.stop();
    await store?.close();
    const nc = await connect({ servers: names.url });
    await (await jetstreamManager(nc)).streams.delete(names.stream).catch(() => undefined);
    await nc.close();
    await db.drop();
  };

  let closing: Promise<void> | null = null;
  // Idempotent: a test may close early (to see the service gone) and afterAll close again.
  const close = () => (closing ??= closeAll());

  try {
    store = await openPool(db.url, db.schema, poolSize);
    if (harnessRelay)
      relay = await OutboxRelay.start({
        databaseUrl: db.url,
        schema: db.schema,
        natsUrl: names.url,
        subjectPrefix: names.subjectPrefix,
        stream: names.stream,
        pollIntervalMs: 100,
      });
    shared = storeView ? storeView(store) : shareStore ? store : null;
    for (const m of Array.isArray(module) ? module : [module]) await startReplica(m);
    client = await CommandClient.connect({
      natsUrl: names.url,
      subjectPrefix: names.subjectPrefix,
      timeoutMs: commandTimeoutMs ?? 60_000,
    });
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }

  const opened = store;
  const commands = client;
  const eventsOf = async <D extends EventDefinition>(def: D, campaignId?: string) =>
    (await opened.readAll({ types: [def.type], ...(campaignId ? { campaignId } : {}) })) as Array<StoredOf<D>>;

  return {
    db,
    names,
    store: opened,
    get service() {
      if (replicas.length === 0) throw new Error('this harness was started with no module: it has no service app');
      return replicas[0];
    },
    replicas,
    startReplica,
    stopReplicas,
    client: commands,
    processEnv,
    spawn: (name, extra) => processes.spawn(name, extra),
    processes: processes.children,
    output: (name) => processes.output(name),
    send: (def, payload, sendOpts) => commands.send(def, payload, sendOpts),
    async append(...events) {
      for (const e of events) await opened.append(e.streamId, 'any', [e]);
    },
    eventsOf,
    async waitForEvent(def, predicate = () => true, waitOpts = {}) {
      const timeoutMs = waitOpts.timeoutMs ?? waitTimeoutMs ?? 60_000;
      try {
        return await eventually(async () => (await eventsOf(def, waitOpts.campaignId)).find(predicate), timeoutMs);
      } catch (err) {
        throw new Error(`no matching ${def.type} recorded: ${(err as Error).message}`);
      }
    },
    close,
  };
}
