import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { jobNodes } from '@aevo/contracts';
import { EventDelivery } from '../delivery';
import { IsolationRefused } from '../isolation/plan';
import type { ExecutorEvent, JobView } from '../types';
import { outcomeOf, resultOfExit, type JobResult } from './job-outcome';
import {
  checkSandboxable,
  JOB_WRAPPER,
  SANDBOX_WRAPPER,
  sandboxedCommand,
  unsandboxedEnv,
  type JobCommand,
} from './launch-command';
import { resolveLocalOptions, type LocalExecutorOptions, type ResolvedLocalOptions } from './options';
import { isProcessAlive, jobIsAlive, readProcStat, signalJob } from './proc';
import { rankedLaunch, type RankedLaunch } from './ranks';
import { launchClaimName, RecordStore, type LocalJobRecord } from './records';
import { SlotAllocator, type Allocation } from './slots';

export interface Running {
  allocation: Allocation;
  /** Whether the allocator counts the slot as busy for this job (released as soon as its processes are gone). */
  holdsSlot: boolean;
  timer: NodeJS.Timeout | null;
  killing: boolean;
  finishing: boolean;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The part of the local executor that runs jobs: launches a job on the slot it was given, watches it (exit, timeout,
 * kill) and records how it ended. Which job runs when, and what the caller sees, is LocalExecutor's (`pump`).
 */
export abstract class LocalJobRunner {
  protected readonly store: RecordStore;
  protected readonly logDir: string;
  protected readonly allocator: SlotAllocator;
  protected readonly delivery: EventDelivery;
  protected readonly records = new Map<string, LocalJobRecord>();
  protected readonly running = new Map<string, Running>();
  protected poller: NodeJS.Timeout | null = null;
  protected closed = false;
  protected readonly opts: ResolvedLocalOptions;

  constructor(protected readonly options: LocalExecutorOptions) {
    this.opts = resolveLocalOptions(options);
    const home = this.opts.home;
    if (this.opts.sandbox === 'bubblewrap')
      checkSandboxable(this.opts, options.jobUids, (err, context) => this.reportError(err, context));
    this.store = new RecordStore(options.stateDir ?? join(home, 'dispatch', 'local-jobs'));
    this.logDir = options.logDir ?? join(home, 'logs');
    mkdirSync(this.logDir, { recursive: true });
    this.allocator = new SlotAllocator({
      gpus: this.opts.gpus,
      cpuSlots: this.opts.cpuSlots,
      requireGpu: this.opts.requireGpu,
    });
    this.delivery = new EventDelivery({ onError: (err) => this.reportError(err, 'listener') });
  }

  /** The boundary this executor puts jobs in, as JobStarted records it. */
  get isolation(): 'bubblewrap' | 'none' {
    return this.opts.sandbox === 'bubblewrap' ? 'bubblewrap' : 'none';
  }

  /** Starts what can start now (after a slot was freed). */
  protected abstract pump(): void;

