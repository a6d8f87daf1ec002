#!/usr/bin/env node
import { natsAuthFor, openEventStoreFromEnv, PostgresEventStore } from '@aevo/eventstore';
import { CommandClient } from '@aevo/messaging';
import { runCli } from './program';
import { homeOf, upStateFile } from './up';
import { withUpNats } from './up-nats';

const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

runCli(process.argv.slice(2), {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  // Beside an `aevo up` that runs its own nats-server, commands connect there as the `cli` user.
  env: withUpNats(process.env, upStateFile(homeOf(process.env))),
  tty: process.stdout.isTTY === true,
  // AEVO_EVENT_STORE=kurrentdb reads the KurrentDB store instead (every command, audit replay --verify included).
  openStore: (env) =>
    env.AEVO_EVENT_STORE?.trim() === 'kurrentdb'
      ? openEventStoreFromEnv(env, { applicationName: 'aevo-cli' })
      : PostgresEventStore.open({
          connectionString: env.AEVO_DATABASE_URL ?? DEFAULT_DATABASE_URL,
          schema: env.AEVO_DB_SCHEMA ?? 'aevo',
          applicationName: 'aevo-cli',
          poolSize: 2,
        }),
  commands: (env) =>
    CommandClient.connect({
      natsUrl: env.AEVO_NATS_URL ?? 'nats://127.0.0.1:4222',
      subjectPrefix: env.AEVO_SUBJECT_PREFIX ?? 'aevo',
      issuedBy: 'cli',
      natsAuth: natsAuthFor(env, 'cli'),
    }),
}).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`aevo: ${String(err)}\n`);
    process.exit(3);
  },
);
