import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

/** The machine's nats-server (Debian's 2.9.10 here); AEVO_NATS_SERVER_BIN overrides it. */
export const NATS_SERVER = process.env.AEVO_NATS_SERVER_BIN ?? 'nats-server';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A loopback TCP port nothing listens on right now (the OS picks it). */
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

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** Polls `check` until it returns a value other than undefined; fails naming `what` after `timeoutMs`. */
export async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await sleep(200);
  }
  throw new Error(`${what}: not reached within ${timeoutMs} ms${last ? ` (last error: ${String(last)})` : ''}`);
}

/** One nats-server process on a config file, restartable on the same config (and so the same store directory). */
export class NatsProc {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();

  constructor(
    readonly name: string,
    readonly configFile: string,
    readonly port: number,
  ) {}

  get logFile(): string {
    return path.join(path.dirname(this.configFile), 'server.log');
  }

  log(): string {
    return fs.existsSync(this.logFile) ? fs.readFileSync(this.logFile, 'utf8') : '';
  }

  async start(): Promise<void> {
    if (this.child) throw new Error(`${this.name} is running`);
    const out = fs.openSync(this.logFile, 'a');
    const child = spawn(NATS_SERVER, ['-c', this.configFile], { stdio: ['ignore', out, out] });
    fs.closeSync(out);
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    void this.exited.then(() => {
      if (this.child === child) this.child = null;
    });
    await until(
      `${this.name} listening on ${this.port}`,
      async () => {
        if (this.child !== child) throw new Error(`${this.name} exited: ${this.log().slice(-2000)}`);
        return (await accepts(this.port)) ? true : undefined;
      },
      20_000,
    );
  }

  /** SIGKILL is a crash: nothing is flushed or closed cleanly. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child) return;
    const exited = this.exited;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    this.child = null;
  }
}
