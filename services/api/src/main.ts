import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { Logger } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { PostgresEventStore } from '@aevo/eventstore';
import { ObservabilityServer, resolveObservabilityPorts, ServiceMetrics } from '@aevo/messaging';
import { ApiModule } from './app.module';
import { accessGuard, apiSecurity, securityHeaders } from './http/security';

export interface StartApiOptions {
  port?: number;
  host?: string;
  databaseUrl?: string;
  dbSchema?: string;
  quiet?: boolean;
  /** Bearer token required on every request (default $AEVO_API_TOKEN; null: none). */
  token?: string | null;
  /** Host header names accepted besides loopback and the bind address (default $AEVO_API_ALLOWED_HOSTS). */
  allowedHosts?: string[];
  env?: NodeJS.ProcessEnv;
  /** `/healthz` and `/readyz` on this port (default AEVO_HEALTH_PORT; unset: off). */
  healthPort?: number | null;
  /** Prometheus `/metrics` (default AEVO_METRICS_PORT; unset: off). */
  metricsPort?: number | null;
}

/** Opens the event store and serves the REST API, server-sent events and the dashboard. */
export async function startApi(opts: StartApiOptions = {}) {
  const host = opts.host ?? process.env.AEVO_API_HOST ?? '127.0.0.1';
  // Before anything is opened: refuses to listen beyond loopback without a token (or the explicit opt-out).
  const security = apiSecurity(host, opts.env ?? process.env, { token: opts.token, allowedHosts: opts.allowedHosts });
  const ports = resolveObservabilityPorts(
    { healthPort: opts.healthPort, metricsPort: opts.metricsPort },
    opts.env ?? process.env,
  );
  const store = await PostgresEventStore.open({
    connectionString:
      opts.databaseUrl ?? process.env.AEVO_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    schema: opts.dbSchema ?? process.env.AEVO_DB_SCHEMA ?? 'aevo',
    applicationName: 'aevo-api',
  });
  const app = await NestFactory.create<NestExpressApplication>(ApiModule.forStore(store), {
    logger: opts.quiet ? ['error'] : ['error', 'warn', 'log'],
  });
  app.disable('x-powered-by');
  app.use(securityHeaders());
  app.use(accessGuard(security));
  app.enableShutdownHooks();
  const port = opts.port ?? Number(process.env.AEVO_API_PORT ?? 3000);
  await app.listen(port, host);
  const url = await app.getUrl();
  // Probes on their own port: the API's token guard must not stand between the kubelet and /readyz.
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

if (require.main === module) {
  startApi()
    .then(({ url }) => new Logger('api').log(`dashboard at ${url}/`))
    .catch((err) => {
      console.error(err);
      process.exit(1);
    });
}
