/**
 * The store gateway as a process: `node libs/eventstore/dist/store-gateway-main.js`, in the control cluster beside
 * the record. It serves the event store port over NATS to compute-cluster services that run with
 * AEVO_EVENT_STORE=remote (see remote/protocol.ts). Environment: the store it fronts, selected as for any service
 * (AEVO_EVENT_STORE=postgres|kurrentdb with their variables; `remote` is refused: a gateway must sit on the record),
 * AEVO_NATS_URL, AEVO_SUBJECT_PREFIX (aevo), and its NATS credentials (AEVO_NATS_CREDENTIALS_FILE, or
 * store-gateway.json in AEVO_NATS_CREDENTIALS_DIR); AEVO_HEALTH_PORT (unset: off, 0: any free port) serves /healthz
 * and /readyz (ready: NATS open and the record answers, see remote/gateway-health.ts). Logs one JSON object per
 * line; SIGTERM or SIGINT stops it after the answers in flight (exit 0); a start-up refusal exits 1.
 */
import { connect } from '@nats-io/transport-node';
import { eventStoreSelection, openEventStoreFromEnv } from './open-store';
import { natsAuthFor } from './relay/nats-credentials';
import { startGatewayHealthServer, type GatewayHealthServer } from './remote/gateway-health';
import { StoreGateway } from './remote/store-gateway';

const log = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => {
  const line = JSON.stringify({
    time: new Date().toISOString(),
    level,
    service: 'store-gateway',
    pid: process.pid,
    msg,
    ...fields,
  });
  (level === 'info' ? process.stdout : process.stderr).write(`${line}\n`);
};

async function main(): Promise<void> {
  const env = process.env;
  const selection = eventStoreSelection(env);
  if (selection.kind === 'remote')
    throw new Error('AEVO_EVENT_STORE=remote: a store gateway must front the record itself (postgres or kurrentdb)');
  const prefix = env.AEVO_SUBJECT_PREFIX || 'aevo';
  const store = await openEventStoreFromEnv(env, { applicationName: 'aevo-store-gateway' });
  const nc = await connect({
    servers: env.AEVO_NATS_URL || 'nats://127.0.0.1:4222',
    name: 'aevo-store-gateway',
    ...natsAuthFor(env, 'store-gateway'),
  });
  const gateway = StoreGateway.start({ nc, prefix, store, log: (level, message) => log(level, message) });
  const health = await healthServer(env, {
    natsOpen: () => !nc.isClosed(),
    storeAnswers: () => store.headPosition(),
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log('info', 'stopping', { signal });
    gateway
      .close()
      .then(() => health?.close())
      .then(() => nc.drain())
      .then(() => store.close())
      .then(
        () => process.exit(0),
        (err) => {
          log('error', 'stop failed', { error: String(err) });
          process.exit(1);
        },
      );
  };
  // Handlers before the 'serving' line: whoever reads that line may signal at once.
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  log('info', 'serving', {
    store: selection.kind,
    subjects: `${prefix}.store.>`,
    probes: health ? `${health.url}/healthz, ${health.url}/readyz` : 'off',
  });
}

/** The probes' server when AEVO_HEALTH_PORT is set (an integer 0–65535; anything else refuses to start). */
async function healthServer(
  env: NodeJS.ProcessEnv,
  checks: Parameters<typeof startGatewayHealthServer>[0],
): Promise<GatewayHealthServer | null> {
  const raw = env.AEVO_HEALTH_PORT;
  if (raw === undefined || raw === '') return null;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port > 65_535)
    throw new Error(`AEVO_HEALTH_PORT must be an integer port 0–65535 (0: any free port), got ${JSON.stringify(raw)}`);
  return startGatewayHealthServer(checks, port, env.AEVO_HEALTH_HOST || '0.0.0.0');
}

main().catch((err) => {
  log('error', 'store gateway failed to start', { error: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
