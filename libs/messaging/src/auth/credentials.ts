import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { inboxPrefixFor, NATS_CREDENTIALS_ENV, readNatsCredentialsFile, type NatsAuthOptions, type NatsCredentials } from '@aevo/eventstore';

export { NATS_CREDENTIALS_DIR_ENV, NATS_CREDENTIALS_ENV, NATS_RELAY_CREDENTIALS_ENV, natsAuthFor, readNatsCredentialsFile, type NatsAuthOptions, type NatsCredentials } from '@aevo/eventstore';

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
