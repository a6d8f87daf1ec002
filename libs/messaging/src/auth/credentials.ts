import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type { NatsCredentials } from '@aevo/eventstore';

export {
  NATS_CREDENTIALS_DIR_ENV,
  NATS_CREDENTIALS_ENV,
  NATS_RELAY_CREDENTIALS_ENV,
  natsAuthFor,
  readNatsCredentialsFile,
  type NatsAuthOptions,
  type NatsCredentials,
} from '@aevo/eventstore';

/** 32 random bytes, base64url: no characters that need escaping in a nats-server config string. */
export const randomNatsPassword = (): string => randomBytes(32).toString('base64url');

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
