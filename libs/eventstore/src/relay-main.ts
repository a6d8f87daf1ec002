/**
 * The relay as a process: `node libs/eventstore/dist/relay-main.js`. Which one follows AEVO_EVENT_STORE: the outbox
 * relay for PostgreSQL (default), the all-stream relay (`$all` → JetStream, no outbox table) for kurrentdb.
 * Environment: AEVO_EVENT_STORE; for PostgreSQL AEVO_DATABASE_URL, AEVO_DB_SCHEMA (aevo); for KurrentDB
 * AEVO_KURRENTDB_URL, AEVO_KURRENTDB_NAMESPACE (aevo); AEVO_NATS_URL, AEVO_SUBJECT_PREFIX (aevo), AEVO_STREAM
 * (AEVO_EVENTS); optional AEVO_RELAY_BATCH_SIZE, AEVO_RELAY_POLL_MS, and the relay's NATS credentials
 * (AEVO_NATS_CREDENTIALS_FILE, or relay.json in AEVO_NATS_CREDENTIALS_DIR). Logs one JSON object per line; SIGTERM or
 * SIGINT stops it after outstanding acks (exit 0); a start-up refusal exits 1.
 */
import { OutboxRelay, type RelayLogger } from './relay/outbox-relay';
import { AllStreamRelay } from './relay/all-stream-relay';
import { natsAuthFor } from './relay/nats-credentials';
import { eventStoreSelection } from './open-store';

const log: RelayLogger = (level, msg, fields) => {
  const line = JSON.stringify({
    time: new Date().toISOString(),
    level,
    service: 'outbox-relay',
    pid: process.pid,
    msg,
    ...fields,
  });
  if (level === 'info') process.stdout.write(`${line}\n`);
  else process.stderr.write(`${line}\n`);
};

function intEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name}="${raw}": expected a positive integer`);
  return n;
}

async function main(): Promise<void> {
  const env = process.env;
  const selection = eventStoreSelection(env);
  const common = {
    natsUrl: env.AEVO_NATS_URL || 'nats://127.0.0.1:4222',
    subjectPrefix: env.AEVO_SUBJECT_PREFIX || 'aevo',
    stream: env.AEVO_STREAM || 'AEVO_EVENTS',
    batchSize: intEnv('AEVO_RELAY_BATCH_SIZE', 1000),
    pollIntervalMs: intEnv('AEVO_RELAY_POLL_MS', 1000),
    log,
    natsAuth: natsAuthFor(env, 'relay'),
  };
  const relay: {
    start(): Promise<void>;
    stop(): Promise<void>;
    readonly relayedPosition: number;
    readonly publishedCount: number;
    readonly role?: string;
  } =
    selection.kind === 'kurrentdb'
      ? new AllStreamRelay({
          ...common,
          kurrentdbUrl: selection.kurrentdb!.connectionString,
          namespace: selection.kurrentdb!.namespace,
        })
      : new OutboxRelay({
          ...common,
          databaseUrl: env.AEVO_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
          schema: env.AEVO_DB_SCHEMA || 'aevo',
        });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log('info', 'stopping', { signal });
    relay.stop().then(
      () => process.exit(0),
      (err) => {
        log('error', 'stop failed', { error: String(err) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  await relay.start();
  // Progress, only while something moves.
  let reported = -1;
  setInterval(() => {
    if (relay.relayedPosition === reported) return;
    reported = relay.relayedPosition;
    log('info', 'progress', {
      store: selection.kind,
      role: relay.role ?? 'single',
      relayedPosition: relay.relayedPosition,
      published: relay.publishedCount,
    });
  }, 5000).unref();
}

main().catch((err) => {
  log('error', 'relay failed to start', { error: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
