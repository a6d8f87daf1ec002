import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { inboxPrefixFor } from './permissions';

export const NATS_CREDENTIALS_ENV = 'AEVO_NATS_CREDENTIALS_FILE';

export interface NatsCredentials {
  user: string;
  password: string;
}

/** Options to spread into `connect()` of @nats-io/transport-node. */
export interface NatsAuthOptions {
  user?: string;
  pass?: string;
  inboxPrefix?: string;
}

const USER = /^[A-Za-z0-9_-]+$/;

/** 32 random bytes, base64url: no characters that need escaping in a nats-server config string. */
export const randomNatsPassword = (): string => randomBytes(32).toString('base64url');

/**
 * Reads `$AEVO_NATS_CREDENTIALS_FILE` (JSON `{"user": "...", "password": "..."}`, mode 0600 or stricter) and returns
 * `{ user, pass, inboxPrefix }` for `connect()`. Without the variable: `{}` (a server without authorization).
 * `variable` lets a second connection in the same process (the embedded outbox relay) use other credentials.
 */
export function natsConnectAuth(env: NodeJS.ProcessEnv = process.env, variable: string = NATS_CREDENTIALS_ENV): NatsAuthOptions {
  const file = env[variable];
  if (file === undefined || file === '') return {};
  const c = readNatsCredentialsFile(file, variable);
  return { user: c.user, pass: c.password, inboxPrefix: inboxPrefixFor(c.user) };
}

export function readNatsCredentialsFile(file: string, variable: string = NATS_CREDENTIALS_ENV): NatsCredentials {
  const where = `${variable}=${file}`;
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (err) {
    throw new Error(`${where}: cannot read the NATS credentials file (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  if (!st.isFile()) throw new Error(`${where}: expected a file with {"user": ..., "password": ...}`);
  // A password others can read is no secret; refuse rather than warn (same rule as ssh keys).
  if (process.platform !== 'win32' && (st.mode & 0o077) !== 0)
    throw new Error(`${where}: the NATS credentials file is readable by group or others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${where}: expected JSON {"user": "...", "password": "..."} (${(err as Error).message})`);
  }
  const o = raw as { user?: unknown; password?: unknown };
  if (raw === null || typeof raw !== 'object' || typeof o.user !== 'string' || !USER.test(o.user) || typeof o.password !== 'string' || o.password === '')
    throw new Error(`${where}: expected JSON {"user": "<letters, digits, _ or ->", "password": "<non-empty string>"}`);
  return { user: o.user, password: o.password };
}

/** Writes `<dir>/<user>.json` with mode 0600 (through a temporary file, so that no reader sees a partial file). */
export function writeNatsCredentialsFile(dir: string, creds: NatsCredentials): string {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, `${creds.user}.json`);
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(tmp, 'w', 0o600);
  try {
    fs.fchmodSync(fd, 0o600); // open's mode only applies to a new file; a leftover tmp keeps its old mode
    fs.writeSync(fd, `${JSON.stringify({ user: creds.user, password: creds.password })}\n`);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  return file;
}
