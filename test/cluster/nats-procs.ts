/*
 * nats-server processes for the suites here: one implementation in tools/nats-process.js (bench/campaign's
 * two-domain run uses it too), typed for TypeScript.
 */

/** One nats-server process on a config file, restartable on the same config (and so the same store directory). */
export interface NatsProc {
  readonly name: string;
  readonly configFile: string;
  readonly port: number;
  /** `server.log` beside the config file. */
  readonly logFile: string;
  readonly url: string;
  log(): string;
  /** Spawns the server and resolves once it accepts connections; fails with its log's tail if it exits first. */
  start(): Promise<void>;
  /** SIGTERM by default; SIGKILL is a crash: nothing is flushed or closed cleanly. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const procs = require('../../tools/nats-process.js') as {
  NATS_SERVER: string;
  sleep: (ms: number) => Promise<void>;
  freePort: () => Promise<number>;
  until: <T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number) => Promise<T>;
  NatsProc: new (name: string, configFile: string, port: number) => NatsProc;
};

/** The machine's nats-server (Debian's 2.9.10 here); AEVO_NATS_SERVER_BIN overrides it. */
export const NATS_SERVER = procs.NATS_SERVER;
export const sleep = procs.sleep;
/** A loopback TCP port nothing listens on right now (the OS picks it). */
export const freePort = procs.freePort;
/** Polls `check` until it returns a value other than undefined; fails naming `what` after `timeoutMs`. */
export const until = procs.until;
export const NatsProc = procs.NatsProc;
