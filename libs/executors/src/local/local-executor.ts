import { spawn, execFileSync } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EventDelivery } from '../delivery';
import { bwrapArgs, gpuDeviceNodes, jobEnvProblems, probeBubblewrap, SANDBOX_BASE_ENV } from '../isolation/bwrap';
import { IsolationRefused, planIsolation, prepareOutputs, searchableByOthers } from '../isolation/plan';
import { DIVERGED_EXIT_CODE, logHasDivergedLine, readLogTail, scrubLogFile, SecretScrubber } from '../log-file';
import type {
  CancelResult,
  Executor,
  ExecutorEvent,
  ExecutorJob,
  ExecutorListener,
  FailureReason,
  JobOutcome,
  JobView,
  SubmitResult,
} from '../types';
import { isProcessAlive, jobIsAlive, readProcStat, signalJob } from './proc';
import { launchClaimName, RecordStore, type LocalJobRecord } from './records';
import {
  parseSlot,
  pickRunnable,
  placementFor,
  queueOrder,
  SlotAllocator,
  type Allocation,
  type QueueEntry,
} from './slots';

export interface LocalExecutorOptions {
  /** AEVO_HOME: logs go to `<home>/logs/<jobId>.log`, job records to `<home>/dispatch/local-jobs/<jobId>/`. */
  home: string;
  stateDir?: string;
  logDir?: string;
  /** GPU indices, one slot each (CUDA_VISIBLE_DEVICES=<i>). Default: none. */
  gpus?: number[];
  /** CPU-only slots (AEVO_LOCAL_SLOTS). Default 1. */
  cpuSlots?: number;
  /** Refuse GPU jobs on a machine without GPUs instead of running them on a CPU slot. */
  requireGpu?: boolean;
  /** Between SIGTERM and SIGKILL of a job's process tree. Default 10 s. */
  killGraceMs?: number;
  /** How often running jobs are checked (exit file, liveness). Default 500 ms. */
  pollMs?: number;
  /** Lines of log in the terminal outcome. Default 50. */
  logTailLines?: number;
  /** Budget charged per second on a CPU-only slot (reported as `cpu-slot-seconds`). Default 1. */
  cpuSlotWeight?: number;
  /** Environment variables of the dispatch process passed on to jobs (secrets are not). */
  inheritEnv?: string[];
  /** Shell that wraps each job to record its pid and exit code. Default /bin/sh. */
  shell?: string;
  /**
   * Records of acknowledged jobs older than this are deleted at start-up (logs are kept). Until then a resubmitted
   * jobId is recognised here too; the dispatch service dedupes by its event store in any case. Default 7 days.
   */
  retainFinishedMs?: number;
  /**
   * How jobs are enclosed. 'bubblewrap' (default): each job in its own bubblewrap sandbox (see isolation/bwrap.ts);
   * the executor refuses to start where bubblewrap cannot make one. 'none': jobs run as the dispatch user with its
   * file system — only for an operator who set AEVO_UNSANDBOXED_JOBS, and every JobStarted records it.
   */
  sandbox?: 'bubblewrap' | 'none';
  /** bubblewrap's path. Default /usr/bin/bwrap (AEVO_BWRAP). */
  bwrapPath?: string;
  /**
   * Host uid of sandboxed jobs. 'per-slot' (default when dispatch runs as root): slot k runs as uid jobUidBase + k,
   * so a job owns no file it did not write and its process limit is its own; 'service': the dispatch user's uid
   * (mapped to nobody inside the sandbox), for an unprivileged dispatch.
   */
  jobUids?: 'per-slot' | 'service';
  /** First uid of the per-slot range. Default 62000. */
  jobUidBase?: number;
  /** Per-job limits: processes and threads (per-slot uids only), largest file, private /tmp size. */
  limits?: { processes?: number; fileSizeMiB?: number; tmpMiB?: number };
  onError?: (err: unknown, context: string) => void;
}

