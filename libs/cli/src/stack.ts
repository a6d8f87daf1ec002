import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';

/** The services `aevo up` runs, in start order (each is `services/<name>/dist/main.js`), and the api. */
export const SERVICE_NAMES = [
  'orchestrator',
  'substrate',
  'worker',
  'dispatch',
  'evaluation',
  'leaderboard',
  'collector',
  'meta-policy',
] as const;
export const API_NAME = 'api';
export type ServiceName = (typeof SERVICE_NAMES)[number] | typeof API_NAME;

/** The repository root (this file is libs/cli/src or libs/cli/dist). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

export const serviceMain = (root: string, name: string): string => path.join(root, 'services', name, 'dist', 'main.js');

/**
 * Each service gets a health port of its own on loopback (AEVO_HEALTH_PORT) and counts as ready once its /readyz
 * answers 200: store reachable, NATS connected, consumers bound, schema migrated.
 */
const HEALTH_HOST = '127.0.0.1';

export interface StackOptions {
  root?: string;
  /** Environment of every service (AEVO_* settings); AEVO_HOME must be absolute. */
  env: NodeJS.ProcessEnv;
  /** Where `<service>.log` files go. */
  logDir: string;
  services?: readonly ServiceName[];
  /** Restart a service that exits on its own (not on stop), at most this many times per service (default 5). */
  restarts?: number;
  /** Called for lifecycle news (started, exited, restarted). */
  onNews?: (line: string) => void;
  /** Extra environment per service (e.g. a worker's slots). */
  envFor?: (name: ServiceName) => NodeJS.ProcessEnv;
}

interface Proc {
  name: ServiceName;
  child: ChildProcess;
  ready: boolean;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  starts: number;
  healthPort: number;
  /** Last /readyz answer that was not 200 (shown when the deadline passes). */
  notReady: string | null;
}

/**
 * Runs the services as child processes of this one (`node services/<name>/dist/main.js`, cwd = repository root),
 * each writing stdout and stderr to `<logDir>/<name>.log`. A service that dies on its own is restarted (state is
 * the log, so a restart resumes where it stopped); `stop()` sends SIGTERM, waits, then SIGKILLs.
 */
export class LocalStack {
  private readonly procs = new Map<ServiceName, Proc>();
  private readonly gaveUp = new Set<ServiceName>();
  private stopping = false;
  readonly root: string;

  constructor(private readonly opts: StackOptions) {
    this.root = opts.root ?? REPO_ROOT;
  }

  get names(): ServiceName[] {
    return [...(this.opts.services ?? [...SERVICE_NAMES, API_NAME])];
  }

  /** Missing builds, as `service: path` lines (empty when every service can start). */
  missingBuilds(): string[] {
    return this.names
      .filter((n) => !fs.existsSync(serviceMain(this.root, n)))
      .map((n) => `${n}: ${serviceMain(this.root, n)}`);
  }

  /** Spawns every service, each with a free loopback port for its probes. */
  async start(): Promise<void> {
    fs.mkdirSync(this.opts.logDir, { recursive: true });
    for (const name of this.names) this.spawn(name, 1, await this.freshPort());
  }

  /** The /readyz URL of a running service. */
  readyzUrl(name: ServiceName): string | undefined {
    const p = this.procs.get(name);
    return p ? `http://${HEALTH_HOST}:${p.healthPort}/readyz` : undefined;
  }

  logPath(name: ServiceName): string {
    return path.join(this.opts.logDir, `${name}.log`);
  }

  pid(name: ServiceName): number | undefined {
    return this.procs.get(name)?.child.pid;
  }

  pids(): Record<string, number | undefined> {
    return Object.fromEntries(this.names.map((n) => [n, this.pid(n)]));
  }

