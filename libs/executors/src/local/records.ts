import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ExecutorJob, JobOutcome } from '../types';

/**
 * What the local executor persists per job, in `<stateDir>/<jobId>/record.json`, before each step it takes, so
 * that a restarted dispatch knows every job it ever accepted: queued ones are queued again, running ones are
 * reattached to (or marked with their real exit code / `lost`), finished ones are reported until acknowledged.
 * The wrapper shell of a running job writes `pid` when it starts and `exit` (the exit code) when its command ends.
 */
export interface LocalJobRecord {
  version: 1;
  job: ExecutorJob;
  seq: number;
  phase: 'queued' | 'launching' | 'running' | 'finished';
  queuedAt: string;
  slot: string | null;
  /** Written before the process is spawned: a record in this phase may or may not have a process. */
  launchAt: string | null;
  pid: number | null;
  pgid: number | null;
  /** /proc start time of the wrapper, to tell it from a later process that reuses its pid. */
  startTicks: number | null;
  startedAt: string | null;
  deadline: string | null;
  logPath: string;
  killIntent: { kind: 'timeout' | 'cancelled'; message: string; at: string } | null;
  outcome: JobOutcome | null;
  acknowledged: boolean;
  /**
   * How many times it was handed to a wrapper; launch n is claimed by creating `launch-<n>` in the job's directory
   * (absent in records written before launches were claimed: such a half-launched job cannot be told apart from a
   * wrapper still starting, so it is recorded lost).
   */
  launches?: number;
  /** The boundary it was launched in (absent in records written before sandboxes existed: none). */
  isolation?: 'bubblewrap' | 'none';
}

/** The directory whose creation claims launch n of a job (see the wrapper in local-executor.ts). */
export function launchClaimName(launch: number | undefined): string {
  return `launch-${launch ?? 0}`;
}

export class RecordStore {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  jobDir(jobId: string): string {
    return join(this.dir, jobId);
  }

  save(rec: LocalJobRecord): void {
    const d = this.jobDir(rec.job.spec.jobId);
    const tmp = join(d, 'record.json.tmp');
    const text = JSON.stringify(rec, null, 1);
    try {
      writeFileSync(tmp, text);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      mkdirSync(d, { recursive: true }); // the job's first record (a mkdir per save costs more than this retry)
      writeFileSync(tmp, text);
    }
    renameSync(tmp, join(d, 'record.json')); // atomic: a crash leaves the old or the new record, never half of one
  }

  loadAll(): LocalJobRecord[] {
    const out: LocalJobRecord[] = [];
    for (const name of readdirSync(this.dir)) {
      try {
        const rec = JSON.parse(readFileSync(join(this.dir, name, 'record.json'), 'utf8')) as LocalJobRecord;
        if (rec.version === 1 && rec.job?.spec?.jobId === name) out.push(rec);
      } catch {
        // a directory without a readable record: a launch that never got its first record written
      }
    }
    return out.sort((a, b) => a.seq - b.seq);
  }

  /** The exit code the wrapper recorded, and when (the file's mtime), or null when it has not. */
  exitFile(jobId: string): { code: number; at: Date } | null {
    const p = join(this.jobDir(jobId), 'exit');
    try {
      const code = Number(readFileSync(p, 'utf8').trim());
      if (!Number.isInteger(code)) return null;
      return { code, at: statSync(p).mtime };
    } catch {
      return null;
    }
  }

  /** Whether bubblewrap reported that the job's command ran to an exit (its status has an "exit-code"). */
  sandboxRan(jobId: string): boolean {
    try {
      return readFileSync(join(this.jobDir(jobId), 'sandbox.json'), 'utf8').includes('"exit-code"');
    } catch {
      return false;
    }
  }

  /**
   * Takes launch n's claim for this process, unless its wrapper already has: 'taken-by-us' means no wrapper ran
   * that launch and none ever will (a late one finds the claim and exits 75 without running the job).
   */
  claimLaunch(jobId: string, launch: number): 'taken-by-us' | 'claimed' {
    try {
      mkdirSync(join(this.jobDir(jobId), launchClaimName(launch)));
      return 'taken-by-us';
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return 'claimed';
      throw err;
    }
  }

  pidFile(jobId: string): number | null {
    try {
      const pid = Number(readFileSync(join(this.jobDir(jobId), 'pid'), 'utf8').trim());
      return Number.isInteger(pid) && pid > 0 ? pid : null;
    } catch {
      return null;
    }
  }

  remove(jobId: string): void {
    rmSync(this.jobDir(jobId), { recursive: true, force: true });
  }
}
