import {
  Logger,
  Module,
  type DynamicModule,
  type INestMicroservice,
  type LogLevel,
  type LoggerService,
  type OnApplicationShutdown,
  type Type,
  Inject,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { ServiceName } from '@aevo/contracts';
import {
  NATS_RELAY_CREDENTIALS_ENV,
  natsAuthFor,
  OutboxRelay,
  PostgresEventStore,
  type EventStore,
  type NatsAuthOptions,
  openEventStoreFromEnv,
} from '@aevo/eventstore';
import { resolveMessagingConfig, type MessagingConfig } from './config';
import { JetStreamServer, type JetStreamServerOptions } from './jetstream.server';
import { resolveEventDomain } from './domains';
import { eventStoreDeadLetterSink } from './dead-letter';
import { PassThroughRpcFilter } from './exception-filter';
import { CommandClient } from './command-client';
import { EVENT_STORE, MESSAGING_CONFIG, SERVICE_METRICS } from './tokens';
import type { StoredEventLookup } from './stored-event-proof';
import { ServiceMetrics } from './observability/metrics';
import { ObservabilityServer } from './observability/health-server';
import { registerServiceGauges, serviceReadiness } from './observability/service-probes';
import { resolveObservabilityPorts } from './observability/ports';
import { ServiceTracing, tracedStore } from './observability/tracing';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';

export { serviceReadiness } from './observability/service-probes';

/** Opens the store of record for a service (default: PostgreSQL from AEVO_DATABASE_URL / AEVO_DB_SCHEMA). */
export type StoreOpener = (cfg: MessagingConfig, env?: NodeJS.ProcessEnv) => Promise<EventStore>;

/** PostgreSQL at AEVO_DATABASE_URL, schema AEVO_DB_SCHEMA (migrated on open). */
export const openPostgresStore: StoreOpener = (cfg) =>
  PostgresEventStore.open({
    connectionString: cfg.databaseUrl,
    schema: cfg.dbSchema,
    applicationName: `aevo-${cfg.service}`,
  });

/**
 * The store the environment selects (AEVO_EVENT_STORE: `postgres`, the default, at the config's database URL and
 * schema; `kurrentdb` at AEVO_KURRENTDB_URL; or `remote`, through a store gateway over NATS). A bad selection fails the
 * service's start naming the variable.
 */
export const openConfiguredStore: StoreOpener = (cfg, env = process.env) =>
  openEventStoreFromEnv(env, {
    databaseUrl: cfg.databaseUrl,
    dbSchema: cfg.dbSchema,
    applicationName: `aevo-${cfg.service}`,
    // AEVO_EVENT_STORE=remote: the service's own NATS user asks the store gateway.
    natsUser: cfg.service,
  });

let defaultStoreOpener: StoreOpener = openConfiguredStore;

/** Sets how services open their event store when no `store`/`openStore` option is given. */
export function setDefaultStoreOpener(opener: StoreOpener): void {
  defaultStoreOpener = opener;
}

export interface ServiceAppOptions extends Partial<Omit<MessagingConfig, 'service'>> {
  service: ServiceName;
  /** An open store to use (then the app does not close it). */
  store?: EventStore;
  /**
   * How to open the store (then the app closes it); defaults to PostgreSQL from the config (`setDefaultStoreOpener`).
   */
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
  /** `/healthz` and `/readyz` on this port (default AEVO_HEALTH_PORT; unset: off; 0: any free port). */
  healthPort?: number | null;
  /** Prometheus `/metrics` on this port (default AEVO_METRICS_PORT; unset: off; same as healthPort: one server). */
  metricsPort?: number | null;
  /** Interface of both (default AEVO_HEALTH_HOST or 0.0.0.0). */
  healthHost?: string;
  /**
   * Where spans go (tests: an InMemorySpanExporter). Default: OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT (or
   * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, AEVO_OTLP_ENDPOINT) is set; otherwise no tracing at all.
   */
  traceExporter?: SpanExporter;
}

/** The service's probes and metrics. */
export interface ServiceObservability {
  /** This service's registry; transport series are recorded only while metrics are served. */
  metrics: ServiceMetrics;
  /** The HTTP server of /healthz, /readyz and /metrics (null when neither port is set). */
  server: ObservabilityServer | null;
  /** e.g. http://127.0.0.1:8081 (null when not served). */
  healthUrl: string | null;
  metricsUrl: string | null;
  /** The service's tracer (null when tracing is off). */
  tracing: ServiceTracing | null;
}

export interface ServiceApp {
  app: INestMicroservice;
  server: JetStreamServer;
  store: EventStore;
  config: MessagingConfig;
  /** The embedded relay when `relay` was set (stopped with the app). */
  relay: OutboxRelay | null;
  observability: ServiceObservability;
}

const OWNED_STORE = 'AEVO_OWNED_STORE';

interface Owned {
  store: EventStore | null;
  relay: OutboxRelay | null;
  observability: ObservabilityServer | null;
  tracing: ServiceTracing | null;
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
    await this.owned.tracing?.shutdown().catch(() => undefined);
    // Last: /readyz answers "shutting down" while the rest closes, then the probes stop answering with the process.
    await this.owned.observability?.close();
  }
}

