import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import * as path from 'node:path';

export interface CommandResult {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
}

/**
 * Runs a leaderboard command (generate/score) in the leaderboard's own process tree, outside every sandbox.
 * Output goes to a log file only: these commands read hidden answers, so their output never reaches an event.
 */
export async function runCommand(argv: string[], opts: { cwd: string; logFile: string; timeoutMs: number; env?: NodeJS.ProcessEnv; redact?: string[] }): Promise<CommandResult> {
  await mkdir(path.dirname(opts.logFile), { recursive: true });
  const log = createWriteStream(opts.logFile, { flags: 'a', mode: 0o600 });
  const shown = argv.map((a) => (opts.redact ?? []).reduce((x, secret) => (secret ? x.split(secret).join('<redacted>') : x), a));
  log.write(`$ ${shown.join(' ')}\n`);
  try {
    return await new Promise<CommandResult>((resolve, reject) => {
      const child = spawn(argv[0], argv.slice(1), { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        try {
          process.kill(-child.pid!, 'SIGKILL'); // the whole process group: the command may have forked
        } catch {
          /* already gone */
        }
      }, opts.timeoutMs);
      child.stdout.pipe(log, { end: false });
      child.stderr.pipe(log, { end: false });
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`cannot run ${argv[0]}: ${err.message}`));
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ exitCode: code, signal, timedOut });
      });
    });
  } finally {
    await new Promise<void>((r) => log.end(() => r()));
  }
}

export function describeResult(what: string, r: CommandResult, logFile: string): string {
  const how = r.timedOut ? 'timed out' : r.signal ? `was killed by ${r.signal}` : `exited with code ${r.exitCode}`;
  return `${what} ${how} (log: ${logFile})`;
}
