import type { EventStore } from '@aevo/eventstore';
import type { CommandSender } from './campaign-commands';

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
  env: NodeJS.ProcessEnv;
  /** Opens the store named by AEVO_DATABASE_URL / AEVO_DB_SCHEMA. */
  openStore: (env: NodeJS.ProcessEnv) => Promise<EventStore>;
  /** Resolves when a follow, a watch or `aevo up` should stop (default: SIGINT/SIGTERM). */
  stopSignal?: () => Promise<void>;
  /** Connects to NATS for commands (AEVO_NATS_URL, AEVO_SUBJECT_PREFIX). */
  commands?: (env: NodeJS.ProcessEnv) => Promise<CommandSender>;
  /** Whether stdout is a terminal (watch redraws the screen then). */
  tty?: boolean;
  sleep?: (ms: number) => Promise<void>;
  /** Repository root (services' builds, tools/); default: where this package lives. */
  root?: string;
}

/** Exit codes: 0 ok, 1 verification failed, 2 usage error, 3 runtime error (store unreachable, …). */
export const EXIT = { ok: 0, mismatch: 1, usage: 2, failure: 3 } as const;

/** Resolves on SIGINT or SIGTERM (when a follow, a watch or `aevo up` should stop). */
export const defaultStop = () =>
  new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
