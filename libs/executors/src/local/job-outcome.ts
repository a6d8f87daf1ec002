import { existsSync, statSync } from 'node:fs';
import { jobNodes } from '@aevo/contracts';
import { DIVERGED_EXIT_CODE, logHasDivergedLine, readLogTail, scrubLogFile, SecretScrubber } from '../log-file';
import type { JobOutcome } from '../types';
import type { LocalJobRecord, RecordStore } from './records';
import { FAILED_RANK_LINE, rankLogPath } from './ranks';
import { cpuSlotsOf, type Allocation } from './slots';

/** How a job ended, before the accounting and the log tail are added. */
export type JobResult = Pick<JobOutcome, 'status' | 'reason' | 'exitCode' | 'message'>;

/**
 * What a launched job's end means, from its kill intent, the exit code its wrapper recorded (null: none) and, for a
 * sandboxed job, whether bubblewrap ran the command at all; and when it ended.
 */
export async function resultOfExit(
  rec: LocalJobRecord,
  exit: { code: number; at: Date } | null,
  store: RecordStore,
): Promise<{ result: JobResult; finishedAt: Date }> {
  const spec = rec.job.spec;
  const code = exit?.code ?? null;
  const finishedAt = exit?.at ?? (rec.killIntent ? new Date() : lastSignOfLife(rec));
  let result: JobResult;
  if (rec.killIntent?.kind === 'cancelled')
    result = { status: 'cancelled', reason: null, exitCode: code, message: rec.killIntent.message };
  else if (rec.killIntent?.kind === 'timeout')
    result = { status: 'failed', reason: 'timeout', exitCode: code, message: rec.killIntent.message };
  else if (code == null)
    result = {
      status: 'failed',
      reason: 'lost',
      exitCode: null,
      message: `job process ${rec.pid ?? '(never started)'} ended without recording an exit code`,
    };
  else if (code !== 0 && rec.isolation === 'bubblewrap' && !store.sandboxRan(spec.jobId)) {
    // bubblewrap wrote no exit code: the command never ran. Only bubblewrap has written to the log so far.
    const said =
      (await readLogTail(rec.logPath, 5)).split('\n').find((l) => l.startsWith('bwrap: ')) ??
      `bwrap exited with code ${code}`;
    const notFound = /^bwrap: execvp (.*): No such file or directory$/.exec(said);
    result = notFound
      ? {
          status: 'failed',
          reason: 'exit-code',
          exitCode: 127,
          message: `exited with code 127 (command not found: ${notFound[1]})`,
        }
      : {
          status: 'failed',
          reason: 'executor-error',
          exitCode: code,
          message: `the sandbox could not start the job: ${said}`,
        };
  } else {
    const diverged = code === DIVERGED_EXIT_CODE || (await logHasDivergedLine(rec.logPath));
    if (diverged)
      result = {
        status: 'failed',
        reason: 'diverged',
        exitCode: code,
        message: `training diverged (exit code ${code})`,
      };
    else if (code === 0) result = { status: 'succeeded', reason: null, exitCode: 0, message: 'exited with code 0' };
    else result = { status: 'failed', reason: 'exit-code', exitCode: code, message: describeExit(code, spec.argv[0]) };
    if (code !== 0 && jobNodes(spec.resources) > 1) result.message = await namingTheRank(rec.logPath, result.message);
  }
  return { result, finishedAt };
}

/** A multi-node job's failure, prefixed with the rank that failed first (the rank launcher's line in the job log). */
async function namingTheRank(logPath: string, message: string): Promise<string> {
  const lines = (await readLogTail(logPath, 200)).split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = FAILED_RANK_LINE.exec(lines[i]);
    if (m) return `rank ${m[1]} of ${m[2]}: ${message}`;
  }
  return message;
}

/** For a job that vanished: its log's last write is the best estimate of when it stopped. */
function lastSignOfLife(rec: LocalJobRecord): Date {
  try {
    return statSync(rec.logPath).mtime;
  } catch {
    return new Date();
  }
}

/**
 * The terminal outcome: the result with the slot time charged (GPU seconds on a GPU slot, weighted CPU-slot seconds
 * on a CPU slot, nothing for a job that never had a slot) and the tail of its log, which is scrubbed first.
 */
export async function outcomeOf(
  rec: LocalJobRecord,
  allocation: Allocation | null,
  result: JobResult,
  finishedAt: Date,
  opts: { cpuSlotWeight: number; logTailLines: number },
  reportError: (err: unknown, context: string) => void,
): Promise<JobOutcome> {
  const jobId = rec.job.spec.jobId;
  const started = rec.startedAt ? Date.parse(rec.startedAt) : null;
  const wallSeconds = started == null ? 0 : Math.max(0, (finishedAt.getTime() - started) / 1000);
  const onGpu = allocation?.kind === 'gpu';
  const gpuCount = onGpu ? allocation.gpus.length : 0;
  // The job may have printed a secret (or what it took for one): the log file is scrubbed before anything reads it.
  // One scrubber for both reads (built from the environment as it is now, so a rotated secret is caught).
  const scrubber = SecretScrubber.fromEnv();
  const logs = [rec.logPath];
  for (let r = 1; r < jobNodes(rec.job.spec.resources); r++) logs.push(rankLogPath(rec.logPath, r));
  for (const log of logs)
    await scrubLogFile(log, scrubber).catch((err) => {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') reportError(err, `scrubbing the log of ${jobId}`);
    });
  return {
    ...result,
    wallSeconds: round3(wallSeconds),
    // A multi-node job on CPU slots is charged every slot its ranks held.
    gpuSeconds: round3(
      onGpu
        ? gpuCount * wallSeconds
        : allocation
          ? wallSeconds * opts.cpuSlotWeight * cpuSlotsOf(allocation).length
          : 0,
    ),
    gpuCount,
    budgetUnit: onGpu ? 'gpu-seconds' : 'cpu-slot-seconds',
    logTail: await readLogTail(rec.logPath, opts.logTailLines, undefined, scrubber),
    logPath: existsSync(rec.logPath) ? rec.logPath : null,
    startedAt: rec.startedAt,
    finishedAt: finishedAt.toISOString(),
  };
}

function describeExit(code: number, cmd: string): string {
  if (code === 127) return `exited with code 127 (command not found: ${cmd})`;
  if (code === 126) return `exited with code 126 (${cmd} is not executable)`;
  if (code > 128 && code < 160) return `exited with code ${code} (killed by signal ${code - 128})`;
  return `exited with code ${code}`;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;
