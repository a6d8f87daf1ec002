'use strict';
/*
 * nats-server processes on loopback for the tests and benchmarks that need their own (test/cluster, bench/campaign's
 * two-domain run): a free port, a wait for the server to accept connections, and a restartable process on a config
 * file with its log beside it. One copy, used from JavaScript and, typed, from test/cluster/nats-procs.ts.
 */
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { spawn } = require('node:child_process');

/** The machine's nats-server (Debian's 2.9.10 here); AEVO_NATS_SERVER_BIN overrides it. */
const NATS_SERVER = process.env.AEVO_NATS_SERVER_BIN || 'nats-server';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A loopback TCP port nothing listens on right now (the OS picks it). */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Whether something accepts TCP connections on the loopback `port` (within a second). */
function accepts(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const done = (ok) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** Polls `check` until it returns a value other than undefined; fails naming `what` after `timeoutMs`. */
async function until(what, check, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last = null;
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
class NatsProc {
  constructor(name, configFile, port) {
    this.name = name;
    this.configFile = configFile;
    this.port = port;
    this.child = null;
    this.exited = Promise.resolve();
  }

  /** `server.log` beside the config file. */
  get logFile() {
    return path.join(path.dirname(this.configFile), 'server.log');
  }

  get url() {
    return `nats://127.0.0.1:${this.port}`;
  }

  log() {
    return fs.existsSync(this.logFile) ? fs.readFileSync(this.logFile, 'utf8') : '';
  }

  /** Spawns the server and resolves once it accepts connections; fails with its log's tail if it exits first. */
  async start() {
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

  /** SIGTERM by default; SIGKILL is a crash: nothing is flushed or closed cleanly. */
  async stop(signal = 'SIGTERM') {
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

/** Writes `config` to `<dir>/nats-server.conf` (0600) and starts a server on it. */
async function startNatsServer(name, dir, config, port) {
  fs.mkdirSync(dir, { recursive: true });
  const configFile = path.join(dir, 'nats-server.conf');
  fs.writeFileSync(configFile, config, { mode: 0o600 });
  const proc = new NatsProc(name, configFile, port);
  await proc.start();
  return proc;
}

module.exports = { NATS_SERVER, sleep, freePort, accepts, until, NatsProc, startNatsServer };