@Module({})
class AevoRuntimeModule {}

@Module({})
class AevoServiceRootModule {}

function runtimeModule(
  cfg: MessagingConfig,
  store: EventStore,
  owned: Owned,
  natsAuth: NatsAuthOptions,
  metrics: ServiceMetrics,
  tracing: ServiceTracing | null,
): DynamicModule {
  return {
    module: AevoRuntimeModule,
    global: true,
    providers: [
      // While tracing, appends record the trace context they belong to (the relay puts it on the message).
      { provide: EVENT_STORE, useValue: tracing ? tracedStore(store, tracing) : store },
      { provide: MESSAGING_CONFIG, useValue: cfg },
      { provide: OWNED_STORE, useValue: owned },
      { provide: SERVICE_METRICS, useValue: metrics },
      {
        provide: CommandClient,
        useFactory: () =>
          CommandClient.connect({
            natsUrl: cfg.natsUrl,
            subjectPrefix: cfg.subjectPrefix,
            issuedBy: cfg.service,
            natsAuth,
          }),
      },
      RuntimeLifecycle,
    ],
    exports: [EVENT_STORE, MESSAGING_CONFIG, CommandClient, SERVICE_METRICS],
  };
}

/** The store's own lookup, so that consumers act only on stored events; a store without one cannot serve consumers. */
function storedEventLookupOf(store: EventStore): StoredEventLookup {
  if (!store.lookupStoredEvents)
    throw new Error(
      'the event store has no lookupStoredEvents: consumers could not prove a message is a stored event (pass ' +
        'server.storedEvents: null to accept unproven messages)',
    );
  return (ids) => (store.lookupStoredEvents as NonNullable<EventStore['lookupStoredEvents']>).call(store, ids);
}

/**
 * Builds a service's Nest microservice on JetStreamServer without listening: the event store, the config and a
 * CommandClient are injectable everywhere (EVENT_STORE, MESSAGING_CONFIG, CommandClient). Call `app.listen()`.
 */
