import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { provisionNatsAuth } from '@aevo/messaging';
import { CommandFailed } from './campaign-commands';
import { reachable } from './stack';

export const DEFAULT_UP_NATS_PORT = 4223;
const DEFAULT_NATS_SERVER = '/usr/sbin/nats-server';

/** A nats-server `aevo up` runs for its control plane, with the generated authorization. */
export interface UpNats {
  url: string;
  credentialsDir: string;
  logFile: string;
  stop(): Promise<void>;
}

/** Whether the operator chose the NATS server (AEVO_NATS_URL) or its credentials: then `aevo up` starts none. */
export function natsChosenByOperator(env: NodeJS.ProcessEnv): boolean {
  return ['AEVO_NATS_URL', 'AEVO_NATS_CREDENTIALS_DIR', 'AEVO_NATS_CREDENTIALS_FILE'].some(
    (k) => (env[k] ?? '') !== '',
  );
}

/**
 * Starts the control plane's own nats-server on 127.0.0.1:`AEVO_UP_NATS_PORT` (default 4223) from
 * `<home>/nats/nats-server.conf`: JetStream in `<home>/nats/jetstream` (kept across runs), and every service, the
 * relay and the CLI as their own users with least-privilege permissions (credentials in `<home>/nats/credentials`,
 * passwords kept across runs). Its log is `<home>/logs/nats-server.log`.
 */
export async function startUpNats(env: NodeJS.ProcessEnv, home: string): Promise<UpNats> {
  const raw = env.AEVO_UP_NATS_PORT ?? '';
  const port = raw === '' ? DEFAULT_UP_NATS_PORT : Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new CommandFailed(`AEVO_UP_NATS_PORT="${raw}": expected a TCP port (1-65535)`, 2);
  const bin = env.AEVO_NATS_SERVER_BIN || DEFAULT_NATS_SERVER;
  if (!fs.existsSync(bin))
    throw new CommandFailed(
      `nats-server not found at ${bin}: install the Debian package nats-server, set AEVO_NATS_SERVER_BIN, ` +
        `or point AEVO_NATS_URL at a server`,
      3,
    );
  if (await reachable('127.0.0.1', port))
    throw new CommandFailed(
      `port ${port} is already taken (an earlier aevo up's nats-server?): free it, or set ` +
        `AEVO_UP_NATS_PORT, or point AEVO_NATS_URL at a server`,
      3,
    );
  const dir = path.join(home, 'nats');
  const provisioned = provisionNatsAuth(dir, {
    prefix: env.AEVO_SUBJECT_PREFIX || 'aevo',
    stream: env.AEVO_STREAM || 'AEVO_EVENTS',
    host: '127.0.0.1',
    port,
  });
  const logFile = path.join(home, 'logs', 'nats-server.log');
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const log = fs.openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(bin, ['-c', provisioned.configFile], { stdio: ['ignore', log, log] });
  } finally {
    fs.closeSync(log);
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 20_000;
  while (!(await reachable('127.0.0.1', port, 500))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      const tail = fs.readFileSync(logFile, 'utf8').split('\n').slice(-8).join('\n');
      throw new CommandFailed(`nats-server did not start on 127.0.0.1:${port} (see ${logFile}):\n${tail}`, 3);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    credentialsDir: provisioned.credentialsDir,
    logFile,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM'); // lets JetStream flush its store
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * The environment of a CLI command run beside `aevo up`: when the operator chose no NATS server or credentials and
 * the `aevo up` of this AEVO_HOME runs its own nats-server, the command connects there as the `cli` user.
 */
export function withUpNats(env: NodeJS.ProcessEnv, stateFile: string): NodeJS.ProcessEnv {
  if (natsChosenByOperator(env)) return env;
  let state: { pid?: unknown; nats?: { url?: unknown; credentialsDir?: unknown } };
  try {
    state = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as typeof state;
  } catch {
    return env;
  }
  const nats = state.nats;
  if (typeof state.pid !== 'number' || typeof nats?.url !== 'string' || typeof nats.credentialsDir !== 'string')
    return env;
  try {
    process.kill(state.pid, 0);
  } catch {
    return env; // that aevo up is gone, and its nats-server with it
  }
  return { ...env, AEVO_NATS_URL: nats.url, AEVO_NATS_CREDENTIALS_DIR: nats.credentialsDir };
}
