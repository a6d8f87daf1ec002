import { Logger, Module, type DynamicModule, type INestMicroservice, type LogLevel, type LoggerService, type OnApplicationShutdown, type Type, Inject } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { ServiceName } from '@aevo/contracts';
import { NATS_RELAY_CREDENTIALS_ENV, natsAuthFor, OutboxRelay, PostgresEventStore, type EventStore, type NatsAuthOptions } from '@aevo/eventstore';
import { resolveMessagingConfig, type MessagingConfig } from './config';
import { JetStreamServer, type JetStreamServerOptions } from './jetstream.server';
import { eventStoreDeadLetterSink } from './dead-letter';
import { PassThroughRpcFilter } from './exception-filter';
import { CommandClient } from './command-client';
import { EVENT_STORE, MESSAGING_CONFIG } from './tokens';
import type { StoredEventLookup } from './stored-event-proof';

/** Opens the store of record for a service (default: PostgreSQL from AEVO_DATABASE_URL / AEVO_DB_SCHEMA). */
export type StoreOpener = (cfg: MessagingConfig) => Promise<EventStore>;

/** PostgreSQL at AEVO_DATABASE_URL, schema AEVO_DB_SCHEMA (migrated on open). */
export const openPostgresStore: StoreOpener = (cfg) =>
  PostgresEventStore.open({ connectionString: cfg.databaseUrl, schema: cfg.dbSchema, applicationName: `aevo-${cfg.service}` });

let defaultStoreOpener: StoreOpener = openPostgresStore;

/** Sets how services open their event store when no `store`/`openStore` option is given. */
export function setDefaultStoreOpener(opener: StoreOpener): void {
  defaultStoreOpener = opener;
}

export interface ServiceAppOptions extends Partial<Omit<MessagingConfig, 'service'>> {
  service: ServiceName;
  /** An open store to use (then the app does not close it). */
  store?: EventStore;
  /** How to open the store (then the app closes it); defaults to PostgreSQL from the config (`setDefaultStoreOpener`). */
  openStore?: StoreOpener;
  /**
   * Run an outbox relay in this process (PostgreSQL → JetStream, same database, schema, stream and prefix). Relays
   * elect one leader through a PostgreSQL advisory lock, so every replica of every service may run one: the others
   * stand by and take over when the leader dies. Default: off for createServiceApp, on for bootstrapService unless
   * AEVO_RELAY=off.
   */
  relay?: boolean;
  /** Transport tuning: ackWaitMs, maxDeliver, nakDelayMs, … (`storedEvents` defaults to the store's lookup). */
  server?: Partial<Omit<JetStreamServerOptions, 'service' | 'natsUrl' | 'subjectPrefix' | 'stream'>>;
  env?: NodeJS.ProcessEnv;
  logger?: false | LoggerService | LogLevel[];
}

export interface ServiceApp {
  app: INestMicroservice;
  server: JetStreamServer;
  store: EventStore;
  config: MessagingConfig;
  /** The embedded relay when `relay` was set (stopped with the app). */
  relay: OutboxRelay | null;
}

const OWNED_STORE = 'AEVO_OWNED_STORE';

interface Owned {
  store: EventStore | null;
  relay: OutboxRelay | null;
}

class RuntimeLifecycle implements OnApplicationShutdown {
  constructor(
    @Inject(OWNED_STORE) private readonly owned: Owned,
    @Inject(CommandClient) private readonly client: CommandClient,
  ) {}
  async onApplicationShutdown(): Promise<void> {
    await this.client.close();
    await this.owned.relay?.stop();
    if (this.owned.store) await this.owned.store.close();
  }
}

@Module({})
class AevoRuntimeModule {}

@Module({})
class AevoServiceRootModule {}

function runtimeModule(cfg: MessagingConfig, store: EventStore, owned: Owned, natsAuth: NatsAuthOptions): DynamicModule {
  return {
    module: AevoRuntimeModule,
    global: true,
    providers: [
      { provide: EVENT_STORE, useValue: store },
      { provide: MESSAGING_CONFIG, useValue: cfg },
      { provide: OWNED_STORE, useValue: owned },
      {
        provide: CommandClient,
        useFactory: () => CommandClient.connect({ natsUrl: cfg.natsUrl, subjectPrefix: cfg.subjectPrefix, issuedBy: cfg.service, natsAuth }),
      },
      RuntimeLifecycle,
    ],
    exports: [EVENT_STORE, MESSAGING_CONFIG, CommandClient],
  };
}

