import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import * as path from 'node:path';
import { SecretScrubber, createScrubStream, secretValuesFromEnv } from '@aevo/executors';

export interface CommandResult {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
}

/**
 * Runs a leaderboard command (generate/score) in the leaderboard's own process tree, outside every sandbox.
 * Output goes to a log file only: these commands read hidden answers, so their output never reaches an event.
 * The command line and the output are scrubbed on the way to the log: `redact` (the secret seed), `ownSecrets` (the
 * service's configured secrets, read by config.ts), secrets of the command's environment, and token shapes (see
 * SecretScrubber), since the substrate's code may print the seed it got.
 */
export async function runCommand(
  argv: string[],
  opts: {
    cwd: string;
    logFile: string;
    timeoutMs: number;
    env: NodeJS.ProcessEnv;
    ownSecrets?: readonly string[];
    redact?: string[];
  },
): Promise<CommandResult> {
  await mkdir(path.dirname(opts.logFile), { recursive: true });
  const scrubber = new SecretScrubber(
    [...(opts.ownSecrets ?? []), ...secretValuesFromEnv(opts.env, false)],
    (opts.redact ?? []).filter((s) => s.length > 0),
  );
  const log = createWriteStream(opts.logFile, { flags: 'a', mode: 0o600 });
  log.write(`$ ${scrubber.scrub(argv.join(' '))}\n`);
  try {
    return await new Promise<CommandResult>((resolve, reject) => {
      const child = spawn(argv[0], argv.slice(1), {
        cwd: opts.cwd,
        env: opts.env,
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        try {
          process.kill(-child.pid!, 'SIGKILL'); // the whole process group: the command may have forked
        } catch {
          /* already gone */
        }
      }, opts.timeoutMs);
      // Each stream through its own scrubber: one holds back a partial line until it is complete.
      const flushed = Promise.all(
        [child.stdout, child.stderr].map((out) => {
          const scrubbed = out.pipe(createScrubStream(scrubber));
          scrubbed.pipe(log, { end: false });
          return new Promise<void>((r) => scrubbed.on('end', r).on('error', () => r()));
        }),
      );
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`cannot run ${argv[0]}: ${err.message}`));
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        void flushed.then(() => resolve({ exitCode: code, signal, timedOut }));
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