/** Variables a job inherits from dispatch by default: enough to find interpreters and libraries, no credentials. */
export const DEFAULT_INHERITED_ENV = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'LANG',
  'LC_ALL',
  'LC_CTYPE',
  'TZ',
  'TMPDIR',
  'PYTHONPATH',
  'VIRTUAL_ENV',
  'LD_LIBRARY_PATH',
  'CUDA_HOME',
  'OMP_NUM_THREADS',
];

/**
 * `sh -c WRAPPER aevo-job <jobDir> <claim> <argv...>`: claims its launch (mkdir is atomic: a dispatch that restarted
 * while this wrapper was still starting either sees the claim and waits for the pid, or takes the claim first, which
 * makes a late wrapper exit without running anything), records its pid, runs the job's argv as a child (not exec, so
 * that it survives to record the exit code), then writes the exit code atomically. A dispatch restarted meanwhile
 * reads these files to learn what happened while it was down.
 */
export const JOB_WRAPPER =
  'd=$1; k=$2; shift 2; mkdir "$d/$k" 2>/dev/null || exit 75; ' +
  'echo $$ > "$d/pid.tmp" && mv -f "$d/pid.tmp" "$d/pid"; "$@"; c=$?; ' +
  'echo $c > "$d/exit.tmp" && mv -f "$d/exit.tmp" "$d/exit"; exit $c';
/** How long a restarted dispatch waits for the pid of a wrapper that has claimed its launch but not yet written it. */
const CLAIMED_PID_WAIT_MS = 3_000;
/** The same for a sandboxed job: bubblewrap reports on fd 3, outside the sandbox, whether the command ran at all. */
const SANDBOX_WRAPPER = JOB_WRAPPER.replace('"$@"; c=$?', '"$@" 3>"$d/sandbox.json"; c=$?');

interface Running {
  allocation: Allocation;
  /** Whether the allocator counts the slot as busy for this job (released as soon as its processes are gone). */
  holdsSlot: boolean;
  timer: NodeJS.Timeout | null;
  killing: boolean;
  finishing: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs jobs as local processes on a pool of slots. Each job is its own process group (spawned detached, output to
 * its log file, not to a pipe), so that it outlives a dispatch crash and its whole tree can be killed on timeout.
 */
export class LocalExecutor implements Executor {
  readonly kind = 'local' as const;
  private readonly store: RecordStore;
  private readonly logDir: string;
  private readonly allocator: SlotAllocator;
  private readonly delivery: EventDelivery;
  private readonly records = new Map<string, LocalJobRecord>();
  private readonly queue: QueueEntry[] = [];
  private readonly running = new Map<string, Running>();
  private seq = 0;
  private poller: NodeJS.Timeout | null = null;
  private recovered: Promise<JobView[]> | null = null;
  private closed = false;
  private readonly opts: Required<
    Omit<LocalExecutorOptions, 'onError' | 'stateDir' | 'logDir' | 'requireGpu' | 'limits'>
  > & {
    requireGpu: boolean;
    limits: { processes: number; fileSizeMiB: number; tmpMiB: number };
  };

