import * as fs from 'fs';
import * as path from 'path';
import { readNatsCredentialsFile, randomNatsPassword, writeNatsCredentialsFile } from './credentials';
import { renderNatsAuthConfig } from './nats-config';
import { natsPermissions } from './permissions';

export interface NatsAuthProvisionOptions {
  prefix: string;
  stream: string;
  host?: string;
  port?: number;
  monitorPort?: number;
  /** JetStream's store (default `<dir>/jetstream`). */
  storeDir?: string;
  /**
   * New passwords for every user (default: keep those already in `<dir>/credentials`, so running clients keep working).
   */
  rotate?: boolean;
}

export interface NatsAuthProvisioned {
  configFile: string;
  credentialsDir: string;
  users: number;
  kept: number;
}

/**
 * Writes `<dir>/nats-server.conf` (the generated authorization, 0600: it holds the passwords) and one 0600
 * `<dir>/credentials/<user>.json` per user of the declaration.
 */
export function provisionNatsAuth(dir: string, opts: NatsAuthProvisionOptions): NatsAuthProvisioned {
  const out = path.resolve(dir);
  const credentialsDir = path.join(out, 'credentials');
  const decl = natsPermissions(opts.prefix, opts.stream);
  const passwords: Record<string, string> = {};
  let kept = 0;
  for (const u of decl.users) {
    const file = path.join(credentialsDir, `${u.user}.json`);
    if (!opts.rotate && fs.existsSync(file)) {
      passwords[u.user] = readNatsCredentialsFile(file, `${credentialsDir}/`).password;
      kept++;
    } else {
      passwords[u.user] = randomNatsPassword();
      writeNatsCredentialsFile(credentialsDir, { user: u.user, password: passwords[u.user] });
    }
  }
  const text = renderNatsAuthConfig(decl, passwords, {
    host: opts.host,
    port: opts.port,
    monitorPort: opts.monitorPort,
    storeDir: path.resolve(opts.storeDir ?? path.join(out, 'jetstream')),
  });
  const configFile = path.join(out, 'nats-server.conf');
  const tmp = `${configFile}.${process.pid}.tmp`;
  fs.mkdirSync(out, { recursive: true, mode: 0o700 });
  fs.writeFileSync(tmp, text, { mode: 0o600 });
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, configFile);
  return { configFile, credentialsDir, users: decl.users.length, kept };
}
