import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openKurrentDbEventStore, PostgresEventStore, type EventStore, type StoredEvent } from '@aevo/eventstore';
import { SERVICE_NAMES, API_NAME, serviceMain } from '@aevo/cli';
import { accepts, freePort } from '../chaos/harness/own-infra';
import { createTestDb, createTestNatsNames, eventually, type TestDb, type TestNatsNames } from '@aevo/testkit';

export const ROOT = path.resolve(__dirname, '..', '..');
export const CLI = path.join(ROOT, 'libs', 'cli', 'dist', 'main.js');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

const NATS_SERVER = process.env.AEVO_NATS_SERVER_BIN ?? '/usr/sbin/nats-server';

/**
 * A nats-server of the suite's own, with the authorization tools/nats-auth-config.js generates for the suite's
 * subject prefix and stream: every service, the relay and the CLI connect as their own users with least-privilege
 * subject permissions (credentials in `credentialsDir`, one 0600 file per user).
 */
export class AuthorizedNatsServer {
  private proc: ChildProcess | null = null;
  private log = '';
  private constructor(
    readonly dir: string,
    readonly url: string,
  ) {}

  get credentialsDir(): string {
    return path.join(this.dir, 'credentials');
  }

  static async start(prefix: string, stream: string): Promise<AuthorizedNatsServer> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aevo-nats-'));
    const port = await freePort();
    execFileSync(
      process.execPath,
      [
        path.join(ROOT, 'tools', 'nats-auth-config.js'),
        '--out',
        dir,
        '--port',
        String(port),
        '--store-dir',
        path.join(dir, 'jetstream'),
        '--prefix',
        prefix,
        '--stream',
        stream,
      ],
      {
        cwd: ROOT,
        stdio: 'pipe',
      },
    );
    const server = new AuthorizedNatsServer(dir, `nats://127.0.0.1:${port}`);
    const child = spawn(NATS_SERVER, ['-c', path.join(dir, 'nats-server.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
    server.proc = child;
    child.stdout?.on('data', (d) => (server.log = (server.log + String(d)).slice(-8192)));
    child.stderr?.on('data', (d) => (server.log = (server.log + String(d)).slice(-8192)));
    await eventually(
      async () => {
        if (child.exitCode !== null) throw new Error(`nats-server exited ${child.exitCode}: ${server.log}`);
        return accepts(port);
      },
      20_000,
      50,
    );
    return server;
  }

  /** The connect options of one of its users (the test acting as that user). */
  credentialsOf(user: string): { user: string; pass: string; inboxPrefix: string } {
    const c = JSON.parse(fs.readFileSync(path.join(this.credentialsDir, `${user}.json`), 'utf8')) as {
      user: string;
      password: string;
    };
    return { user: c.user, pass: c.password, inboxPrefix: `_INBOX_${c.user}` };
  }

  /** The server's log: permission violations show here. */
  get output(): string {
    return this.log;
  }

  async stop(): Promise<void> {
    const child = this.proc;
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Options of E2eControlPlane.start beyond the environment and `aevo up` arguments (all optional). */
export interface E2ePlaneOptions {
  /**
   * Keep the campaigns' record in KurrentDB at this connection string instead of PostgreSQL: every service and the
   * CLI get AEVO_EVENT_STORE=kurrentdb, and the all-stream relay (libs/eventstore/dist/relay-main.js) runs as a
   * process of its own, since services embed only PostgreSQL's outbox relay. PostgreSQL is still given (the
   * leaderboard's sealed scores live there).
   */
  kurrentdb?: { connectionString: string; namespace?: string };
}

/**
 * One isolated control plane for a suite: its own PostgreSQL schema, JetStream stream and subject prefix, its own
 * nats-server with authorization (AuthorizedNatsServer), and AEVO_HOME, with every service started by the real
 * `aevo up` (the built services as child processes) and every command given through the built `aevo` binary, as a
 * user would.
 */
export class E2eControlPlane {
  db!: TestDb;
  names!: TestNatsNames;
  nats!: AuthorizedNatsServer;
  home!: string;
  /** The store of record: PostgreSQL, or KurrentDB with E2ePlaneOptions.kurrentdb. */
  store!: EventStore;
  env!: NodeJS.ProcessEnv;
  private upProc: ChildProcess | null = null;
  private relayProc: ChildProcess | null = null;
  private relayOut = '';
  private upOut = '';
  private upExit: Promise<number | null> | null = null;

  /** `extraEnv` tunes services (e.g. slots, tick periods). */
  async start(extraEnv: NodeJS.ProcessEnv = {}, upArgs: string[] = [], options: E2ePlaneOptions = {}): Promise<void> {
    const missing = [...SERVICE_NAMES, API_NAME]
      .map((n) => serviceMain(ROOT, n))
      .concat(CLI)
      .filter((f) => !fs.existsSync(f));
    if (missing.length > 0)
      throw new Error(`not built: ${missing.join(', ')} — run npm run build (tools/test-all.sh builds first)`);
    this.db = await createTestDb('aevo_e2e');
    const names = createTestNatsNames();
    this.nats = await AuthorizedNatsServer.start(names.subjectPrefix, names.stream);
    this.names = { ...names, url: this.nats.url };
    this.home = fs.mkdtempSync(path.join(os.tmpdir(), 'aevo-e2e-'));
    const kurrentdb = options.kurrentdb;
    this.store = kurrentdb
      ? await openKurrentDbEventStore({
          connectionString: kurrentdb.connectionString,
          namespace: kurrentdb.namespace ?? 'aevo',
        })
      : await PostgresEventStore.open({ connectionString: this.db.url, schema: this.db.schema, poolSize: 2 });
    this.env = {
      ...process.env,
      AEVO_DATABASE_URL: this.db.url,
      AEVO_DB_SCHEMA: this.db.schema,
      AEVO_NATS_URL: this.names.url,
      AEVO_NATS_CREDENTIALS_DIR: this.nats.credentialsDir,
      AEVO_SUBJECT_PREFIX: this.names.subjectPrefix,
      AEVO_STREAM: this.names.stream,
      AEVO_HOME: this.home,
      AEVO_API_PORT: '0',
      NO_COLOR: '1',
      ...(kurrentdb
        ? {
            AEVO_EVENT_STORE: 'kurrentdb',
            AEVO_KURRENTDB_URL: kurrentdb.connectionString,
            AEVO_KURRENTDB_NAMESPACE: kurrentdb.namespace ?? 'aevo',
          }
        : {}),
      ...extraEnv,
    };
    if (kurrentdb) this.startAllStreamRelay();
    const child = spawn(process.execPath, [CLI, 'up', '--no-infra', ...upArgs], {
      cwd: ROOT,
      env: this.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.upProc = child;
    child.stdout?.on('data', (d) => (this.upOut += String(d)));
    child.stderr?.on('data', (d) => (this.upOut += String(d)));
    this.upExit = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    await eventually(
      () => {
        if (child.exitCode !== null) throw new Error(`aevo up exited ${child.exitCode}:\n${this.upOut}`);
        return /service\(s\) ready/.test(this.upOut);
      },
      240_000,
      200,
    ).catch((err) => {
      throw new Error(`${(err as Error).message}\n--- aevo up output:\n${this.upOut}\n${this.logTails()}`);
    });
  }

  /** The all-stream relay as its own process (the KurrentDB store's relay to JetStream). */
  private startAllStreamRelay(): void {
    const main = path.join(ROOT, 'libs', 'eventstore', 'dist', 'relay-main.js');
    if (!fs.existsSync(main)) throw new Error(`not built: ${main} — run npx nx run-many -t build`);
    const child = spawn(process.execPath, [main], { cwd: ROOT, env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.relayProc = child;
    child.stdout?.on('data', (d) => (this.relayOut = (this.relayOut + String(d)).slice(-16_384)));
    child.stderr?.on('data', (d) => (this.relayOut = (this.relayOut + String(d)).slice(-16_384)));
  }

  get upOutput(): string {
    return this.upOut;
  }

  /** Runs the built `aevo` binary with this plane's environment. */
  cli(args: string[], timeoutMs = 60_000): Promise<CliRun> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [CLI, ...args], {
        cwd: ROOT,
        env: this.env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout?.on('data', (d) => (stdout += String(d)));
      child.stderr?.on('data', (d) => (stderr += String(d)));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.once('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  async events(campaignId: string, types?: string[]): Promise<StoredEvent[]> {
    return this.store.readAll({ campaignId, types });
  }

  async count(campaignId: string, type: string): Promise<number> {
    return (await this.events(campaignId, [type])).length;
  }

  /** The last lines of every service log (for failure messages). */
  logTails(lines = 25): string {
    const dir = path.join(this.home ?? '', 'logs');
    if (!this.home || !fs.existsSync(dir)) return '';
    return [...SERVICE_NAMES, API_NAME]
      .map((n) => {
        const f = path.join(dir, `${n}.log`);
        const text = fs.existsSync(f) ? fs.readFileSync(f, 'utf8').split('\n').slice(-lines).join('\n') : '(no log)';
        return `--- ${n}.log\n${text}`;
      })
      .concat(this.relayProc ? [`--- relay-main\n${this.relayOut.split('\n').slice(-lines).join('\n')}`] : [])
      .join('\n');
  }

  /** SIGTERM to `aevo up` (which stops every service), then drops the schema, the stream and the home. */
  async stop(): Promise<number | null> {
    let code: number | null = null;
    if (this.upProc && this.upProc.exitCode === null) {
      this.upProc.kill('SIGTERM');
      const timer = setTimeout(() => this.upProc?.kill('SIGKILL'), 60_000);
      code = await this.upExit;
      clearTimeout(timer);
    }
    const relay = this.relayProc;
    if (relay && relay.exitCode === null) {
      const exited = new Promise((r) => relay.once('exit', r));
      relay.kill('SIGTERM');
      const timer = setTimeout(() => relay.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    }
    await this.store?.close();
    await this.nats?.stop(); // its JetStream store goes with it
    await this.db?.drop();
    if (this.home && !process.env.AEVO_E2E_KEEP) fs.rmSync(this.home, { recursive: true, force: true });
    return code;
  }
}