  constructor(private readonly options: LocalExecutorOptions) {
    const home = resolve(options.home);
    this.opts = {
      home,
      gpus: options.gpus ?? [],
      cpuSlots: options.cpuSlots ?? 1,
      requireGpu: options.requireGpu ?? false,
      killGraceMs: options.killGraceMs ?? 10_000,
      pollMs: options.pollMs ?? 500,
      logTailLines: options.logTailLines ?? 50,
      cpuSlotWeight: options.cpuSlotWeight ?? 1,
      inheritEnv: options.inheritEnv ?? DEFAULT_INHERITED_ENV,
      shell: options.shell ?? '/bin/sh',
      retainFinishedMs: options.retainFinishedMs ?? 7 * 86_400_000,
      sandbox: options.sandbox ?? 'bubblewrap',
      bwrapPath: options.bwrapPath ?? (process.env.AEVO_BWRAP || '/usr/bin/bwrap'),
      jobUids: options.jobUids ?? (process.getuid?.() === 0 ? 'per-slot' : 'service'),
      jobUidBase: options.jobUidBase ?? 62_000,
      limits: {
        processes: options.limits?.processes ?? 1024,
        fileSizeMiB: options.limits?.fileSizeMiB ?? 16_384,
        tmpMiB: options.limits?.tmpMiB ?? 1024,
      },
    };
    if (this.opts.sandbox === 'bubblewrap') this.checkSandboxable(home);
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

  /** Refuses to construct an executor that would run candidate code unconfined without the operator saying so. */
  private checkSandboxable(home: string): void {
    const probe = probeBubblewrap(this.opts.bwrapPath);
    if (!probe.ok)
      throw new Error(
        `${probe.reason}. Jobs run candidate code and must be sandboxed; to run them unconfined anyway (every JobStarted records it) set AEVO_UNSANDBOXED_JOBS=${UNSANDBOXED_OPT_IN}`,
      );
    if (this.opts.jobUids === 'per-slot') {
      mkdirSync(home, { recursive: true });
      // A private AEVO_HOME (mkdtemp makes 0700) is made searchable, not listable: the jobs' uids must reach their
      // own mounts' sources; every directory they may not see stays out of their mount namespace regardless.
      const mode = statSync(home).mode;
      if ((mode & 0o001) === 0) chmodSync(home, (mode & 0o7777) | 0o001);
      const reach = searchableByOthers(home);
      if (!reach.ok) {
        const problem = `AEVO_HOME ${home} cannot be reached by the jobs' own uids (${reach.blocking} is not searchable by others)`;
        if (this.options.jobUids === 'per-slot')
          throw new Error(
            `${problem}: move AEVO_HOME, or set AEVO_JOB_UIDS=service to run jobs under the dispatch user's uid`,
          );
        // Not asked for explicitly: keep every namespace and mount of the sandbox, lose only the per-slot host uid.
        this.opts.jobUids = 'service';
        this.reportError(
          new Error(
            `${problem}; jobs run sandboxed under the dispatch user's uid (mapped to nobody), without per-slot uids and process limits`,
          ),
          'sandbox set-up',
        );
      }
    }
  }

  /** The boundary this executor puts jobs in, as JobStarted records it. */
  get isolation(): 'bubblewrap' | 'none' {
    return this.opts.sandbox === 'bubblewrap' ? 'bubblewrap' : 'none';
  }

  get capacity(): { gpu: number; cpu: number } {
    return this.allocator.capacity;
  }

  on(listener: ExecutorListener): () => void {
    return this.delivery.on(listener);
  }

  /** Resolves when every event produced so far has been delivered to the listeners. */
  drained(): Promise<void> {
    return this.delivery.drained();
  }

  recover(): Promise<JobView[]> {
    this.recovered ??= this.doRecover();
    return this.recovered;
  }

  private async doRecover(): Promise<JobView[]> {
    const forgetBefore = Date.now() - this.opts.retainFinishedMs;
    for (const rec of this.store.loadAll()) {
      const jobId = rec.job.spec.jobId;
      if (
        rec.phase === 'finished' &&
        rec.acknowledged &&
        rec.outcome &&
        Date.parse(rec.outcome.finishedAt) < forgetBefore
      ) {
        this.store.remove(jobId);
        continue;
      }
      this.records.set(jobId, rec);
      this.seq = Math.max(this.seq, rec.seq);
      switch (rec.phase) {
        case 'finished':
          if (!rec.acknowledged && rec.outcome)
            this.emit({ type: 'finished', jobId, campaignId: rec.job.campaignId, outcome: rec.outcome });
          break;
        case 'queued':
          this.enqueue(rec);
          break;
        case 'launching':
        case 'running':
          await this.reattach(rec);
          break;
      }
    }
    // Keeps the process alive until close(), like a server socket: in-process users wait for jobs, not for timers.
    this.poller = setInterval(() => this.poll(), this.opts.pollMs);
    this.pump();
    return this.views();
  }

  /** A job that was launched by a previous instance: reattach if it still runs, else record how it ended. */
  private async reattach(rec: LocalJobRecord): Promise<void> {
    const jobId = rec.job.spec.jobId;
    const allocation = rec.slot ? parseSlot(rec.slot) : null;
    if (rec.pid == null) {
      // Crashed between writing 'launching' and recording the pid: the wrapper's own files tell whether it runs.
      const claim = rec.launches == null ? 'unclaimable' : this.store.claimLaunch(jobId, rec.launches);
      if (claim === 'taken-by-us') {
        // No wrapper claimed this launch, and none can now: the job never ran, so it waits for a slot again.
        this.requeue(rec);
        return;
      }
      let pid = this.store.pidFile(jobId);
      for (const end = Date.now() + CLAIMED_PID_WAIT_MS; pid == null && claim === 'claimed' && Date.now() < end;) {
        await sleep(50);
        pid = this.store.pidFile(jobId);
      }
      if (pid != null) {
        rec.pid = rec.pgid = pid;
        rec.startTicks = readProcStat(pid)?.startTicks ?? null;
        rec.startedAt ??= rec.launchAt;
        rec.phase = 'running';
        this.store.save(rec);
      }
    }
    if (!allocation) {
      await this.finishRecord(rec, null, {
        status: 'failed',
        reason: 'lost',
        exitCode: null,
        message: `job record has no valid slot (${rec.slot})`,
      });
      return;
    }
    const alive = rec.pid != null && isProcessAlive(rec.pid, rec.startTicks);
    if (alive) {
      this.allocator.occupy(allocation);
      const run: Running = { allocation, holdsSlot: true, timer: null, killing: false, finishing: false };
      this.running.set(jobId, run);
      // JobStarted may not have been recorded before the crash; it is idempotent per attempt.
      this.emit({
        type: 'started',
        jobId,
        campaignId: rec.job.campaignId,
        slot: rec.slot,
        handle: `pid:${rec.pid}`,
        attempt: 1,
        startedAt: rec.startedAt ?? rec.launchAt ?? rec.queuedAt,
        isolation: rec.isolation ?? 'none',
      });
      if (rec.killIntent) void this.killAndFinish(jobId);
      else this.armTimeout(jobId);
      return;
    }
    // Already over: its slot is not taken again (a job queued behind it may be given the slot right away).
    this.running.set(jobId, { allocation, holdsSlot: false, timer: null, killing: false, finishing: true });
    if (rec.pgid != null && jobIsAlive(rec.pgid)) await this.killTree(rec.pgid); // leftovers of a finished wrapper
    await this.finishFromExit(rec, this.store.exitFile(jobId));
  }

  /** Back to the queue, as if just submitted (its place by priority and submission order is kept). */
  private requeue(rec: LocalJobRecord): void {
    rec.phase = 'queued';
    rec.slot = null;
    rec.launchAt = null;
    rec.deadline = null;
    this.store.save(rec);
    this.enqueue(rec);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('the local executor is closed');
  }

  async submit(job: ExecutorJob): Promise<SubmitResult> {
    this.assertOpen();
    await this.recover();
    const jobId = job.spec.jobId;
    const known = this.records.get(jobId);
    if (known) return { accepted: false, queuePosition: this.queuePosition(jobId), view: this.toView(known) };
    const rec: LocalJobRecord = {
      version: 1,
      job,
      seq: ++this.seq,
      phase: 'queued',
      queuedAt: new Date().toISOString(),
      slot: null,
      launchAt: null,
      pid: null,
      pgid: null,
      startTicks: null,
      startedAt: null,
      deadline: null,
      logPath: join(this.logDir, `${jobId}.log`),
      killIntent: null,
      outcome: null,
      acknowledged: false,
    };
    this.records.set(jobId, rec);
    const placement = placementFor(this.allocator.pool, job.spec.resources.gpu);
    if (placement.kind === 'impossible') {
      await this.finishRecord(rec, null, {
        status: 'failed',
        reason: 'executor-error',
        exitCode: null,
        message: placement.message,
      });
      return { accepted: true, queuePosition: 0, view: this.toView(rec) };
    }
    this.enqueue(rec);
    const queuePosition = this.queuePosition(jobId);
    this.pump();
    // A job launched right away was saved by its launch (as 'launching', before its process existed); only one that
    // waits needs its own record now. Both happen in this same turn, so a crash leaves either no record (submit never
    // returned: the caller submits again) or a complete one.
    if (rec.phase === 'queued') this.store.save(rec);
    return { accepted: true, queuePosition, view: this.toView(rec) };
  }

  async cancel(jobId: string, reason: string): Promise<CancelResult> {
    this.assertOpen();
    await this.recover();
    const rec = this.records.get(jobId);
    if (!rec) return 'not-found';
    if (rec.phase === 'finished') return 'already-finished';
    const qi = this.queue.findIndex((q) => q.jobId === jobId);
    if (qi >= 0) {
      this.queue.splice(qi, 1);
      await this.finishRecord(rec, null, { status: 'cancelled', reason: null, exitCode: null, message: reason });
      return 'cancelling';
    }
    if (rec.killIntent) return 'cancelling';
    rec.killIntent = { kind: 'cancelled', message: reason, at: new Date().toISOString() };
    this.store.save(rec);
    void this.killAndFinish(jobId);
    return 'cancelling';
  }

  async acknowledge(jobId: string): Promise<void> {
    this.assertOpen();
    const rec = this.records.get(jobId);
    if (!rec || rec.phase !== 'finished' || rec.acknowledged) return;
    rec.acknowledged = true;
    this.store.save(rec);
  }

  view(jobId: string): JobView | undefined {
    const rec = this.records.get(jobId);
    return rec ? this.toView(rec) : undefined;
  }

  views(): JobView[] {
    return [...this.records.values()].map((r) => this.toView(r));
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.poller) clearInterval(this.poller);
    for (const r of this.running.values()) if (r.timer) clearTimeout(r.timer);
    this.delivery.close();
  }

