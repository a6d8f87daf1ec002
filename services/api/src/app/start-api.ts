import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { openEventStoreFromEnv } from '@aevo/eventstore';
import { ObservabilityServer, ServiceMetrics } from '@aevo/messaging';
import { ApiModule } from '../api.module';
import { apiConfig, type ApiConfig, type ApiConfigOverrides } from '../config';
import { accessGuard, apiSecurity, securityHeaders } from '../http/security';

export interface StartApiOptions extends ApiConfigOverrides {
  quiet?: boolean;
  /** The environment config.ts reads (default: the process's). */
  env?: NodeJS.ProcessEnv;
}

/** Opens the event store and serves the REST API, server-sent events and the dashboard. */
export async function startApi(opts: StartApiOptions = {}) {
  const { quiet, env, ...overrides } = opts;
  const config: ApiConfig = apiConfig(env, overrides);
  // Before anything is opened: refuses to listen beyond loopback without a token (or the explicit opt-out).
  const security = apiSecurity(config);
  // The store the environment selects, as every service opens it (the dashboard reads the same record on KurrentDB).
  const store = await openEventStoreFromEnv(config.storeEnv, {
    databaseUrl: config.databaseUrl,
    dbSchema: config.dbSchema,
    applicationName: 'aevo-api',
    natsUser: 'api',
  });
  const app = await NestFactory.create<NestExpressApplication>(ApiModule.forStore(store, config), {
    logger: quiet ? ['error'] : ['error', 'warn', 'log'],
  });
  app.disable('x-powered-by');
  app.use(securityHeaders());
  app.use(accessGuard(security));
  app.enableShutdownHooks();
  await app.listen(config.port, config.host);
  const url = await app.getUrl();
  // Probes on their own port: the API's token guard must not stand between the kubelet and /readyz.
  const ports = config.observability;
  let observability: ObservabilityServer | null = null;
  if (ports.healthPort !== null || ports.metricsPort !== null) {
    try {
      observability = await ObservabilityServer.start({
        ...ports,
        // Opening the store applied its migrations; a head read shows PostgreSQL still answers.
        readiness: { store: async () => void (await store.headPosition()), migrations: async () => null },
        metrics: ports.metricsPort !== null ? new ServiceMetrics('api') : undefined,
      });
    } catch (err) {
      await app.close();
      await store.close();
      throw err;
    }
  }
  return {
    app,
    store,
    url: url.replace('[::1]', '127.0.0.1'),
    healthPort: observability?.portOf('readyz') ?? null,
    metricsPort: observability?.portOf('metrics') ?? null,
    async close() {
      await app.close();
      await store.close();
      await observability?.close();
    },
  };
}
