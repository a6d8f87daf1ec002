import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import type { TestDb, TestNatsNames } from './infra';

/** The repository root (this file lies in libs/testkit/src or, built, libs/testkit/dist). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

/**
 * The environment of a service process in this suite: the runner's, the AEVO_* variables naming the suite's NATS
 * prefix, stream and PostgreSQL schema, `AEVO_RELAY=off` (the harness relays) unless `processRelay`, then `extra`.
 * With `processRelay` the process runs its embedded relay, as deployed (AEVO_RELAY unset, even if the runner set it).
 */
export function serviceProcessEnv(
  db: TestDb,
  names: TestNatsNames,
  extra: Record<string, string> = {},
  processRelay = false,
): NodeJS.ProcessEnv {
  const { AEVO_RELAY: _runners, ...inherited } = process.env;
  return {
    ...inherited,
    AEVO_NATS_URL: names.url,
    AEVO_SUBJECT_PREFIX: names.subjectPrefix,
    AEVO_STREAM: names.stream,
    AEVO_DATABASE_URL: db.url,
    AEVO_DB_SCHEMA: db.schema,
    ...(processRelay ? {} : { AEVO_RELAY: 'off' }),
    ...extra,
  };
}

/** Built services started as their own OS processes, with what each wrote (stdout and stderr) kept. */
export class ServiceProcesses {
  readonly children: ChildProcess[] = [];
  private readonly chunks: Array<{ name: string; text: string }> = [];

  constructor(private readonly env: (extra?: Record<string, string>) => NodeJS.ProcessEnv) {}

  /** Starts `services/<name>/dist/main.js` (built beforehand: requireBuiltServices) with the suite's environment. */
  spawn(name: string, extra: Record<string, string> = {}): ChildProcess {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'services', name, 'dist', 'main.js')], {
      env: this.env(extra),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (d: Buffer) => this.chunks.push({ name, text: d.toString() });
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.children.push(child);
    return child;
  }

  /** What the processes of `name` wrote, in order; without a name, all of it, each chunk headed `[name] `. */
  output(name?: string): string {
    return name === undefined
      ? this.chunks.map((c) => `[${c.name}] ${c.text}`).join('')
      : this.chunks
          .filter((c) => c.name === name)
          .map((c) => c.text)
          .join('');
  }

  /** SIGTERM to every process still running, then SIGKILL to any still running after `graceMs`; waits for exits. */
  async stop(graceMs = 2000): Promise<void> {
    const running = this.children.filter((c) => c.exitCode === null && c.signalCode === null);
    const exited = running.map((c) => new Promise((r) => c.once('exit', r)));
    for (const c of running) c.kill('SIGTERM');
    const timer = setTimeout(() => {
      for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }, graceMs);
    await Promise.all(exited);
    clearTimeout(timer);
  }
}
