import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import {
  NATS_USERS,
  natsPermissions,
  randomNatsPassword,
  renderNatsAuthConfig,
  writeNatsCredentialsFile,
  type NatsPermissions,
  type UserPermissions,
} from '@aevo/messaging';

/**
 * The chaos suite's own PostgreSQL and nats-server, so that restarting them never touches the machine's shared
 * instances (127.0.0.1:5432 and :4222) that other suites use.
 */

export const PG_BIN = process.env.AEVO_CHAOS_PG_BIN ?? '/usr/lib/postgresql/15/bin';
export const NATS_SERVER = process.env.AEVO_CHAOS_NATS_SERVER ?? '/usr/sbin/nats-server';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A TCP port nothing listens on right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export function accepts(port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(100);
  }
  throw new Error(`${what}: not reached within ${timeoutMs} ms`);
}

const SHARED_PORTS = new Set([5432, 4222]);

function assertNotShared(port: number): void {
  // The whole point of these classes: never stop or restart the machine's shared servers.
  if (SHARED_PORTS.has(port))
    throw new Error(`refusing to manage port ${port}: it belongs to the machine's shared infrastructure`);
}

/**
 * A private PostgreSQL 15 cluster in a temporary directory (trust auth, user postgres), run as the `postgres` OS
 * user when this process is root (initdb refuses root).
 */
export class OwnPostgres {
  readonly dir: string;
  readonly dataDir: string;
  private readonly asPostgres: boolean;
  private running = false;

