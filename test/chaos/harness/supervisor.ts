import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Every process of the platform, in start order (each is `services/<name>/dist/main.js`). */
export const SERVICES = [
  'orchestrator',
  'substrate',
  'worker',
  'dispatch',
  'evaluation',
  'leaderboard',
  'collector',
  'meta-policy',
  'api',
] as const;
export type Service = (typeof SERVICES)[number];

export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
export const serviceMain = (name: Service, root = REPO_ROOT) => path.join(root, 'services', name, 'dist', 'main.js');

/** The line a service prints once it takes work: the transport's "listening:", the api's "dashboard at". */
const READY = /listening: |dashboard at /;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Running {
  child: ChildProcess;
  ready: boolean;
  exited: Promise<void>;
  /** Set when the harness killed it on purpose (no automatic restart). */
  intended: boolean;
}

export interface SupervisorNews {
  at: number;
  service: Service;
  what: 'started' | 'ready' | 'exited' | 'killed' | 'restarted';
  detail?: string;
}

/**
 * Runs the services as child processes with one environment, each logging to `<logDir>/<name>.log`. A service that
 * dies on its own (not killed by the harness) is started again after a second, as a process manager or Kubernetes
 * would do; those exits are recorded in `unexpectedExits` so that a case can report them.
 */
export class Supervisor {
  private readonly procs = new Map<Service, Running>();
  private stopping = false;
  readonly news: SupervisorNews[] = [];
  readonly unexpectedExits: Array<{ service: Service; code: number | null; signal: string | null }> = [];

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    readonly logDir: string,
    readonly services: readonly Service[] = SERVICES,
    /** Where `services/<name>/dist/main.js` live (the repository, or a frozen copy of its builds). */
    readonly root: string = REPO_ROOT,
  ) {
    fs.mkdirSync(logDir, { recursive: true });
  }

  static missingBuilds(services: readonly Service[] = SERVICES): string[] {
    return services.filter((s) => !fs.existsSync(serviceMain(s))).map((s) => serviceMain(s));
  }

  logPath(s: Service): string {
    return path.join(this.logDir, `${s}.log`);
  }

  pid(s: Service): number | undefined {
    return this.procs.get(s)?.child.pid;
  }

  isReady(s: Service): boolean {
    return this.procs.get(s)?.ready ?? false;
  }

  private note(service: Service, what: SupervisorNews['what'], detail?: string) {
    this.news.push({ at: Date.now(), service, what, detail });
  }

  startAll(): void {
    for (const s of this.services) this.spawn(s);
  }

  private spawn(s: Service): void {
    const log = fs.openSync(this.logPath(s), 'a');
    fs.writeSync(log, `\n--- ${new Date().toISOString()} chaos harness: starting ${s}\n`);
    const child = spawn(process.execPath, [serviceMain(s, this.root)], {
      cwd: this.root,
      env: { ...process.env, ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const run: Running = {
      child,
      ready: false,
      intended: false,
      exited: new Promise((r) => child.once('exit', () => r())),
    };
    this.procs.set(s, run);
    this.note(s, 'started', `pid ${child.pid}`);
    let tail = '';
    const onData = (d: Buffer) => {
      fs.writeSync(log, d);
      if (run.ready) return;
      tail = (tail + d.toString('utf8')).slice(-4096);
      if (READY.test(tail)) {
        run.ready = true;
        this.note(s, 'ready');
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    // 'close' comes after the exit and after both pipes drained: the last line of this start's log.
    child.once('close', (code, signal) => {
      fs.writeSync(log, `--- ${new Date().toISOString()} chaos harness: ${s} exited (${signal ?? `code ${code}`})\n`);
      fs.closeSync(log);
    });
    child.once('exit', (code, signal) => {
      run.ready = false;
      this.note(s, 'exited', signal ?? `code ${code}`);
      if (this.stopping || run.intended || this.procs.get(s) !== run) return;
      this.unexpectedExits.push({ service: s, code, signal });
      setTimeout(() => {
        if (!this.stopping && this.procs.get(s) === run) {
          this.spawn(s);
          this.note(s, 'restarted', 'after an exit of its own');
        }
      }, 1000).unref();
    });
  }

  /** Resolves when every named service printed its ready line; the error names those that did not. */
  async waitReady(services: readonly Service[] = this.services, timeoutMs = 180_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const waiting = services.filter((s) => !this.isReady(s));
      if (waiting.length === 0) return;
      if (Date.now() > deadline)
        throw new Error(
          `not ready within ${timeoutMs} ms: ${waiting.map((s) => `${s} (log: ${this.logPath(s)})`).join(', ')}`,
        );
      await sleep(100);
    }
  }

  /** `kill -9` (by default) one service; it stays down until restart(). Resolves once it exited. */
  async kill(s: Service, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const run = this.procs.get(s);
    if (!run || run.child.exitCode !== null || run.child.signalCode !== null) throw new Error(`${s} is not running`);
    run.intended = true;
    run.child.kill(signal);
    await run.exited;
    this.note(s, 'killed', signal);
  }

  restart(s: Service): void {
    const run = this.procs.get(s);
    if (run && run.child.exitCode === null && run.child.signalCode === null) throw new Error(`${s} is still running`);
    this.spawn(s);
    this.note(s, 'restarted', 'by the harness');
  }

  /** SIGTERM to every service, SIGKILL to those still alive after graceMs. Safe to call twice. */
  async stopAll(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    await Promise.all(
      [...this.procs.values()].map(async (run) => {
        if (run.child.exitCode !== null || run.child.signalCode !== null) return;
        run.child.kill('SIGTERM');
        const timer = setTimeout(() => run.child.kill('SIGKILL'), graceMs);
        await run.exited;
        clearTimeout(timer);
      }),
    );
  }
}

/**
 * SIGKILLs every process whose command line mentions `marker` (a case's private home directory) and waits until
 * they are gone: jobs the local executor started in their own process groups outlive the dispatch service by design.
 */
export async function killProcessesMentioning(marker: string, timeoutMs = 10_000): Promise<number> {
  const matching = (): number[] => {
    const pids: number[] = [];
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
      try {
        // A zombie's command line is empty: it is dead already, only not reaped.
        if (fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker)) pids.push(Number(entry));
      } catch {
        // gone meanwhile
      }
    }
    return pids;
  };
  const victims = matching();
  for (const pid of victims) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  const deadline = Date.now() + timeoutMs;
  while (victims.length > 0 && matching().some((p) => victims.includes(p)) && Date.now() < deadline) await sleep(50);
  return victims.length;
}

/** The event types in a service's "listening: N event consumer(s) [A, B]" start-up line. */
export function consumedTypes(log: string): string[] {
  const m = /listening: \d+ event consumer\(s\) \[([^\]]*)\]/.exec(log);
  return m
    ? m[1]
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : [];
}
