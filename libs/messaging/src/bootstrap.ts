import { Logger, Module, type DynamicModule, type INestMicroservice, type LogLevel, type LoggerService, type OnApplicationShutdown, type Type, Inject } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { ServiceName } from '@aevo/contracts';
import type { EventStore } from '@aevo/eventstore';
import { resolveMessagingConfig, type MessagingConfig } from './config';
import { JetStreamServer, type JetStreamServerOptions } from './jetstream.server';
import { eventStoreDeadLetterSink } from './dead-letter';
import { PassThroughRpcFilter } from './exception-filter';
import { CommandClient } from './command-client';
import { EVENT_STORE, MESSAGING_CONFIG } from './tokens';

/** Opens the store of record for a service (default: PostgreSQL from AEVO_DATABASE_URL / AEVO_DB_SCHEMA). */
export type StoreOpener = (cfg: MessagingConfig) => Promise<EventStore>;

let defaultStoreOpener: StoreOpener | undefined;

/** Sets how services open their event store when no `store`/`openStore` option is given. */
export function setDefaultStoreOpener(opener: StoreOpener): void {
  defaultStoreOpener = opener;
}

export interface ServiceAppOptions extends Partial<Omit<MessagingConfig, 'service'>> {
  service: ServiceName;
  /** An open store to use (then the app does not close it). */
  store?: EventStore;
  /** How to open the store (then the app closes it); defaults to the registered default opener. */
  openStore?: StoreOpener;
  /** Transport tuning: ackWaitMs, maxDeliver, nakDelayMs, … */
  server?: Partial<Omit<JetStreamServerOptions, 'service' | 'natsUrl' | 'subjectPrefix' | 'stream'>>;
  env?: NodeJS.ProcessEnv;
  logger?: false | LoggerService | LogLevel[];
}

export interface ServiceApp {
  app: INestMicroservice;
  server: JetStreamServer;
  store: EventStore;
  config: MessagingConfig;
}

const OWNED_STORE = 'AEVO_OWNED_STORE';

class RuntimeLifecycle implements OnApplicationShutdown {
  constructor(
    @Inject(OWNED_STORE) private readonly owned: { store: EventStore | null },
    @Inject(CommandClient) private readonly client: CommandClient,
  ) {}
  async onApplicationShutdown(): Promise<void> {
    await this.client.close();
    if (this.owned.store) await this.owned.store.close();
  }
}

@Module({})
class AevoRuntimeModule {}

@Module({})
class AevoServiceRootModule {}

function runtimeModule(cfg: MessagingConfig, store: EventStore, owned: boolean): DynamicModule {
  return {
    module: AevoRuntimeModule,
    global: true,
    providers: [
      { provide: EVENT_STORE, useValue: store },
      { provide: MESSAGING_CONFIG, useValue: cfg },
      { provide: OWNED_STORE, useValue: { store: owned ? store : null } },
      {
        provide: CommandClient,
        useFactory: () => CommandClient.connect({ natsUrl: cfg.natsUrl, subjectPrefix: cfg.subjectPrefix, issuedBy: cfg.service }),
      },
      RuntimeLifecycle,
    ],
    exports: [EVENT_STORE, MESSAGING_CONFIG, CommandClient],
  };
}

/**
 * Builds a service's Nest microservice on JetStreamServer without listening: the event store, the config and a
 * CommandClient are injectable everywhere (EVENT_STORE, MESSAGING_CONFIG, CommandClient). Call `app.listen()`.
 */
export async function createServiceApp(appModule: Type<unknown> | DynamicModule, opts: ServiceAppOptions): Promise<ServiceApp> {
  const { service, store: given, openStore, server: serverOpts, env, logger, ...overrides } = opts;
  const config = resolveMessagingConfig(service, overrides, env);
  const opener = openStore ?? defaultStoreOpener;
  if (!given && !opener) throw new Error('no event store: pass `store` or `openStore`, or register one with setDefaultStoreOpener()');
  const store = given ?? (await (opener as StoreOpener)(config));
  try {
    const server = new JetStreamServer({
      ...serverOpts,
      service,
      natsUrl: config.natsUrl,
      subjectPrefix: config.subjectPrefix,
      stream: config.stream,
      deadLetter: serverOpts?.deadLetter ?? eventStoreDeadLetterSink(store, service),
    });
    const root: DynamicModule = { module: AevoServiceRootModule, imports: [runtimeModule(config, store, !given), appModule] };
    const app = await NestFactory.createMicroservice(root, { strategy: server, logger: logger ?? ['error', 'warn', 'log'] });
    app.useGlobalFilters(new PassThroughRpcFilter());
    return { app, server, store, config };
  } catch (err) {
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
    built = await createServiceApp(appModule, opts);
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
