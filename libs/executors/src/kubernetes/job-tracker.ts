import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readLogTail, logHasDivergedLine, DIVERGED_EXIT_CODE } from '../log-file';
import { rankLogPath } from '../local/ranks';
import type { FailureReason, JobOutcome } from '../types';
import { ANNOTATIONS } from './manifest';
import { gpuCountOf, observeJob, suspendedAt, type JobObject, type ObservedJob } from './observe';
import { KubernetesJobLogs } from './job-logs';
import { rendezvousServiceName } from './multinode';
import { exitCodeOf, openRun, recordedRuns, round3, statusCode, type Tracked } from './tracked';

/**
 * What each Job's observed state means for its job: tracking, starts, suspensions, ends and the queue deadline,
 * reported as executor events.
 */
export abstract class KubernetesJobTracker extends KubernetesJobLogs {
  // ---------------------------------------------------------------- state

  protected track(jobId: string, campaignId: string, name: string, gpu: number, nodes = 1): Tracked {
    const t: Tracked = {
      jobId,
      campaignId,
      name,
      gpu,
      nodes,
      phase: 'queued',
      attempt: 0,
      startedAt: null,
      runs: [],
      waitingSince: null,
      outcome: null,
      finishing: false,
      acknowledged: false,
      logPath: join(resolve(this.opts.logDir), `${jobId}.log`),
      lastLogTs: null,
      linesAtLastTs: [],
      logPod: null,
      logAbort: null,
      logFollowing: false,
      logDonePod: null,
    };
    this.tracked.set(jobId, t);
    this.byName.set(name, jobId);
    return t;
  }

  protected untrack(t: Tracked): void {
    this.tracked.delete(t.jobId);
    this.byName.delete(t.name);
  }

  /** The tracked job for a Job object; a managed Job we did not know (created by an earlier instance) is adopted. */
  protected trackedFor(job: JobObject): Tracked | null {
    const ann = job.metadata?.annotations ?? {};
    const jobId = ann[ANNOTATIONS.jobId] ?? (job.metadata?.name ? this.byName.get(job.metadata.name) : undefined);
    if (!jobId) return null;
    const known = this.tracked.get(jobId);
    if (known) return known;
    if (this.acknowledged.has(jobId)) return null;
    const campaignId = ann[ANNOTATIONS.campaignId];
    if (!campaignId || !job.metadata?.name) return null;
    const nodes = Number(ann[ANNOTATIONS.nodes] ?? 1);
    const t = this.track(jobId, campaignId, job.metadata.name, gpuCountOf(job), Number.isInteger(nodes) ? nodes : 1);
    // Runs an earlier instance saw end in a preemption: still charged, and the attempt numbering goes on from them.
    t.runs = recordedRuns(ann[ANNOTATIONS.runs], (err) =>
      this.reportError(err, `${ANNOTATIONS.runs} of ${job.metadata?.name}`),
    );
    t.attempt = t.runs.length;
    t.startedAt = t.runs[0]?.start ?? null;
    return t;
  }

  /**
   * Writes the Job's finished runs into its `aevo.dev/runs` annotation (a JSON patch), so a restart still charges them.
   */
  protected async recordRuns(t: Tracked): Promise<void> {
    const closed = t.runs.filter((r) => r.end != null).map((r) => [r.start, r.end]);
    const path = `/metadata/annotations/${ANNOTATIONS.runs.replace(/~/g, '~0').replace(/\//g, '~1')}`;
    try {
      await this.batch.patchNamespacedJob({
        name: t.name,
        namespace: this.opts.namespace,
        body: [{ op: 'add', path, value: JSON.stringify(closed) }],
      });
    } catch (err) {
      if (statusCode(err) !== 404) this.reportError(err, `recording the runs of ${t.jobId}`);
    }
  }