  protected launch(rec: LocalJobRecord, allocation: Allocation): void {
    const spec = rec.job.spec;
    const jobId = spec.jobId;
    const run: Running = { allocation, holdsSlot: true, timer: null, killing: false, finishing: false };
    this.running.set(jobId, run);
    const now = new Date();
    rec.phase = 'launching';
    rec.launches = (rec.launches ?? 0) + 1;
    rec.slot = allocation.slot;
    rec.launchAt = now.toISOString();
    rec.deadline = new Date(now.getTime() + spec.timeoutSeconds * 1000).toISOString();
    this.store.save(rec); // before the process exists: a crash from here on is noticed at recovery

    const fail = (message: string) => {
      run.finishing = true;
      void this.finishRecord(rec, allocation, { status: 'failed', reason: 'executor-error', exitCode: null, message });
    };
    let isDir = false;
    try {
      isDir = statSync(spec.sandboxPath).isDirectory();
    } catch {
      isDir = false;
    }
    if (!isDir) return fail(`sandbox ${spec.sandboxPath} is not a directory`);

    let command: JobCommand;
    // Several nodes: the same launch, of the rank launcher (ranks.ts) instead of the argv; one node: exactly as ever.
    let ranked: RankedLaunch | null = null;
    try {
      if (jobNodes(spec.resources) > 1) ranked = rankedLaunch(rec, allocation, this.opts.sandbox === 'bubblewrap');
      const run = ranked?.rec ?? rec;
      command =
        this.opts.sandbox === 'bubblewrap'
          ? sandboxedCommand(run, allocation, this.opts)
          : { argv: run.job.spec.argv, env: unsandboxedEnv(run, allocation, this.opts) };
    } catch (err) {
      ranked?.close();
      if (err instanceof IsolationRefused) return fail(err.message);
      return fail(`cannot prepare the job's sandbox: ${(err as Error).message}`);
    }
    rec.isolation = this.isolation;

    let fd: number;
    try {
      fd = openSync(rec.logPath, 'a', 0o600);
    } catch (err) {
      ranked?.close();
      return fail(`cannot open log ${rec.logPath}: ${(err as Error).message}`);
    }
    let child;
    try {
      const wrapper = this.opts.sandbox === 'bubblewrap' ? SANDBOX_WRAPPER : JOB_WRAPPER;
      child = spawn(
        this.opts.shell,
        ['-c', wrapper, 'aevo-job', this.store.jobDir(jobId), launchClaimName(rec.launches), ...command.argv],
        {
          cwd: spec.sandboxPath,
          detached: true, // own process group (pgid = pid): the whole tree can be signalled, and it survives us
          stdio: ['ignore', fd, fd, ...(ranked?.stdio ?? [])],
          env: command.env,
        },
      );
    } catch (err) {
      closeSync(fd);
      ranked?.close();
      return fail(`spawn failed: ${(err as Error).message}`);
    }
    closeSync(fd);
    ranked?.close();
    if (child.pid == null) {
      child.once('error', () => undefined);
      return fail(`spawn of ${this.opts.shell} failed`);
    }
    child.unref();
    child.once('exit', () => void this.check(jobId));
    child.once('error', (err) => this.reportError(err, `job ${jobId}`));
    rec.pid = rec.pgid = child.pid;
    rec.startTicks = readProcStat(child.pid)?.startTicks ?? null;
    rec.startedAt = new Date().toISOString();
    rec.phase = 'running';
    this.store.save(rec);
    this.emit({
      type: 'started',
      jobId,
      campaignId: rec.job.campaignId,
      slot: allocation.slot,
      handle: `pid:${child.pid}`,
      attempt: 1,
      startedAt: rec.startedAt,
      isolation: this.isolation,
    });
    this.armTimeout(jobId);
  }

  protected armTimeout(jobId: string): void {
    const rec = this.records.get(jobId);
    const run = this.running.get(jobId);
    if (!rec || !run || !rec.deadline) return;
    const ms = Math.max(0, Date.parse(rec.deadline) - Date.now());
    run.timer = setTimeout(
      () => {
        if (this.closed || rec.phase === 'finished' || rec.killIntent) return;
        rec.killIntent = {
          kind: 'timeout',
          message: `timed out after ${rec.job.spec.timeoutSeconds} s; process tree killed`,
          at: new Date().toISOString(),
        };
        this.store.save(rec);
        void this.killAndFinish(jobId);
      },
      Math.min(ms, 2 ** 31 - 1),
    );
    run.timer.unref();
  }

  // ---------------------------------------------------------------- observing and ending jobs

  protected poll(): void {
    if (this.closed) return;
    for (const jobId of this.running.keys()) void this.check(jobId);
  }

