import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { PostgresEventStore, type StoredEvent } from '@aevo/eventstore';
import { SERVICE_NAMES, API_NAME, serviceMain } from '@aevo/cli';
import { createTestDb, createTestNatsNames, eventually, type TestDb, type TestNatsNames } from '@aevo/testkit';

export const ROOT = path.resolve(__dirname, '..', '..');
export const CLI = path.join(ROOT, 'libs', 'cli', 'dist', 'main.js');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * One isolated control plane for a suite: its own PostgreSQL schema, JetStream stream and subject prefix, and
 * AEVO_HOME, with every service started by the real `aevo up` (the built services as child processes) and every
 * command given through the built `aevo` binary, as a user would.
 */
export class E2eControlPlane {
  db!: TestDb;
  names!: TestNatsNames;
  home!: string;
  store!: PostgresEventStore;
  env!: NodeJS.ProcessEnv;
  private upProc: ChildProcess | null = null;
  private upOut = '';
  private upExit: Promise<number | null> | null = null;

  /** `extraEnv` tunes services (e.g. slots, tick periods). */
  async start(extraEnv: NodeJS.ProcessEnv = {}, upArgs: string[] = []): Promise<void> {
    const missing = [...SERVICE_NAMES, API_NAME].map((n) => serviceMain(ROOT, n)).concat(CLI).filter((f) => !fs.existsSync(f));
    if (missing.length > 0) throw new Error(`not built: ${missing.join(', ')} — run npm run build (tools/test-all.sh builds first)`);
    this.db = await createTestDb('aevo_e2e');
    this.names = createTestNatsNames();
    this.home = fs.mkdtempSync(path.join(os.tmpdir(), 'aevo-e2e-'));
    this.store = await PostgresEventStore.open({ connectionString: this.db.url, schema: this.db.schema, poolSize: 2 });
    this.env = {
      ...process.env,
      AEVO_DATABASE_URL: this.db.url,
      AEVO_DB_SCHEMA: this.db.schema,
      AEVO_NATS_URL: this.names.url,
      AEVO_SUBJECT_PREFIX: this.names.subjectPrefix,
      AEVO_STREAM: this.names.stream,
      AEVO_HOME: this.home,
      AEVO_API_PORT: '0',
      NO_COLOR: '1',
      ...extraEnv,
    };
    const child = spawn(process.execPath, [CLI, 'up', '--no-infra', ...upArgs], { cwd: ROOT, env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.upProc = child;
    child.stdout?.on('data', (d) => (this.upOut += String(d)));
    child.stderr?.on('data', (d) => (this.upOut += String(d)));
    this.upExit = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    await eventually(() => {
      if (child.exitCode !== null) throw new Error(`aevo up exited ${child.exitCode}:\n${this.upOut}`);
      return /service\(s\) ready/.test(this.upOut);
    }, 240_000, 200).catch((err) => {
      throw new Error(`${(err as Error).message}\n--- aevo up output:\n${this.upOut}\n${this.logTails()}`);
    });
  }

  get upOutput(): string {
    return this.upOut;
  }

  /** Runs the built `aevo` binary with this plane's environment. */
  cli(args: string[], timeoutMs = 60_000): Promise<CliRun> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
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
    await this.store?.close();
    if (this.names) {
      const nc = await connect({ servers: this.names.url });
      await (await jetstreamManager(nc)).streams.delete(this.names.stream).catch(() => undefined);
      await nc.close();
    }
    await this.db?.drop();
    if (this.home && !process.env.AEVO_E2E_KEEP) fs.rmSync(this.home, { recursive: true, force: true });
    return code;
  }
}