  protected reconcile(job: JobObject): void {
    if (this.closed) return;
    const t = this.trackedFor(job);
    if (!t || t.phase === 'finished' || t.finishing) return;
    const o = observeJob(job);
    switch (o.phase) {
      case 'queued':
        if (o.suspended && t.phase === 'running') {
          // The run ends when the Job was suspended (its Suspended condition), not when we happen to see it.
          this.endRun(t, suspendedAt(job) ?? this.nowIso());
          t.phase = 'preempted';
          this.stopLogs(t);
          void this.recordRuns(t);
          this.emit({
            type: 'preempted',
            jobId: t.jobId,
            campaignId: t.campaignId,
            reason: 'Kueue suspended the Job (preempted or quota reclaimed); it resumes when admitted again',
          });
        }
        if (t.phase !== 'running') t.waitingSince = o.waitingSince ?? t.waitingSince ?? this.nowIso();
        return;
      case 'running': {
        const open = openRun(t);
        if (t.phase === 'running' && open && o.startedAt && Date.parse(o.startedAt) > Date.parse(open.start)) {
          // A newer startTime while we thought it ran: it was suspended and resumed between two looks. The end of the
          // earlier run is unknown; it is charged until this resumption.
          this.endRun(t, o.startedAt);
          t.phase = 'preempted';
          this.stopLogs(t);
          void this.recordRuns(t);
          this.emit({
            type: 'preempted',
            jobId: t.jobId,
            campaignId: t.campaignId,
            reason: 'Kueue suspended and resumed the Job between two watch events',
          });
        }
        if (t.phase !== 'running') this.markStarted(t, o.startedAt);
        void this.followLogs(t);
        return;
      }
      default:
        if (t.phase !== 'running' && o.startedAt) this.markStarted(t, o.startedAt); // ran entirely between two looks
        t.finishing = true;
        void this.finishFromJob(t, o).catch((err) => {
          t.finishing = false;
          this.reportError(err, `finishing ${t.jobId}`);
        });
    }
  }

  protected markStarted(t: Tracked, startedAt: string | null): void {
    t.phase = 'running';
    t.attempt += 1;
    t.waitingSince = null;
    const start = startedAt ?? this.nowIso();
    t.runs.push({ start, end: null });
    t.startedAt ??= start;
    this.emit({
      type: 'started',
      jobId: t.jobId,
      campaignId: t.campaignId,
      slot: null,
      handle: `job:${this.opts.namespace}/${t.name}`,
      attempt: t.attempt,
      startedAt: start,
      isolation: 'kubernetes-pod',
    });
  }

  protected onDeleted(job: JobObject): void {
    const t = this.trackedFor(job);
    if (!t || t.phase === 'finished' || t.finishing) return;
    const o = observeJob(job);
    t.finishing = true;
    if (o.phase === 'succeeded' || o.phase === 'failed') {
      void this.finishFromJob(t, o).catch((err) => this.reportError(err, `finishing ${t.jobId}`));
      return;
    }
    this.stopLogs(t);
    void this.finishWith(
      t,
      {
        status: 'failed',
        reason: 'lost',
        exitCode: null,
        message: `Kubernetes Job ${t.name} was deleted outside dispatch before it finished`,
      },
      this.nowIso(),
    );
  }

  protected async finishFromJob(t: Tracked, o: Extract<ObservedJob, { phase: 'succeeded' | 'failed' }>): Promise<void> {
    this.stopLogs(t);
    const pod = await this.latestPod(t).catch(() => null);
    if (pod?.metadata?.name) await this.fetchLogOnce(t, pod.metadata.name).catch(() => undefined);
    if (t.nodes > 1) await this.fetchRankLogs(t).catch((err) => this.reportError(err, `rank logs of ${t.jobId}`));
    // A multi-node Job fails with its first failed rank: that rank's exit code, and its index in the message.
    const failedRank = t.nodes > 1 && o.phase === 'failed' ? await this.failedRank(t).catch(() => null) : null;
    const exitCode = failedRank?.exitCode ?? exitCodeOf(pod);
    const diverged = exitCode === DIVERGED_EXIT_CODE || (await logHasDivergedLine(t.logPath));
    let result: {
      status: JobOutcome['status'];
      reason: FailureReason | null;
      exitCode: number | null;
      message: string;
    };
    if (o.phase === 'succeeded')
      result = diverged
        ? {
            status: 'failed',
            reason: 'diverged',
            exitCode: exitCode ?? 0,
            message: 'training diverged (DIVERGED in the log)',
          }
        : { status: 'succeeded', reason: null, exitCode: 0, message: 'Job complete' };
    else if (diverged && o.reason !== 'deadline-exceeded')
      result = { status: 'failed', reason: 'diverged', exitCode, message: `training diverged (${o.message})` };
    else
      result = {
        status: 'failed',
        reason: o.reason,
        exitCode,
        message: failedRank ? `rank ${failedRank.rank} of ${t.nodes} failed: ${o.message}` : o.message,
      };
    // The tail that explains a failure is the failed rank's, when its pod's log could be kept.
    const failedLog = failedRank && failedRank.rank > 0 ? rankLogPath(t.logPath, failedRank.rank) : null;
    await this.finishWith(t, result, o.finishedAt, failedLog && existsSync(failedLog) ? failedLog : t.logPath);
  }