  /** Finishes a running job whose wrapper has exited (recorded its exit code or vanished). */
  protected async check(jobId: string): Promise<void> {
    const rec = this.records.get(jobId);
    const run = this.running.get(jobId);
    if (!rec || !run || run.killing || run.finishing || this.closed || rec.phase !== 'running') return;
    // The wrapper outlives its command only for the instant it takes to write the exit file.
    if (rec.pid != null && isProcessAlive(rec.pid, rec.startTicks)) return;
    const exit = this.store.exitFile(jobId);
    run.finishing = true;
    try {
      // The job's command ended; anything it left behind in its group must not keep holding the slot.
      if (rec.pgid != null && jobIsAlive(rec.pgid)) await this.killTree(rec.pgid);
      this.releaseSlot(run); // the next job starts while this one's log is read
      await this.finishFromExit(rec, exit);
    } catch (err) {
      run.finishing = false;
      this.reportError(err, `finishing job ${jobId}`);
    }
  }

  protected async killAndFinish(jobId: string): Promise<void> {
    const rec = this.records.get(jobId);
    const run = this.running.get(jobId);
    if (!rec || !run || run.killing || run.finishing) return;
    run.killing = true;
    if (run.timer) clearTimeout(run.timer);
    try {
      if (rec.pgid != null) await this.killTree(rec.pgid);
      if (this.closed) return; // the next instance sees killIntent and finishes the job
      run.finishing = true;
      this.releaseSlot(run);
      await this.finishFromExit(rec, this.store.exitFile(jobId));
    } catch (err) {
      this.reportError(err, `killing job ${jobId}`);
    }
  }

  /** SIGTERM to the job's process group (and escaped descendants), SIGKILL after the grace period, then wait. */
  protected async killTree(pgid: number): Promise<void> {
    signalJob(pgid, 'SIGTERM');
    const graceEnd = Date.now() + this.opts.killGraceMs;
    while (Date.now() < graceEnd && jobIsAlive(pgid)) await sleep(50);
    if (!jobIsAlive(pgid)) return;
    signalJob(pgid, 'SIGKILL');
    const end = Date.now() + 10_000;
    while (Date.now() < end && jobIsAlive(pgid)) {
      await sleep(50);
      signalJob(pgid, 'SIGKILL'); // a fork racing the first SIGKILL
    }
  }

  protected async finishFromExit(rec: LocalJobRecord, exit: { code: number; at: Date } | null): Promise<void> {
    const { result, finishedAt } = await resultOfExit(rec, exit, this.store);
    const allocation = this.running.get(rec.job.spec.jobId)?.allocation ?? null;
    await this.finishRecord(rec, allocation, result, finishedAt);
  }

  protected async finishRecord(
    rec: LocalJobRecord,
    allocation: Allocation | null,
    result: JobResult,
    finishedAt: Date = new Date(),
  ): Promise<void> {
    const jobId = rec.job.spec.jobId;
    const outcome = await outcomeOf(rec, allocation, result, finishedAt, this.opts, (err, context) =>
      this.reportError(err, context),
    );
    rec.phase = 'finished';
    rec.outcome = outcome;
    this.store.save(rec);
    const run = this.running.get(jobId);
    if (run?.timer) clearTimeout(run.timer);
    this.running.delete(jobId);
    if (run) this.releaseSlot(run, false);
    this.emit({ type: 'finished', jobId, campaignId: rec.job.campaignId, outcome });
    this.pump();
  }

  protected releaseSlot(run: Running, pump = true): void {
    if (!run.holdsSlot) return;
    run.holdsSlot = false;
    this.allocator.release(run.allocation);
    if (pump) this.pump();
  }

  protected emit(e: ExecutorEvent): void {
    if (!this.closed) this.delivery.emit(e);
  }

  protected toView(rec: LocalJobRecord): JobView {
    const phase = rec.phase === 'launching' ? 'running' : rec.phase;
    return {
      jobId: rec.job.spec.jobId,
      campaignId: rec.job.campaignId,
      phase,
      attempt: 1,
      slot: rec.slot,
      handle: rec.pid != null ? `pid:${rec.pid}` : null,
      outcome: rec.outcome,
      acknowledged: rec.acknowledged,
    };
  }

  protected reportError(err: unknown, context: string): void {
    if (this.options.onError) this.options.onError(err, context);
  }
}