/** The store's own lookup, so that consumers act only on stored events; a store without one cannot serve consumers. */
function storedEventLookupOf(store: EventStore): StoredEventLookup {
  if (!store.lookupStoredEvents)
    throw new Error('the event store has no lookupStoredEvents: consumers could not prove a message is a stored event (pass server.storedEvents: null to accept unproven messages)');
  return (ids) => (store.lookupStoredEvents as NonNullable<EventStore['lookupStoredEvents']>).call(store, ids);
}

/**
 * Builds a service's Nest microservice on JetStreamServer without listening: the event store, the config and a
 * CommandClient are injectable everywhere (EVENT_STORE, MESSAGING_CONFIG, CommandClient). Call `app.listen()`.
 */
export async function createServiceApp(appModule: Type<unknown> | DynamicModule, opts: ServiceAppOptions): Promise<ServiceApp> {
  const { service, store: given, openStore, server: serverOpts, env, logger, relay: withRelay, ...overrides } = opts;
  const config = resolveMessagingConfig(service, overrides, env);
  const store = given ?? (await (openStore ?? defaultStoreOpener)(config));
  let relay: OutboxRelay | null = null;
  try {
    if (withRelay) {
      const log = new Logger(`OutboxRelay(${service})`);
      relay = await OutboxRelay.start({
        databaseUrl: config.databaseUrl,
        schema: config.dbSchema,
        natsUrl: config.natsUrl,
        subjectPrefix: config.subjectPrefix,
        stream: config.stream,
        natsAuth: natsAuthFor(env ?? process.env, 'relay', NATS_RELAY_CREDENTIALS_ENV),
        log: (level, msg, fields) => log[level === 'info' ? 'log' : level](`${msg}${fields ? ` ${JSON.stringify(fields)}` : ''}`),
      });
    }
    const storedEvents = serverOpts?.storedEvents !== undefined ? serverOpts.storedEvents : storedEventLookupOf(store);
    const server = new JetStreamServer({
      ...serverOpts,
      storedEvents,
      natsAuth: natsAuthFor(env ?? process.env, service),
      service,
      natsUrl: config.natsUrl,
      subjectPrefix: config.subjectPrefix,
      stream: config.stream,
      deadLetter: serverOpts?.deadLetter ?? eventStoreDeadLetterSink(store, service),
    });
    const root: DynamicModule = { module: AevoServiceRootModule, imports: [runtimeModule(config, store, { store: given ? null : store, relay }, natsAuthFor(env ?? process.env, service)), appModule] };
    const app = await NestFactory.createMicroservice(root, { strategy: server, logger: logger ?? ['error', 'warn', 'log'] });
    app.useGlobalFilters(new PassThroughRpcFilter());
    return { app, server, store, config, relay };
  } catch (err) {
    await relay?.stop().catch(() => undefined);
    if (!given) await store.close().catch(() => undefined);
    throw err;
  }
}

/**
 * The `main.ts` of every service: builds the app from the environment, listens, and on SIGTERM/SIGINT closes
 * gracefully (stop pulling, finish running handlers, drain NATS, close the store) before exiting.
 */
export async function bootstrapService(appModule: Type<unknown> | DynamicModule, opts: ServiceAppOptions): Promise<ServiceApp> {
  const log = new Logger(`aevo-${opts.service}`);
  let built: ServiceApp;
  try {
    const env = opts.env ?? process.env;
    built = await createServiceApp(appModule, { ...opts, relay: opts.relay ?? env.AEVO_RELAY !== 'off' });
    await built.app.listen();
  } catch (err) {
    log.error(`failed to start: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
    throw err;
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.log(`${signal}: shutting down`);
    built.app
      .close()
      .then(() => process.exit(0))
      .catch((err) => {
        log.error(`shutdown failed: ${String(err)}`);
        process.exit(1);
      });
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  return built;
}
