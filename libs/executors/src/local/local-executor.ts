import { join } from 'node:path';
import { jobNodes } from '@aevo/contracts';
import type { CancelResult, Executor, ExecutorJob, ExecutorListener, JobView, SubmitResult } from '../types';
import { LocalJobRunner, sleep, type Running } from './job-runner';
import { isProcessAlive, jobIsAlive, readProcStat } from './proc';
import type { LocalJobRecord } from './records';
import { parseSlot, pickRunnable, placementFor, queueOrder, type QueueEntry } from './slots';

// The executor's options, their environment variables and the wrapper are part of its public surface.
export {
  DEFAULT_INHERITED_ENV,
  detectGpus,
  localExecutorOptionsFromEnv,
  UNSANDBOXED_OPT_IN,
  type LocalExecutorOptions,
} from './options';
export { JOB_WRAPPER } from './launch-command';

/** How long a restarted dispatch waits for the pid of a wrapper that has claimed its launch but not yet written it. */
const CLAIMED_PID_WAIT_MS = 3_000;

/**
 * Runs jobs as local processes on a pool of slots. Each job is its own process group (spawned detached, output to
 * its log file, not to a pipe), so that it outlives a dispatch crash and its whole tree can be killed on timeout.
 */
export class LocalExecutor extends LocalJobRunner implements Executor {
  readonly kind = 'local' as const;
  private readonly queue: QueueEntry[] = [];
  private seq = 0;
  private recovered: Promise<JobView[]> | null = null;

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
    const placement = placementFor(this.allocator.pool, job.spec.resources.gpu, jobNodes(job.spec.resources));
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
      placement: placementFor(this.allocator.pool, spec.resources.gpu, jobNodes(spec.resources)),
    });
    this.queue.sort(queueOrder);
  }

  private queuePosition(jobId: string): number {
    const i = this.queue.findIndex((q) => q.jobId === jobId);
    return i < 0 ? 0 : i;
  }

  protected pump(): void {
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
}
