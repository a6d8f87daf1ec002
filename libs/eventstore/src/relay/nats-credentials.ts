import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * NATS credentials as files (here, below the messaging layer, because the outbox relay connects too). One JSON
 * file per NATS user, `{"user": "...", "password": "..."}`, mode 0600: `AEVO_NATS_CREDENTIALS_FILE` names a
 * process's own file (a pod mounts only its secret); `AEVO_NATS_CREDENTIALS_DIR` holds one per user, as
 * `tools/nats-auth-config.js` writes them (one host running every service: `aevo up`, the test suites).
 */
export const NATS_CREDENTIALS_ENV = 'AEVO_NATS_CREDENTIALS_FILE';
export const NATS_CREDENTIALS_DIR_ENV = 'AEVO_NATS_CREDENTIALS_DIR';
export const NATS_RELAY_CREDENTIALS_ENV = 'AEVO_NATS_RELAY_CREDENTIALS_FILE';

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

/** Per-user inbox, so that no user can read replies meant for another (nats-server grants `<inbox>.>` only). */
export const inboxPrefixFor = (user: string): string => `_INBOX_${user}`;

/**
 * The connect options of NATS user `user`: from `fileVariable` when set, else `<AEVO_NATS_CREDENTIALS_DIR>/<user>.json`
 * when that is set, else `{}` (a server without authorization). The file must name `user`.
 */
export function natsAuthFor(
  env: NodeJS.ProcessEnv,
  user: string,
  fileVariable: string = NATS_CREDENTIALS_ENV,
): NatsAuthOptions {
  const file = env[fileVariable];
  const dir = env[NATS_CREDENTIALS_DIR_ENV];
  let c: NatsCredentials;
  if (file !== undefined && file !== '') c = readNatsCredentialsFile(file, fileVariable);
  else if (dir !== undefined && dir !== '') {
    c = readNatsCredentialsFile(path.join(dir, `${user}.json`), NATS_CREDENTIALS_DIR_ENV);
    if (c.user !== user)
      throw new Error(
        `${NATS_CREDENTIALS_DIR_ENV}=${dir}: ${user}.json holds the credentials of "${c.user}", expected "${user}"`,
      );
  } else return {};
  return { user: c.user, pass: c.password, inboxPrefix: inboxPrefixFor(c.user) };
}

export function readNatsCredentialsFile(file: string, variable: string = NATS_CREDENTIALS_ENV): NatsCredentials {
  const where = `${variable}=${file}`;
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (err) {
    throw new Error(
      `${where}: cannot read the NATS credentials file (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
    );
  }
  if (!st.isFile()) throw new Error(`${where}: expected a file with {"user": ..., "password": ...}`);
  // A password others can read is no secret; refuse rather than warn (same rule as ssh keys).
  if (process.platform !== 'win32' && (st.mode & 0o077) !== 0)
    throw new Error(
      `${where}: the NATS credentials file is readable by group or others (mode ` +
        `${(st.mode & 0o777).toString(8)}); chmod 600 it`,
    );
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${where}: expected JSON {"user": "...", "password": "..."} (${(err as Error).message})`);
  }
  const o = raw as { user?: unknown; password?: unknown };
  if (
    raw === null ||
    typeof raw !== 'object' ||
    typeof o.user !== 'string' ||
    !USER.test(o.user) ||
    typeof o.password !== 'string' ||
    o.password === ''
  )
    throw new Error(`${where}: expected JSON {"user": "<letters, digits, _ or ->", "password": "<non-empty string>"}`);
  return { user: o.user, password: o.password };
}