  /** Resolves when every service's /readyz answered 200; rejects on the deadline naming those not ready and why. */
  async waitReady(timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const waiting = this.names.filter((n) => !this.procs.get(n)?.ready);
      if (waiting.length === 0) return;
      const dead = waiting.filter((n) => this.gaveUp.has(n));
      if (dead.length > 0)
        throw new Error(`failed to start: ${dead.map((n) => `${n} (see ${this.logPath(n)})`).join(', ')}`);
      if (Date.now() > deadline)
        throw new Error(
          `not ready after ${Math.round(timeoutMs / 1000)} s: ${waiting
            .map((n) => {
              const why = this.procs.get(n)?.notReady;
              return `${n} (${why ? `${why}; ` : ''}see ${this.logPath(n)})`;
            })
            .join(', ')}`,
        );
      await Promise.all(waiting.map((n) => this.probe(n)));
      await sleep(200);
    }
  }

  /** Asks one service's /readyz; marks it ready on 200, remembers the answer otherwise. */
  private async probe(name: ServiceName): Promise<void> {
    const p = this.procs.get(name);
    if (!p || p.ready || p.child.exitCode !== null || p.child.signalCode !== null) return;
    const answer = await getOnce(`http://${HEALTH_HOST}:${p.healthPort}/readyz`, 2000);
    if (this.procs.get(name) !== p) return; // restarted meanwhile
    if (answer.status === 200) {
      p.ready = true;
      p.notReady = null;
    } else p.notReady = answer.status === null ? `/readyz: ${answer.body}` : `/readyz ${answer.status}: ${answer.body}`;
  }

  private spawn(name: ServiceName, starts: number, healthPort: number): void {
    const log = fs.createWriteStream(this.logPath(name), { flags: 'a' });
    log.write(`\n--- ${new Date().toISOString()} aevo up: starting ${name} (start ${starts})\n`);
    const child = spawn(process.execPath, [serviceMain(this.root, name)], {
      cwd: this.root,
      // Plain log files: Nest colours its output unless NO_COLOR is set.
      env: {
        NO_COLOR: '1',
        ...process.env,
        ...this.opts.env,
        ...(this.opts.envFor?.(name) ?? {}),
        AEVO_HEALTH_PORT: String(healthPort),
        AEVO_HEALTH_HOST: HEALTH_HOST,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const proc: Proc = {
      name,
      child,
      ready: false,
      starts,
      healthPort,
      notReady: null,
      exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))),
    };
    this.procs.set(name, proc);
    const onData = (d: Buffer) => log.write(d);
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    void proc.exited.then(({ code, signal }) => {
      log.end(`--- ${new Date().toISOString()} aevo up: ${name} exited (${signal ?? `code ${code}`})\n`);
      if (this.stopping || this.procs.get(name) !== proc) return;
      const max = this.opts.restarts ?? 5;
      if (starts > max) {
        this.gaveUp.add(name);
        this.opts.onNews?.(
          `${name} exited (${signal ?? `code ${code}`}); not restarting after ${max} restarts — see ` +
            `${this.logPath(name)}`,
        );
        return;
      }
      this.opts.onNews?.(`${name} exited (${signal ?? `code ${code}`}); restarting in 2 s — see ${this.logPath(name)}`);
      // A fresh port: the old one may be why it exited (another process bound it first), and would be again.
      setTimeout(() => {
        void this.freshPort().then((port) => {
          if (!this.stopping && this.procs.get(name) === proc) this.spawn(name, starts + 1, port);
        });
      }, 2000).unref();
    });
  }

  /** Sends a signal to one service without restarting it (tests, chaos). Resolves when it exited. */
  async kill(name: ServiceName, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = this.procs.get(name);
    if (!p) return;
    this.procs.delete(name);
    p.child.kill(signal);
    await p.exited;
  }

  /** Starts a service again after kill(). */
  async restart(name: ServiceName): Promise<void> {
    const prev = this.procs.get(name);
    if (prev && prev.child.exitCode === null && prev.child.signalCode === null) throw new Error(`${name} is running`);
    this.spawn(name, (prev?.starts ?? 0) + 1, await this.freshPort());
  }

  /**
   * A loopback port free now that no service of this stack holds or was given: services bind theirs seconds after
   * being given it, so the kernel can hand the same free port out twice in a row (a CI run gave the substrate's probe
   * port to the leaderboard too, which then failed every restart on it).
   */
  private async freshPort(): Promise<number> {
    const taken = new Set([...this.procs.values()].map((p) => p.healthPort));
    for (let attempt = 0; attempt < 50; attempt++) {
      const port = await freeLoopbackPort();
      if (!taken.has(port)) return port;
    }
    throw new Error('no free loopback port outside this stack after 50 attempts');
  }

  /** SIGTERM to every service (they drain and exit 0), SIGKILL to those still alive after graceMs. */
  async stop(graceMs = 15_000): Promise<Record<string, string>> {
    this.stopping = true;
    const outcomes: Record<string, string> = {};
    await Promise.all(
      [...this.procs.values()].map(async (p) => {
        if (p.child.exitCode !== null || p.child.signalCode !== null) {
          outcomes[p.name] = `exited earlier (${p.child.signalCode ?? `code ${p.child.exitCode}`})`;
          return;
        }
        p.child.kill('SIGTERM');
        const timer = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
        const { code, signal } = await p.exited;
        clearTimeout(timer);
        outcomes[p.name] = signal ?? `code ${code}`;
      }),
    );
    return outcomes;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A loopback port free right now (the service binds it a moment later; a clash fails its start: it restarts on
 * another). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, HEALTH_HOST, () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

/** One GET: the status and body, or status null and the connection error. */
export function getOnce(url: string, timeoutMs: number): Promise<{ status: number | null; body: string }> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        if (body.length < 4096) body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? null, body }));
      res.on('error', (err) => resolve({ status: null, body: err.message }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => resolve({ status: null, body: err.message }));
  });
}

/** Whether something accepts TCP connections on host:port (within timeoutMs). */
export function reachable(host: string, port: number, timeoutMs = 1500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** host and port of a postgres:// or nats:// URL (first server of a comma list). */
export function hostPort(url: string, defaultPort: number): { host: string; port: number } {
  const first = url.split(',')[0].trim();
  const u = new URL(first.includes('://') ? first : `nats://${first}`);
  return { host: u.hostname || '127.0.0.1', port: u.port ? Number(u.port) : defaultPort };
}
