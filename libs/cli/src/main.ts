#!/usr/bin/env node
import { PostgresEventStore } from '@aevo/eventstore';
import { runCli } from './program';

const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

runCli(process.argv.slice(2), {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
  openStore: (env) =>
    PostgresEventStore.open({ connectionString: env.AEVO_DATABASE_URL ?? DEFAULT_DATABASE_URL, schema: env.AEVO_DB_SCHEMA ?? 'aevo', applicationName: 'aevo-cli', poolSize: 2 }),
}).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`aevo: ${String(err)}\n`);
    process.exit(3);
  },
);