  protected async finishWith(
    t: Tracked,
    result: { status: JobOutcome['status']; reason: FailureReason | null; exitCode: number | null; message: string },
    finishedAt: string | null,
    tailFrom: string = t.logPath,
  ): Promise<void> {
    const end = finishedAt ?? this.nowIso();
    this.endRun(t, end);
    // Charged: every admitted run, each from its own start to its own suspension or end (a Job preempted twice held
    // its GPUs three times; the Job object itself only remembers the last start).
    const wallSeconds = t.runs.reduce(
      (sum, r) => sum + Math.max(0, (Date.parse(r.end ?? end) - Date.parse(r.start)) / 1000),
      0,
    );
    const outcome: JobOutcome = {
      ...result,
      wallSeconds: round3(wallSeconds),
      gpuSeconds: round3(t.gpu * wallSeconds),
      gpuCount: t.gpu,
      budgetUnit: 'gpu-seconds',
      logTail: await readLogTail(tailFrom, this.opts.logTailLines ?? 50),
      logPath: existsSync(t.logPath) ? t.logPath : null,
      startedAt: t.startedAt,
      finishedAt: end,
    };
    t.outcome = outcome;
    t.phase = 'finished';
    if (t.nodes > 1) await this.deleteRendezvousService(t);
    this.emit({ type: 'finished', jobId: t.jobId, campaignId: t.campaignId, outcome });
  }

  /**
   * A multi-node Job's headless Service (and NetworkPolicy) has no use once the job ended. Owned by the Job, they go
   * with it anyway (garbage collector: TTL, cancel); this only deletes them sooner. A failure is reported, not fatal.
   */
  protected async deleteRendezvousService(t: Tracked): Promise<void> {
    const name = rendezvousServiceName(t.name);
    const namespace = this.opts.namespace;
    const gone = (what: string) => (err: unknown) => {
      if (statusCode(err) !== 404) this.reportError(err, `deleting the rendezvous ${what} of ${t.jobId}`);
    };
    await this.core.deleteNamespacedService({ name, namespace }).catch(gone('Service'));
    if (this.opts.rendezvousNetworkPolicy)
      await this.networking.deleteNamespacedNetworkPolicy({ name, namespace }).catch(gone('NetworkPolicy'));
  }

  protected endRun(t: Tracked, at: string): void {
    const open = openRun(t);
    if (open) open.end = Date.parse(at) >= Date.parse(open.start) ? at : open.start;
  }

  protected nowIso(): string {
    return new Date(this.opts.now?.() ?? Date.now()).toISOString();
  }

  /**
   * Fails (and deletes) Jobs that have waited suspended or queued longer than the deadline: a LocalQueue that does not
   * exist, a deactivated workload or a quota that never frees would otherwise leave them queued for ever. Measured
   * from the Job's own timestamps (creation, or its last suspension), so a restarted dispatch measures the same wait.
   */
  protected async enforceQueueDeadline(deadlineSeconds: number): Promise<void> {
    const now = this.opts.now?.() ?? Date.now();
    for (const t of [...this.tracked.values()]) {
      if (this.closed) return;
      if ((t.phase !== 'queued' && t.phase !== 'preempted') || t.finishing || t.outcome || !t.waitingSince) continue;
      const waited = (now - Date.parse(t.waitingSince)) / 1000;
      if (!(waited > deadlineSeconds)) continue;
      // The watch may lag: read the Job once more, so one Kueue admitted meanwhile is not deleted under its pod.
      try {
        this.reconcile(
          (await this.batch.readNamespacedJob({ name: t.name, namespace: this.opts.namespace })) as JobObject,
        );
      } catch (err) {
        if (statusCode(err) !== 404) {
          this.reportError(err, `reading ${t.jobId} before its queue deadline`);
          continue;
        }
      }
      if ((t.phase !== 'queued' && t.phase !== 'preempted') || t.finishing || t.outcome) continue;
      t.finishing = true;
      try {
        await this.batch.deleteNamespacedJob({
          name: t.name,
          namespace: this.opts.namespace,
          propagationPolicy: 'Background',
        });
      } catch (err) {
        if (statusCode(err) !== 404) {
          t.finishing = false;
          this.reportError(err, `deleting ${t.jobId} after its queue deadline`);
          continue;
        }
      }
      const what = t.phase === 'preempted' ? 'suspended after a preemption' : 'queued (never admitted)';
      const message =
        `Kubernetes Job ${t.name} waited ${Math.round(waited)} s ${what}, past its queue deadline of ` +
        `${deadlineSeconds} s; ` +
        `check that LocalQueue "${this.opts.queueName}" exists in namespace ${this.opts.namespace} and ` +
        `that its workload is active`;
      await this.finishWith(
        t,
        { status: 'failed', reason: 'queue-timeout', exitCode: null, message },
        new Date(now).toISOString(),
      );
    }
  }
}
