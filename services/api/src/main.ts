import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { Logger } from '@nestjs/common';
import { PostgresEventStore } from '@aevo/eventstore';
import { ApiModule } from './app.module';

/** Opens the event store and serves the REST API, server-sent events and the dashboard. */
export async function startApi(opts: { port?: number; host?: string; databaseUrl?: string; dbSchema?: string; quiet?: boolean } = {}) {
  const store = await PostgresEventStore.open({
    connectionString: opts.databaseUrl ?? process.env.AEVO_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    schema: opts.dbSchema ?? process.env.AEVO_DB_SCHEMA ?? 'aevo',
    applicationName: 'aevo-api',
  });
  const app = await NestFactory.create(ApiModule.forStore(store), { logger: opts.quiet ? ['error'] : ['error', 'warn', 'log'] });
  app.enableShutdownHooks();
  const port = opts.port ?? Number(process.env.AEVO_API_PORT ?? 3000);
  const host = opts.host ?? process.env.AEVO_API_HOST ?? '127.0.0.1';
  await app.listen(port, host);
  const url = await app.getUrl();
  return {
    app,
    store,
    url: url.replace('[::1]', '127.0.0.1'),
    async close() {
      await app.close();
      await store.close();
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