export async function createServiceApp(
  appModule: Type<unknown> | DynamicModule,
  opts: ServiceAppOptions,
): Promise<ServiceApp> {
  const {
    service,
    store: given,
    openStore,
    server: serverOpts,
    env,
    logger,
    relay: withRelay,
    healthPort,
    metricsPort,
    healthHost,
    traceExporter,
    ...overrides
  } = opts;
  const config = resolveMessagingConfig(service, overrides, env);
  // Before anything is opened: a bad port setting fails the start with its name.
  const ports = resolveObservabilityPorts({ healthPort, metricsPort, host: healthHost }, env ?? process.env);
  const metricsOn = ports.metricsPort !== null;
  const metrics = new ServiceMetrics(service, { processMetrics: metricsOn });
  const tracing = ServiceTracing.create(service, { exporter: traceExporter, env: env ?? process.env });
  const store = given ?? (await (openStore ?? defaultStoreOpener)(config, env ?? process.env));
  let relay: OutboxRelay | null = null;
  let observability: ObservabilityServer | null = null;
  try {
    // The embedded relay reads PostgreSQL's outbox; a KurrentDB store is relayed by the all-stream relay, which runs as
    // its own process (node libs/eventstore/dist/relay-main.js with the same AEVO_EVENT_STORE).
    // A remote store (a compute cluster) has no outbox here at all: the control cluster's relay publishes its appends.
    const selected = (env ?? process.env).AEVO_EVENT_STORE?.trim();
    const noOutbox = !given && (selected === 'kurrentdb' || selected === 'remote');
    if (withRelay && noOutbox)
      new Logger(`OutboxRelay(${service})`).log(
        selected === 'kurrentdb'
          ? 'AEVO_EVENT_STORE=kurrentdb: no embedded outbox relay; run relay-main for the all-stream relay'
          : 'AEVO_EVENT_STORE=remote: no embedded outbox relay; the control cluster relays what the gateway appends',
      );
    if (withRelay && !noOutbox) {
      const log = new Logger(`OutboxRelay(${service})`);
      relay = await OutboxRelay.start({
        databaseUrl: config.databaseUrl,
        schema: config.dbSchema,
        natsUrl: config.natsUrl,
        subjectPrefix: config.subjectPrefix,
        stream: config.stream,
        natsAuth: natsAuthFor(env ?? process.env, 'relay', NATS_RELAY_CREDENTIALS_ENV),
        log: (level, msg, fields) =>
          log[level === 'info' ? 'log' : level](`${msg}${fields ? ` ${JSON.stringify(fields)}` : ''}`),
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
      eventDomain: serverOpts?.eventDomain ?? resolveEventDomain(config, env ?? process.env),
      deadLetter: serverOpts?.deadLetter ?? eventStoreDeadLetterSink(store, service),
      observer: serverOpts?.observer ?? (metricsOn ? metrics : undefined),
      tracing: serverOpts?.tracing ?? tracing ?? undefined,
    });
    if (metricsOn) registerServiceGauges(metrics, server, store, relay);
    const owned: Owned = { store: given ? null : store, relay, observability: null, tracing };
    const root: DynamicModule = {
      module: AevoServiceRootModule,
      imports: [
        runtimeModule(config, store, owned, natsAuthFor(env ?? process.env, service), metrics, tracing),
        appModule,
      ],
    };
    const app = await NestFactory.createMicroservice(root, {
      strategy: server,
      logger: logger ?? ['error', 'warn', 'log'],
    });
    app.useGlobalFilters(new PassThroughRpcFilter());
    if (ports.healthPort !== null || metricsOn) {
      observability = await ObservabilityServer.start({
        ...ports,
        readiness: serviceReadiness(server, store),
        metrics,
      });
      owned.observability = observability;
    }
    const url = (port: number | null) =>
      port === null
        ? null
        : `http://${ports.host === '0.0.0.0' || ports.host === '::' ? '127.0.0.1' : ports.host}:${port}`;
    return {
      app,
      server,
      store,
      config,
      relay,
      observability: {
        metrics,
        tracing,
        server: observability,
        healthUrl: url(observability?.portOf('readyz') ?? null),
        metricsUrl: url(observability?.portOf('metrics') ?? null),
      },
    };
  } catch (err) {
    await observability?.close().catch(() => undefined);
    await tracing?.shutdown().catch(() => undefined);
    await relay?.stop().catch(() => undefined);
    if (!given) await store.close().catch(() => undefined);
    throw err;
  }
}

/**
 * The `main.ts` of every service: builds the app from the environment, listens, and on SIGTERM/SIGINT closes
 * gracefully (stop pulling, finish running handlers, drain NATS, close the store) before exiting.
 */
export async function bootstrapService(
  appModule: Type<unknown> | DynamicModule,
  opts: ServiceAppOptions,
): Promise<ServiceApp> {
  const log = new Logger(`aevo-${opts.service}`);
  let built: ServiceApp | null = null;
  let stopping: string | null = null;
  const stop = (app: ServiceApp, signal: string) => {
    log.log(`${signal}: shutting down`);
    app.app
      .close()
      .then(() => process.exit(0))
      .catch((err) => {
        log.error(`shutdown failed: ${String(err)}`);
        process.exit(1);
      });
  };
  // Handlers before listening: whoever waits for the "listening:" line may signal at once. A signal during start-up
  // is acted on once the app is up (closing a half-built app is not possible).
  const onSignal = (signal: string) => {
    if (stopping) return;
    stopping = signal;
    if (built) stop(built, signal);
  };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));
  try {
    const env = opts.env ?? process.env;
    const app = await createServiceApp(appModule, { ...opts, relay: opts.relay ?? env.AEVO_RELAY !== 'off' });
    await app.app.listen();
    const { healthUrl, metricsUrl } = app.observability;
    if (healthUrl || metricsUrl)
      log.log(
        `probes ${healthUrl ? `${healthUrl}/healthz, ${healthUrl}/readyz` : 'off'}; ` +
          `metrics ${metricsUrl ? `${metricsUrl}/metrics` : 'off'}`,
      );
    built = app;
  } catch (err) {
    log.error(`failed to start: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
    throw err;
  }
  if (stopping) stop(built, stopping);
  return built;
}
