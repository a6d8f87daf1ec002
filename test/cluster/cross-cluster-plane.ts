// A control cluster and a compute cluster on loopback (ARCHITECTURE.md, "Across clusters"): a hub nats-server
// (JetStream domain `hub`) and a leaf (domain `c1`), both with the generated users, configured by
// tools/nats-leaf-config.js; the control services, their embedded outbox relay and the store gateway on the hub with
// the suite's PostgreSQL schema; worker, dispatch and evaluation on the leaf with AEVO_JS_DOMAIN=c1,
// AEVO_EVENT_STORE=remote and no database settings at all. The built services run as processes (LocalStack, what
// `aevo up` runs), commands go through the built `aevo` binary on the hub, as an operator's would.
//
// Known gap: the artefact store is not wired into the services yet, so both clusters share one AEVO_HOME (files a
// job writes on the compute side are read by the control side from the same directory). Everything else crosses
// only the leaf connection.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PostgresEventStore, type StoredEvent } from '@aevo/eventstore';
import { LocalStack, serviceMain, type ServiceName } from '@aevo/cli';
import { createTestDb, createTestNatsNames, type TestDb, type TestNatsNames } from '@aevo/testkit';
import { CLI, ROOT, type CliRun } from '../e2e/harness';
import { freePort, NatsProc, sleep, until } from './nats-procs';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { renderHubConfig, renderLeafConfig } = require('../../tools/nats-leaf-config.js') as {
  renderHubConfig: (o: Record<string, unknown>) => string;
  renderLeafConfig: (o: Record<string, unknown>) => string;
};

export const CONTROL_SERVICES: ServiceName[] = ['orchestrator', 'substrate', 'leaderboard', 'collector', 'meta-policy'];
export const COMPUTE_SERVICES: ServiceName[] = ['worker', 'dispatch', 'evaluation'];
export const COMPUTE_DOMAIN = 'c1';
const GATEWAY_MAIN = path.join(ROOT, 'libs', 'eventstore', 'dist', 'store-gateway-main.js');

export class CrossClusterPlane {
  db!: TestDb;
  names!: TestNatsNames;
  store!: PostgresEventStore;
  /** The shared AEVO_HOME (see the known gap above). */
  home = '';
  /** The hub's environment: the control services', the store gateway's and the CLI's. */
  env: NodeJS.ProcessEnv = {};
  /** The compute services' environment. */
  computeEnv: NodeJS.ProcessEnv = {};
  hub!: NatsProc;
  leaf!: NatsProc;
  private dir = '';
  private control: LocalStack | null = null;
  private compute: LocalStack | null = null;
  private gateway: ChildProcess | null = null;
  private gatewayExit: Promise<void> = Promise.resolve();
  private gatewayOut = '';

  constructor(readonly label: string) {}

  async start(extraEnv: NodeJS.ProcessEnv): Promise<void> {
    const missing = [...CONTROL_SERVICES, ...COMPUTE_SERVICES]
      .map((n) => serviceMain(ROOT, n))
      .concat(CLI, GATEWAY_MAIN)
      .filter((f) => !fs.existsSync(f));
    if (missing.length > 0) throw new Error(`not built: ${missing.join(', ')} — run npm run build`);
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aevo-xcluster-'));
    this.home = path.join(this.dir, 'home');
    fs.mkdirSync(this.home);
    this.db = await createTestDb('aevo_xc');
    this.names = createTestNatsNames();
    this.store = await PostgresEventStore.open({ connectionString: this.db.url, schema: this.db.schema, poolSize: 2 });
    await this.startNats();

    const credentialsDir = path.join(this.dir, 'auth', 'credentials');
    const common: NodeJS.ProcessEnv = {
      AEVO_NATS_CREDENTIALS_DIR: credentialsDir,
      AEVO_SUBJECT_PREFIX: this.names.subjectPrefix,
      AEVO_STREAM: this.names.stream,
      AEVO_HOME: this.home,
      AEVO_ROOT: ROOT,
      AEVO_SUBSTRATE_ROOT: ROOT,
      AEVO_CONSTITUTIONS_ROOT: ROOT,
      NO_COLOR: '1',
      ...extraEnv,
    };
    this.env = {
      ...process.env,
      ...common,
      AEVO_NATS_URL: `nats://127.0.0.1:${this.hub.port}`,
      AEVO_DATABASE_URL: this.db.url,
      AEVO_DB_SCHEMA: this.db.schema,
      AEVO_EVENT_STORE: 'postgres',
      AEVO_JS_DOMAIN: undefined,
    };
    // Undefined values are left out of a child's environment: the compute side has no database settings at all.
    this.computeEnv = {
      ...common,
      AEVO_NATS_URL: `nats://127.0.0.1:${this.leaf.port}`,
      AEVO_JS_DOMAIN: COMPUTE_DOMAIN,
      AEVO_EVENT_STORE: 'remote',
      AEVO_DATABASE_URL: undefined,
      AEVO_DB_SCHEMA: undefined,
    };

    this.startGateway();
    const logDir = path.join(this.home, 'logs');
    // LocalStack lays process.env under opts.env; the hub's env above already holds process.env.
    this.control = new LocalStack({ root: ROOT, env: this.env, logDir, services: CONTROL_SERVICES });
    this.compute = new LocalStack({ root: ROOT, env: this.computeEnv, logDir, services: COMPUTE_SERVICES });
    await this.control.start();
    await this.control.waitReady(240_000).catch((err) => this.fail(err));
    await this.compute.start();
    await this.compute.waitReady(240_000).catch((err) => this.fail(err));
  }