  // ---------------------------------------------------------------- scheduling

  private enqueue(rec: LocalJobRecord): void {
    const spec = rec.job.spec;
    this.queue.push({
      jobId: spec.jobId,
      priority: spec.priority,
      seq: rec.seq,
      placement: placementFor(this.allocator.pool, spec.resources.gpu),
    });
    this.queue.sort(queueOrder);
  }

  private queuePosition(jobId: string): number {
    const i = this.queue.findIndex((q) => q.jobId === jobId);
    return i < 0 ? 0 : i;
  }

  private pump(): void {
    if (this.closed || !this.poller) return;
    for (const { entry, allocation } of pickRunnable(this.queue, this.allocator)) {
      this.queue.splice(this.queue.indexOf(entry), 1);
      const rec = this.records.get(entry.jobId);
      if (!rec) {
        this.allocator.release(allocation);
        continue;
      }
      this.launch(rec, allocation);
    }
  }

  private launch(rec: LocalJobRecord, allocation: Allocation): void {
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

    let command: { argv: string[]; env: NodeJS.ProcessEnv };
    try {
      command =
        this.opts.sandbox === 'bubblewrap'
          ? this.sandboxedCommand(rec, allocation)
          : { argv: spec.argv, env: this.unsandboxedEnv(rec, allocation) };
    } catch (err) {
      if (err instanceof IsolationRefused) return fail(err.message);
      return fail(`cannot prepare the job's sandbox: ${(err as Error).message}`);
    }
    rec.isolation = this.isolation;

    let fd: number;
    try {
      fd = openSync(rec.logPath, 'a', 0o600);
    } catch (err) {
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
          stdio: ['ignore', fd, fd],
          env: command.env,
        },
      );
    } catch (err) {
      closeSync(fd);
      return fail(`spawn failed: ${(err as Error).message}`);
    }
    closeSync(fd);
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