  private constructor(
    readonly port: number,
    dir: string,
  ) {
    this.dir = dir;
    this.dataDir = path.join(dir, 'data');
    this.asPostgres = process.getuid?.() === 0;
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  static async create(port?: number): Promise<OwnPostgres> {
    if (!fs.existsSync(path.join(PG_BIN, 'initdb')))
      throw new Error(`PostgreSQL binaries not found in ${PG_BIN} (set AEVO_CHAOS_PG_BIN)`);
    const p = port ?? (await freePort());
    assertNotShared(p);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aevo-chaos-pg-'));
    const pg = new OwnPostgres(p, dir);
    if (pg.asPostgres) {
      fs.chmodSync(dir, 0o700);
      const ids = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
      const gids = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
      if (ids.status !== 0) throw new Error('running as root but there is no "postgres" OS user to run initdb as');
      fs.chownSync(dir, Number(ids.stdout.trim()), Number(gids.stdout.trim()));
    }
    pg.run('initdb', ['-D', pg.dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
    return pg;
  }

  private run(bin: string, args: string[]): string {
    const cmd = path.join(PG_BIN, bin);
    const r = this.asPostgres
      ? spawnSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { encoding: 'utf8', timeout: 120_000 })
      : spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0)
      throw new Error(`${bin} ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr || r.stdout}`);
    return r.stdout;
  }

  async start(): Promise<void> {
    // fsync off: the machine does not crash under us; only the server process is stopped (immediate = crash-like).
    const opts = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300`;
    this.run('pg_ctl', [
      '-D',
      this.dataDir,
      '-o',
      opts,
      '-l',
      path.join(this.dir, 'server.log'),
      '-w',
      '-t',
      '60',
      'start',
    ]);
    this.running = true;
    await waitUntil(`PostgreSQL on ${this.port}`, () => this.answers(), 60_000);
  }

  /** `immediate` aborts every backend without a checkpoint (the next start runs crash recovery); `fast` is clean. */
  async stop(mode: 'immediate' | 'fast' = 'fast'): Promise<void> {
    if (!this.running) return;
    this.run('pg_ctl', ['-D', this.dataDir, '-m', mode, '-w', '-t', '60', 'stop']);
    this.running = false;
  }

  /** Stops the server (crash-like by default), keeps it down for downMs, starts it again on the same port. */
  async restart(downMs: number, mode: 'immediate' | 'fast' = 'immediate'): Promise<void> {
    await this.stop(mode);
    await sleep(downMs);
    await this.start();
  }

  async answers(): Promise<boolean> {
    const c = new Client({ connectionString: this.url, connectionTimeoutMillis: 2000 });
    c.on('error', () => undefined);
    try {
      await c.connect();
      await c.query('SELECT 1');
      return true;
    } catch {
      return false;
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  /** Stops the server and removes its directory. */
  async destroy(): Promise<void> {
    try {
      await this.stop('immediate');
    } catch {
      // already stopped, or the data directory is gone
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The harness's own NATS user: it reads streams, sends commands and deletes a run's stream (never a service). */
export const HARNESS_NATS_USER = 'chaos-harness';

/**
 * A private nats-server with JetStream (file store in a temporary directory), restartable on the same port, with
 * the generated authorization: every run's services, relay and CLI connect as their own users with the permissions
 * of their run's subject prefix and stream (`authorize` adds a run and reloads the server's configuration).
 */
export class OwnNats {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  readonly storeDir: string;
  private readonly runs: Array<{ prefix: string; stream: string }> = [];
  private readonly passwords: Record<string, string> = {};

  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {
    this.storeDir = path.join(dir, 'jetstream');
    for (const user of [...NATS_USERS, HARNESS_NATS_USER]) {
      this.passwords[user] = randomNatsPassword();
      writeNatsCredentialsFile(this.credentialsDir, { user, password: this.passwords[user] });
    }
    this.writeConfig();
  }

  /** One 0600 file per user (AEVO_NATS_CREDENTIALS_DIR of every service). */
  get credentialsDir(): string {
    return path.join(this.dir, 'credentials');
  }

  get configFile(): string {
    return path.join(this.dir, 'nats-server.conf');
  }

  /** The harness's connect options. */
  get harnessAuth(): { user: string; pass: string } {
    return { user: HARNESS_NATS_USER, pass: this.passwords[HARNESS_NATS_USER] };
  }

  /** Grants a run's users their subjects (prefix, stream) and has a running server reload its configuration. */
  async authorize(prefix: string, stream: string): Promise<void> {
    if (this.runs.some((r) => r.prefix === prefix && r.stream === stream)) return;
    this.runs.push({ prefix, stream });
    this.writeConfig();
    const child = this.child;
    if (!child?.pid) return;
    const logFile = path.join(this.dir, 'server.log');
    const before = fs.existsSync(logFile)
      ? fs.readFileSync(logFile, 'utf8').split('Reloaded server configuration').length
      : 0;
    process.kill(child.pid, 'SIGHUP');
    await waitUntil(
      'nats-server to reload its configuration',
      async () => fs.readFileSync(logFile, 'utf8').split('Reloaded server configuration').length > before,
      10_000,
    );
  }

  /** Every run's permissions merged per user, and the harness's own user. */
  private writeConfig(): void {
    const decls: NatsPermissions[] = this.runs.map((r) => natsPermissions(r.prefix, r.stream));
    const users = new Map<string, UserPermissions>();
    const union = (a: string[], b: string[]) => [...new Set([...a, ...b])];
    for (const d of decls)
      for (const u of d.users) {
        const had = users.get(u.user);
        users.set(
          u.user,
          had
            ? {
                ...had,
                publish: {
                  allow: union(had.publish.allow, u.publish.allow),
                  deny: union(had.publish.deny, u.publish.deny),
                },
                subscribe: {
                  allow: union(had.subscribe.allow, u.subscribe.allow),
                  deny: union(had.subscribe.deny, u.subscribe.deny),
                },
                allowResponses: had.allowResponses || u.allowResponses,
                roles: union(had.roles, u.roles),
              }
            : u,
        );
      }
    // Before any run: every user exists but may do nothing.
    for (const user of NATS_USERS)
      if (!users.has(user))
        users.set(user, {
          user,
          inboxPrefix: `_INBOX_${user}`,
          publish: { allow: [], deny: ['>'] },
          subscribe: { allow: [], deny: ['>'] },
          allowResponses: false,
          roles: ['no run yet'],
        });
    const harness = {
      user: HARNESS_NATS_USER,
      inboxPrefix: '_INBOX',
      publish: { allow: ['>'], deny: [] },
      subscribe: { allow: ['>'], deny: [] },
      allowResponses: true,
      roles: ['the chaos harness'],
    };
    const decl = {
      prefix: 'chaos',
      stream: 'CHAOS',
      users: [...users.values(), harness as unknown as UserPermissions],
    };
    const text = renderNatsAuthConfig(decl, this.passwords, {
      host: '127.0.0.1',
      port: this.port,
      storeDir: this.storeDir,
    });
    fs.writeFileSync(`${this.configFile}.tmp`, text, { mode: 0o600 });
    fs.renameSync(`${this.configFile}.tmp`, this.configFile);
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  static async create(port?: number): Promise<OwnNats> {
    if (!fs.existsSync(NATS_SERVER))
      throw new Error(`nats-server not found at ${NATS_SERVER} (set AEVO_CHAOS_NATS_SERVER)`);
    const p = port ?? (await freePort());
    assertNotShared(p);
    return new OwnNats(p, fs.mkdtempSync(path.join(os.tmpdir(), 'aevo-chaos-nats-')));
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(): Promise<void> {
    if (this.child) throw new Error('nats-server is running');
    const log = fs.openSync(path.join(this.dir, 'server.log'), 'a');
    const child = spawn(NATS_SERVER, ['-c', this.configFile], { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    void this.exited.then(() => {
      if (this.child === child) this.child = null;
    });
    await waitUntil(`nats-server on ${this.port}`, () => accepts(this.port), 30_000);
  }

  /** SIGTERM lets the server flush its JetStream store (a clean restart); SIGKILL is a crash. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child) return;
    const exited = this.exited;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
    this.child = null;
  }

  async restart(downMs: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.stop(signal);
    await sleep(downMs);
    await this.start();
  }

  async destroy(): Promise<void> {
    await this.stop('SIGKILL');
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