  private async startNats(): Promise<void> {
    const auth = path.join(this.dir, 'auth');
    // The generated users and least-privilege permissions, the same on both servers (each service authenticates as
    // itself on the server of its cluster).
    execFileSync(
      process.execPath,
      [
        path.join(ROOT, 'tools', 'nats-auth-config.js'),
        '--out',
        auth,
        '--prefix',
        this.names.subjectPrefix,
        '--stream',
        this.names.stream,
      ],
      { cwd: ROOT, stdio: 'pipe' },
    );
    for (const d of ['hub', 'c1']) fs.mkdirSync(path.join(this.dir, d));
    const leafPort = await freePort();
    const leafCredentials = { user: 'leaf-c1', password: randomBytes(18).toString('base64url') };
    const include = '../auth/nats-server.conf';
    this.hub = new NatsProc(`${this.label} hub`, path.join(this.dir, 'hub', 'nats-server.conf'), await freePort());
    this.leaf = new NatsProc(`${this.label} leaf c1`, path.join(this.dir, 'c1', 'nats-server.conf'), await freePort());
    fs.writeFileSync(
      this.hub.configFile,
      renderHubConfig({
        port: this.hub.port,
        leafPort,
        storeDir: path.join(this.dir, 'hub', 'js'),
        include,
        leafCredentials,
      }),
      { mode: 0o600 },
    );
    fs.writeFileSync(
      this.leaf.configFile,
      renderLeafConfig({
        domain: COMPUTE_DOMAIN,
        port: this.leaf.port,
        hub: `nats-leaf://127.0.0.1:${leafPort}`,
        storeDir: path.join(this.dir, 'c1', 'js'),
        include,
        leafCredentials,
      }),
      { mode: 0o600 },
    );
    await this.hub.start();
    await this.leaf.start();
    await until(
      `${this.label}: the leaf connection`,
      async () => (/Leafnode connection created/i.test(this.hub.log()) ? true : undefined),
      30_000,
    );
  }

  private startGateway(): void {
    const child = spawn(process.execPath, [GATEWAY_MAIN], {
      cwd: ROOT,
      env: this.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.gateway = child;
    this.gatewayExit = new Promise((r) => child.once('exit', () => r()));
    const keep = (d: Buffer) => (this.gatewayOut = (this.gatewayOut + String(d)).slice(-16_384));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
  }

  private fail(err: unknown): never {
    throw new Error(`${this.label}: ${(err as Error).message}\n${this.logTails()}`);
  }

  /** The pid of a running service (its environment is readable in /proc). */
  pid(name: ServiceName): number | undefined {
    return (COMPUTE_SERVICES.includes(name) ? this.compute : this.control)?.pid(name);
  }

  /** A SIGKILL of the leaf server (a crash: nothing flushed), `downMs` without it, then a start on the same store. */
  async crashLeaf(downMs: number): Promise<void> {
    await this.leaf.stop('SIGKILL');
    await sleep(downMs);
    await this.leaf.start();
  }

  /** Runs the built `aevo` binary against the hub. */
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

  serviceLog(name: string): string {
    const f = path.join(this.home, 'logs', `${name}.log`);
    return fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '';
  }

  /** The last lines of every service's, the gateway's and both servers' logs (for failure messages). */
  logTails(lines = 25): string {
    if (!this.home) return '';
    const tail = (t: string) => t.split('\n').slice(-lines).join('\n');
    return [...CONTROL_SERVICES, ...COMPUTE_SERVICES]
      .map((n) => `--- ${n}.log\n${tail(this.serviceLog(n))}`)
      .concat(`--- store-gateway\n${tail(this.gatewayOut)}`)
      .concat(
        `--- hub nats-server\n${tail(this.hub?.log() ?? '')}`,
        `--- leaf nats-server\n${tail(this.leaf?.log() ?? '')}`,
      )
      .join('\n');
  }

  /**
   * Stops everything this plane started, whatever state it is in: compute services, control services, the gateway,
   * both servers; then drops the schema and removes the directory (AEVO_E2E_KEEP keeps it). Returns the services'
   * stop outcomes.
   */
  async stop(): Promise<Record<string, string>> {
    const outcomes: Record<string, string> = {};
    const settle = async (what: string, f: () => Promise<unknown>) => {
      try {
        await f();
      } catch (err) {
        outcomes[what] = `stop failed: ${(err as Error).message}`;
      }
    };
    await settle('compute', async () => Object.assign(outcomes, await this.compute?.stop()));
    await settle('control', async () => Object.assign(outcomes, await this.control?.stop()));
    await settle('store-gateway', async () => {
      const g = this.gateway;
      if (!g || g.exitCode !== null || g.signalCode !== null) return;
      g.kill('SIGTERM');
      const timer = setTimeout(() => g.kill('SIGKILL'), 15_000);
      await this.gatewayExit;
      clearTimeout(timer);
      outcomes['store-gateway'] = g.signalCode ?? `code ${g.exitCode}`;
    });
    await settle('leaf', async () => this.leaf?.stop('SIGTERM'));
    await settle('hub', async () => this.hub?.stop('SIGTERM'));
    await settle('store', async () => this.store?.close());
    await settle('db', async () => this.db?.drop());
    if (this.dir && !process.env.AEVO_E2E_KEEP) fs.rmSync(this.dir, { recursive: true, force: true });
    return outcomes;
  }
}