  /**
   * `prlimit … [setpriv …] bwrap … -- argv`: limits first (inherited by everything the job starts), then the drop to
   * the slot's own uid, then the sandbox. The wrapper and these tools run with a fixed minimal environment; the job's
   * environment is handed to bubblewrap, which clears its own, so nothing a spec sets reaches a process outside.
   */
  private sandboxedCommand(rec: LocalJobRecord, allocation: Allocation): { argv: string[]; env: NodeJS.ProcessEnv } {
    const spec = rec.job.spec;
    const envIssues = jobEnvProblems(spec.env);
    if (envIssues.length > 0)
      throw new IsolationRefused(
        `job environment refused: ${envIssues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
        envIssues,
      );
    const plan = planIsolation(spec, this.opts.home);
    const owner = this.opts.jobUids === 'per-slot' ? this.slotOwner(allocation) : undefined;
    prepareOutputs(plan, owner);
    const env: Record<string, string> = { ...SANDBOX_BASE_ENV, ...spec.env };
    env.CUDA_VISIBLE_DEVICES = allocation.gpus.join(',');
    env.AEVO_JOB_ID = spec.jobId;
    env.AEVO_SLOT = allocation.slot;
    const limits = [`--fsize=${this.opts.limits.fileSizeMiB * 1024 * 1024}`, '--core=0'];
    if (owner) limits.push(`--nproc=${this.opts.limits.processes}`);
    const drop = owner ? ['setpriv', `--reuid=${owner.uid}`, `--regid=${owner.gid}`, '--clear-groups', '--'] : [];
    const sandbox = bwrapArgs(plan, {
      env,
      gpuDevices: gpuDeviceNodes(allocation.gpus),
      tmpBytes: this.opts.limits.tmpMiB * 1024 * 1024,
    });
    return {
      argv: [
        'prlimit',
        ...limits,
        '--',
        ...drop,
        this.opts.bwrapPath,
        '--json-status-fd',
        '3',
        ...sandbox,
        '--',
        ...spec.argv,
      ],
      env: { ...SANDBOX_BASE_ENV },
    };
  }

  /** Slot k's own uid and gid: CPU slots from the base, GPU slots (named by their first GPU) 512 above. */
  private slotOwner(allocation: Allocation): { uid: number; gid: number } {
    const id =
      this.opts.jobUidBase + (allocation.kind === 'gpu' ? 512 + allocation.gpus[0] : (allocation.cpuIndex ?? 0));
    return { uid: id, gid: id };
  }

  /** AEVO_UNSANDBOXED_JOBS only: the dispatch process's allow-listed variables, never its credentials. */
  private unsandboxedEnv(rec: LocalJobRecord, allocation: Allocation): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const k of this.opts.inheritEnv) if (process.env[k] !== undefined) env[k] = process.env[k];
    // No bytecode caches written into the sandbox (frozen directories stay as forked); a spec may override it.
    env.PYTHONDONTWRITEBYTECODE = '1';
    Object.assign(env, rec.job.spec.env);
    // A CPU slot hides every GPU, so that a CPU job cannot take a GPU another slot owns.
    env.CUDA_VISIBLE_DEVICES = allocation.gpus.join(',');
    env.AEVO_JOB_ID = rec.job.spec.jobId;
    env.AEVO_SLOT = allocation.slot;
    return env;
  }

  private armTimeout(jobId: string): void {
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

  private poll(): void {
    if (this.closed) return;
    for (const jobId of this.running.keys()) void this.check(jobId);
  }

  /** Finishes a running job whose wrapper has exited (recorded its exit code or vanished). */
  private async check(jobId: string): Promise<void> {
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

  private async killAndFinish(jobId: string): Promise<void> {
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
  private async killTree(pgid: number): Promise<void> {
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

  private async finishFromExit(rec: LocalJobRecord, exit: { code: number; at: Date } | null): Promise<void> {
    const spec = rec.job.spec;
    const code = exit?.code ?? null;
    const finishedAt = exit?.at ?? (rec.killIntent ? new Date() : this.lastSignOfLife(rec));
    let result: Pick<JobOutcome, 'status' | 'reason' | 'exitCode' | 'message'>;
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
    else if (code !== 0 && rec.isolation === 'bubblewrap' && !this.store.sandboxRan(spec.jobId)) {
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
      else
        result = { status: 'failed', reason: 'exit-code', exitCode: code, message: describeExit(code, spec.argv[0]) };
    }
    const allocation = this.running.get(spec.jobId)?.allocation ?? null;
    await this.finishRecord(rec, allocation, result, finishedAt);
  }

  /** For a job that vanished: its log's last write is the best estimate of when it stopped. */
  private lastSignOfLife(rec: LocalJobRecord): Date {
    try {
      return statSync(rec.logPath).mtime;
    } catch {
      return new Date();
    }
  }

  private async finishRecord(
    rec: LocalJobRecord,
    allocation: Allocation | null,
    result: { status: JobOutcome['status']; reason: FailureReason | null; exitCode: number | null; message: string },
    finishedAt: Date = new Date(),
  ): Promise<void> {
    const jobId = rec.job.spec.jobId;
    const started = rec.startedAt ? Date.parse(rec.startedAt) : null;
    const wallSeconds = started == null ? 0 : Math.max(0, (finishedAt.getTime() - started) / 1000);
    const onGpu = allocation?.kind === 'gpu';
    const gpuCount = onGpu ? allocation.gpus.length : 0;
    // The job may have printed a secret (or what it took for one): the log file is scrubbed before anything reads it.
    // One scrubber for both reads (built from the environment as it is now, so a rotated secret is caught).
    const scrubber = SecretScrubber.fromEnv();
    await scrubLogFile(rec.logPath, scrubber).catch((err) => {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.reportError(err, `scrubbing the log of ${jobId}`);
    });
    const outcome: JobOutcome = {
      ...result,
      wallSeconds: round3(wallSeconds),
      gpuSeconds: round3(onGpu ? gpuCount * wallSeconds : allocation ? wallSeconds * this.opts.cpuSlotWeight : 0),
      gpuCount,
      budgetUnit: onGpu ? 'gpu-seconds' : 'cpu-slot-seconds',
      logTail: await readLogTail(rec.logPath, this.opts.logTailLines, undefined, scrubber),
      logPath: existsSync(rec.logPath) ? rec.logPath : null,
      startedAt: rec.startedAt,
      finishedAt: finishedAt.toISOString(),
    };
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

  private releaseSlot(run: Running, pump = true): void {
    if (!run.holdsSlot) return;
    run.holdsSlot = false;
    this.allocator.release(run.allocation);
    if (pump) this.pump();
  }

  private emit(e: ExecutorEvent): void {
    if (!this.closed) this.delivery.emit(e);
  }

  private toView(rec: LocalJobRecord): JobView {
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

  private reportError(err: unknown, context: string): void {
    if (this.options.onError) this.options.onError(err, context);
  }
}

function describeExit(code: number, cmd: string): string {
  if (code === 127) return `exited with code 127 (command not found: ${cmd})`;
  if (code === 126) return `exited with code 126 (${cmd} is not executable)`;
  if (code > 128 && code < 160) return `exited with code ${code} (killed by signal ${code - 128})`;
  return `exited with code ${code}`;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** GPU indices from AEVO_LOCAL_GPUS ("0,1,2" or "none"), else from nvidia-smi, else none. */
export function detectGpus(env: NodeJS.ProcessEnv = process.env): number[] {
  const configured = env.AEVO_LOCAL_GPUS?.trim();
  if (configured !== undefined && configured !== '') {
    if (configured === 'none') return [];
    const list = configured.split(',').map((s) => Number(s.trim()));
    if (list.some((n) => !Number.isInteger(n) || n < 0))
      throw new Error(`AEVO_LOCAL_GPUS: expected a comma-separated list of GPU indices or "none", got "${configured}"`);
    return list;
  }
  try {
    const out = execFileSync('nvidia-smi', ['--query-gpu=index', '--format=csv,noheader'], {
      encoding: 'utf8',
      timeout: 10_000,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return out
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => /^\d+$/.test(l))
      .map(Number);
  } catch {
    return [];
  }
}

/** Local executor options from the environment (AEVO_HOME, AEVO_LOCAL_SLOTS, AEVO_LOCAL_GPUS, …). Throws naming the bad variable. */
export function localExecutorOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): LocalExecutorOptions {
  const int = (name: string, dflt: number, min: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return dflt;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new Error(`${name}: expected an integer ≥ ${min}, got "${raw}"`);
    return n;
  };
  const num = (name: string, dflt: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return dflt;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < 0) throw new Error(`${name}: expected a non-negative number, got "${raw}"`);
    return n;
  };
  return {
    home: env.AEVO_HOME || '.aevo',
    gpus: detectGpus(env),
    cpuSlots: int('AEVO_LOCAL_SLOTS', 1, 0),
    requireGpu: env.AEVO_LOCAL_REQUIRE_GPU === 'true',
    killGraceMs: int('AEVO_LOCAL_KILL_GRACE_MS', 10_000, 0),
    cpuSlotWeight: num('AEVO_CPU_SLOT_WEIGHT', 1),
    logTailLines: int('AEVO_LOG_TAIL_LINES', 50, 1),
    sandbox: sandboxModeFromEnv(env),
    ...(env.AEVO_BWRAP ? { bwrapPath: env.AEVO_BWRAP } : {}),
    ...(env.AEVO_JOB_UIDS
      ? { jobUids: oneOf('AEVO_JOB_UIDS', env.AEVO_JOB_UIDS, ['per-slot', 'service'] as const) }
      : {}),
    ...(env.AEVO_JOB_UID_BASE ? { jobUidBase: int('AEVO_JOB_UID_BASE', 62_000, 1000) } : {}),
    limits: {
      processes: int('AEVO_JOB_MAX_PROCESSES', 1024, 16),
      fileSizeMiB: int('AEVO_JOB_MAX_FILE_MIB', 16_384, 1),
      tmpMiB: int('AEVO_JOB_TMP_MIB', 1024, 1),
    },
  };
}

/** The value AEVO_UNSANDBOXED_JOBS must have: long enough that nobody sets it by accident. */
export const UNSANDBOXED_OPT_IN = 'i-accept-that-candidate-code-runs-unconfined';

function sandboxModeFromEnv(env: NodeJS.ProcessEnv): 'bubblewrap' | 'none' {
  const raw = env.AEVO_UNSANDBOXED_JOBS;
  if (raw === undefined || raw === '') return 'bubblewrap';
  if (raw !== UNSANDBOXED_OPT_IN)
    throw new Error(
      `AEVO_UNSANDBOXED_JOBS: to run jobs without a sandbox set it to "${UNSANDBOXED_OPT_IN}" (got "${raw}"); unset it to sandbox jobs`,
    );
  return 'none';
}

function oneOf<T extends string>(name: string, raw: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(raw))
    throw new Error(`${name}: expected one of ${allowed.join(', ')}, got "${raw}"`);
  return raw as T;
}
