import { appendFileSync, chmodSync, chownSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import type * as K8s from '@kubernetes/client-node';
import { EventDelivery } from '../delivery';
import { planIsolation, prepareOutputs, type IsolationPlan } from '../isolation';
import { DIVERGED_EXIT_CODE, logHasDivergedLine, readLogTail } from '../log-file';
import type {
  CancelResult,
  Executor,
  ExecutorEvent,
  ExecutorJob,
  ExecutorListener,
  FailureReason,
  JobOutcome,
  JobPhase,
  JobView,
  SubmitResult,
} from '../types';
import { loadClientNode } from './client';
import {
  ANNOTATIONS,
  buildJobManifest,
  CONTAINER_NAME,
  DEFAULT_QUEUE_DEADLINE_SECONDS,
  jobIds,
  managedSelector,
  type KubernetesJobConfig,
} from './manifest';
import { gpuCountOf, isoOf, observeJob, suspendedAt, type JobObject, type ObservedJob } from './observe';
import { kubernetesJobName } from './names';
import { assertKubernetesConfig, jobSpecErrors, kubernetesConfigErrors, KubernetesValidationError } from './validate';

export interface KubernetesExecutorOptions extends KubernetesJobConfig {
  kubeConfig: K8s.KubeConfig;
  /** Where dispatch writes each job's log (`<logDir>/<jobId>.log`), usually `<AEVO_HOME>/logs`. */
  logDir: string;
  logTailLines?: number;
  /** Wait before reconnecting a log stream or a failed watch (doubles up to 30 s for the watch). Default 500 ms. */
  reconnectMs?: number;
  /** How often jobs waiting in the queue are checked against `queueDeadlineSeconds`. Default 30 s. */
  queueCheckMs?: number;
  /**
   * `timeoutSeconds` asked of each watch (the server ends it then, and the watch resumes from the last version or
   * BOOKMARK seen), so a silently dead connection is replaced; jittered up to 2×, as client-go's reflector does. Default 300.
   */
  watchTimeoutSeconds?: number;
  /** The clock (ms since epoch) that queue waits are measured with; the cluster's timestamps must be on the same clock. */
  now?: () => number;
  onError?: (err: unknown, context: string) => void;
}

/** Where a log request stands in re-sending lines already written (see writeLogLine). */
interface LogReplay {
  active: boolean;
  /** Lines with the newest written timestamp matched so far. */
  matched: number;
}

/** One admitted run of a Job: from its admission (`status.startTime`) to its suspension or end. */
interface Run {
  start: string;
  end: string | null;
}

interface Tracked {
  jobId: string;
  campaignId: string;
  name: string;
  gpu: number;
  phase: JobPhase;
  attempt: number;
  startedAt: string | null;
  /** Every admitted run seen (Kueue may suspend and resume a Job many times; each resume resets startTime). */
  runs: Run[];
  /** Since when the Job waits suspended or queued (null while it runs). */
  waitingSince: string | null;
  outcome: JobOutcome | null;
  finishing: boolean;
  acknowledged: boolean;
  logPath: string;
  /** Newest log timestamp written (ns since epoch), and the lines written with exactly it, in order (see writeLogLine). */
  lastLogTs: bigint | null;
  linesAtLastTs: string[];
  logPod: string | null;
  logAbort: AbortController | null;
  logFollowing: boolean;
  /** A pod that has ended and whose whole log was read: not asked again while the Job waits for a replacement pod. */
  logDonePod: string | null;
}

interface PodObject {
  metadata?: { name?: string; creationTimestamp?: string | Date };
  status?: {
    phase?: string;
    containerStatuses?: Array<{
      name?: string;
      state?: { terminated?: { exitCode?: number } };
      lastState?: { terminated?: { exitCode?: number } };
    }>;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A wait that does not keep the process alive (for bounded waits during shutdown). */
const idle = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());
const statusCode = (err: unknown): number | undefined => {
  const e = err as { code?: unknown; statusCode?: unknown };
  return typeof e?.code === 'number' ? e.code : typeof e?.statusCode === 'number' ? e.statusCode : undefined;
};

/** "2024-05-01T10:00:00.123456789Z" → ns since epoch (RFC3339Nano drops trailing zeros, so compare as numbers). */
export function parseLogTimestamp(ts: string): bigint | null {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(ts);
  if (!m) return null;
  const secs = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(secs)) return null;
  return BigInt(secs) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

/**
 * Runs jobs as batch/v1 Jobs queued by Kueue. The cluster is the record: every Job carries labels and annotations
 * with the ids it runs, so a restarted dispatch lists its Jobs and picks up where it was. Job state comes from a
 * watch (resumed from the last resourceVersion, relisted on 410 Gone); pod logs are followed into the local log
 * file and reconnected when the stream drops.
 */
export class KubernetesExecutor implements Executor {
  readonly kind = 'kubernetes' as const;
  private readonly batch: K8s.BatchV1Api;
  private readonly core: K8s.CoreV1Api;
  private readonly watcher: K8s.Watch;
  private readonly logClient: K8s.Log;
  private readonly delivery: EventDelivery;
  private readonly tracked = new Map<string, Tracked>();
  private readonly byName = new Map<string, string>();
  /** Jobs whose outcome the owner recorded: forgotten, and not adopted again when their Job shows up (TTL deletion). */
  private readonly acknowledged = new Set<string>();
  private resourceVersion: string | null = null;
  private watchAbort: AbortController | null = null;
  private watchLoopDone: Promise<void> | null = null;
  private recovered: Promise<JobView[]> | null = null;
  private closed = false;
  private queueTimer: NodeJS.Timeout | null = null;
  /** How many times the Job list was read (1 at start, +1 per 410 relist). */
  relists = 0;

  constructor(private readonly opts: KubernetesExecutorOptions) {
    assertKubernetesConfig(opts);
    const k8s = loadClientNode();
    this.batch = opts.kubeConfig.makeApiClient(k8s.BatchV1Api);
    this.core = opts.kubeConfig.makeApiClient(k8s.CoreV1Api);
    this.watcher = new k8s.Watch(opts.kubeConfig);
    this.logClient = new k8s.Log(opts.kubeConfig);
    mkdirSync(opts.logDir, { recursive: true });
    this.delivery = new EventDelivery({ onError: (err) => this.reportError(err, 'listener') });
  }

  on(listener: ExecutorListener): () => void {
    return this.delivery.on(listener);
  }

  drained(): Promise<void> {
    return this.delivery.drained();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  recover(): Promise<JobView[]> {
    this.recovered ??= (async () => {
      await this.relist();
      this.watchLoopDone = this.watchLoop();
      const deadline = this.opts.queueDeadlineSeconds ?? DEFAULT_QUEUE_DEADLINE_SECONDS;
      if (deadline > 0 && !this.closed) {
        this.queueTimer = setInterval(() => void this.enforceQueueDeadline(deadline), this.opts.queueCheckMs ?? 30_000);
        this.queueTimer.unref();
      }
      return this.views();
    })();
    return this.recovered;
  }

  async submit(job: ExecutorJob): Promise<SubmitResult> {
    this.assertOpen();
    await this.recover();
    const { spec } = job;
    const known = this.tracked.get(spec.jobId);
    if (known) return { accepted: false, queuePosition: 0, view: this.toView(known) };
    const t = this.track(spec.jobId, job.campaignId, kubernetesJobName(spec.jobId), spec.resources.gpu);
    let body: Record<string, unknown>;
    try {
      const specErrors = jobSpecErrors(spec);
      if (specErrors.length)
        throw new KubernetesValidationError(`job ${spec.jobId} cannot run as a Kubernetes Job`, specErrors);
      // Dispatch sees AEVO_HOME (sandboxRoot), so it resolves the boundary here and creates the outputs before any
      // pod exists; a spec whose isolation is refused fails without a Job.
      const plan = planIsolation(spec, this.opts.sandboxRoot);
      prepareOutputs(plan);
      grantOutputs(plan, jobIds(this.opts));
      body = buildJobManifest(this.opts, job, plan);
    } catch (err) {
      await this.finishWith(
        t,
        { status: 'failed', reason: 'executor-error', exitCode: null, message: (err as Error).message },
        null,
      );
      return { accepted: true, queuePosition: 0, view: this.toView(t) };
    }
    try {
      const created = (await this.batch.createNamespacedJob({
        namespace: this.opts.namespace,
        body: body as K8s.V1Job,
      })) as JobObject;
      this.reconcile(created);
      return { accepted: true, queuePosition: 0, view: this.toView(t) };
    } catch (err) {
      const code = statusCode(err);
      if (code === 409) {
        // Deterministic name: a Job by this name is this job, created before (a redelivery, or a previous instance).
        const existing = (await this.batch.readNamespacedJob({
          name: t.name,
          namespace: this.opts.namespace,
        })) as JobObject;
        const owner = existing.metadata?.annotations?.[ANNOTATIONS.jobId];
        if (owner !== spec.jobId) {
          this.untrack(t);
          throw new Error(
            `Kubernetes Job ${t.name} exists but belongs to job "${owner ?? '(no aevo annotation)'}", not "${spec.jobId}"`,
          );
        }
        this.reconcile(existing);
        return { accepted: false, queuePosition: 0, view: this.toView(t) };
      }
      if (code !== undefined && code >= 400 && code < 500 && code !== 429) {
        // The API server refused this Job for good (invalid, forbidden, quota): retrying cannot help.
        await this.finishWith(
          t,
          {
            status: 'failed',
            reason: 'executor-error',
            exitCode: null,
            message: `Kubernetes refused Job ${t.name} (HTTP ${code}): ${apiMessage(err)}`,
          },
          null,
        );
        return { accepted: true, queuePosition: 0, view: this.toView(t) };
      }
      this.untrack(t);
      throw err; // transient (5xx, 429, network): the caller retries the same jobId
    }
  }

  async cancel(jobId: string, reason: string): Promise<CancelResult> {
    this.assertOpen();
    await this.recover();
    const t = this.tracked.get(jobId);
    if (!t) return 'not-found';
    if (t.phase === 'finished' || t.outcome) return 'already-finished';
    if (t.finishing) return 'cancelling';
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
        throw err;
      }
    }
    this.stopLogs(t);
    await this.finishWith(t, { status: 'cancelled', reason: null, exitCode: null, message: reason }, this.nowIso());
    return 'cancelling';
  }

  async acknowledge(jobId: string): Promise<void> {
    const t = this.tracked.get(jobId);
    if (!t || t.phase !== 'finished') return;
    t.acknowledged = true;
    this.acknowledged.add(jobId);
    this.untrack(t);
  }

  view(jobId: string): JobView | undefined {
    const t = this.tracked.get(jobId);
    return t ? this.toView(t) : undefined;
  }

  views(): JobView[] {
    return [...this.tracked.values()].map((t) => this.toView(t));
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.queueTimer) clearInterval(this.queueTimer);
    this.watchAbort?.abort();
    for (const t of this.tracked.values()) this.stopLogs(t);
    this.delivery.close();
    // A watch request still waiting for its response headers cannot be aborted through client-node; do not wait on it.
    await Promise.race([this.watchLoopDone?.catch(() => undefined), idle(2000)]);
  }

  // ---------------------------------------------------------------- list + watch

  private async relist(): Promise<void> {
    const list = await this.batch.listNamespacedJob({
      namespace: this.opts.namespace,
      labelSelector: managedSelector(this.opts),
    });
    this.relists++;
    const seen = new Set<string>();
    for (const item of list.items as JobObject[]) {
      const jobId = item.metadata?.annotations?.[ANNOTATIONS.jobId];
      if (jobId) seen.add(jobId);
      this.reconcile(item);
    }
    // Jobs we track that the list no longer has were deleted while no watch was open.
    for (const t of this.tracked.values()) {
      if (seen.has(t.jobId) || t.phase === 'finished' || t.finishing) continue;
      try {
        const job = (await this.batch.readNamespacedJob({ name: t.name, namespace: this.opts.namespace })) as JobObject;
        this.reconcile(job); // created after the list was taken
      } catch (err) {
        if (statusCode(err) === 404)
          this.onDeleted({ metadata: { name: t.name, annotations: { [ANNOTATIONS.jobId]: t.jobId } } });
        else throw err;
      }
    }
    this.resourceVersion = list.metadata?.resourceVersion ?? null;
  }

  private async watchLoop(): Promise<void> {
    let backoff = this.opts.reconnectMs ?? 500;
    while (!this.closed) {
      try {
        if (this.resourceVersion == null) await this.relist();
        const result = await this.watchOnce();
        if (result === 'expired') {
          this.resourceVersion = null; // 410 Gone: the history we asked for is compacted; relist
          await sleep(this.opts.reconnectMs ?? 500);
        }
        if (result === 'error') {
          await sleep(backoff);
          backoff = Math.min(backoff * 2, 30_000);
        } else backoff = this.opts.reconnectMs ?? 500;
      } catch (err) {
        if (this.closed) break;
        this.reportError(err, 'watch');
        if (statusCode(err) === 410) this.resourceVersion = null;
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 30_000);
      }
    }
  }

  private watchOnce(): Promise<'expired' | 'closed' | 'error'> {
    return new Promise((resolveWatch) => {
      let expired = false;
      let failed = false;
      const path = `/apis/batch/v1/namespaces/${encodeURIComponent(this.opts.namespace)}/jobs`;
      const timeout = this.opts.watchTimeoutSeconds ?? 300;
      const query = {
        labelSelector: managedSelector(this.opts),
        resourceVersion: this.resourceVersion ?? undefined,
        allowWatchBookmarks: true,
        timeoutSeconds: Math.max(1, Math.round(timeout * (1 + Math.random()))),
      };
      this.watcher
        .watch(
          path,
          query,
          (type: string, obj: unknown) => {
            const o = obj as JobObject & { code?: number; message?: string };
            if (type === 'ERROR') {
              if (o?.code === 410) expired = true;
              else {
                failed = true;
                this.reportError(new Error(`watch error ${o?.code ?? '?'}: ${o?.message ?? ''}`), 'watch');
              }
              this.watchAbort?.abort();
              return;
            }
            const rv = o?.metadata?.resourceVersion;
            if (rv) this.resourceVersion = rv;
            if (type === 'BOOKMARK') return;
            if (type === 'DELETED') this.onDeleted(o);
            else this.reconcile(o);
          },
          (err: unknown) => {
            if (statusCode(err) === 410) expired = true;
            else if (err && !this.closed && !expired && (err as Error).name !== 'AbortError') {
              failed = true;
              this.reportError(err, 'watch');
            }
            resolveWatch(expired ? 'expired' : failed ? 'error' : 'closed');
          },
        )
        .then((ctrl) => {
          this.watchAbort = ctrl;
          if (this.closed) ctrl.abort();
        })
        .catch((err) => {
          this.reportError(err, 'watch');
          resolveWatch('error');
        });
    });
  }

  // ---------------------------------------------------------------- state

  private track(jobId: string, campaignId: string, name: string, gpu: number): Tracked {
    const t: Tracked = {
      jobId,
      campaignId,
      name,
      gpu,
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

  private untrack(t: Tracked): void {
    this.tracked.delete(t.jobId);
    this.byName.delete(t.name);
  }

  /** The tracked job for a Job object; a managed Job we did not know (created by an earlier instance) is adopted. */
  private trackedFor(job: JobObject): Tracked | null {
    const ann = job.metadata?.annotations ?? {};
    const jobId = ann[ANNOTATIONS.jobId] ?? (job.metadata?.name ? this.byName.get(job.metadata.name) : undefined);
    if (!jobId) return null;
    const known = this.tracked.get(jobId);
    if (known) return known;
    if (this.acknowledged.has(jobId)) return null;
    const campaignId = ann[ANNOTATIONS.campaignId];
    if (!campaignId || !job.metadata?.name) return null;
    const t = this.track(jobId, campaignId, job.metadata.name, gpuCountOf(job));
    // Runs an earlier instance saw end in a preemption: still charged, and the attempt numbering goes on from them.
    t.runs = recordedRuns(ann[ANNOTATIONS.runs], (err) =>
      this.reportError(err, `${ANNOTATIONS.runs} of ${job.metadata?.name}`),
    );
    t.attempt = t.runs.length;
    t.startedAt = t.runs[0]?.start ?? null;
    return t;
  }

  /** Writes the Job's finished runs into its `aevo.dev/runs` annotation (a JSON patch), so a restart still charges them. */
  private async recordRuns(t: Tracked): Promise<void> {
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

  private reconcile(job: JobObject): void {
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

  private markStarted(t: Tracked, startedAt: string | null): void {
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

  private onDeleted(job: JobObject): void {
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

  private async finishFromJob(t: Tracked, o: Extract<ObservedJob, { phase: 'succeeded' | 'failed' }>): Promise<void> {
    this.stopLogs(t);
    const pod = await this.latestPod(t).catch(() => null);
    if (pod?.metadata?.name) await this.fetchLogOnce(t, pod.metadata.name).catch(() => undefined);
    const exitCode = exitCodeOf(pod);
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
    else result = { status: 'failed', reason: o.reason, exitCode, message: o.message };
    await this.finishWith(t, result, o.finishedAt);
  }

  private async finishWith(
    t: Tracked,
    result: { status: JobOutcome['status']; reason: FailureReason | null; exitCode: number | null; message: string },
    finishedAt: string | null,
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
      logTail: await readLogTail(t.logPath, this.opts.logTailLines ?? 50),
      logPath: existsSync(t.logPath) ? t.logPath : null,
      startedAt: t.startedAt,
      finishedAt: end,
    };
    t.outcome = outcome;
    t.phase = 'finished';
    this.emit({ type: 'finished', jobId: t.jobId, campaignId: t.campaignId, outcome });
  }

  private endRun(t: Tracked, at: string): void {
    const open = openRun(t);
    if (open) open.end = Date.parse(at) >= Date.parse(open.start) ? at : open.start;
  }

  private nowIso(): string {
    return new Date(this.opts.now?.() ?? Date.now()).toISOString();
  }

  /**
   * Fails (and deletes) Jobs that have waited suspended or queued longer than the deadline: a LocalQueue that does not
   * exist, a deactivated workload or a quota that never frees would otherwise leave them queued for ever. Measured
   * from the Job's own timestamps (creation, or its last suspension), so a restarted dispatch measures the same wait.
   */
  private async enforceQueueDeadline(deadlineSeconds: number): Promise<void> {
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
        `Kubernetes Job ${t.name} waited ${Math.round(waited)} s ${what}, past its queue deadline of ${deadlineSeconds} s; ` +
        `check that LocalQueue "${this.opts.queueName}" exists in namespace ${this.opts.namespace} and that its workload is active`;
      await this.finishWith(
        t,
        { status: 'failed', reason: 'queue-timeout', exitCode: null, message },
        new Date(now).toISOString(),
      );
    }
  }

  // ---------------------------------------------------------------- logs

  private async latestPod(t: Tracked): Promise<PodObject | null> {
    const pods = await this.core.listNamespacedPod({
      namespace: this.opts.namespace,
      labelSelector: `batch.kubernetes.io/job-name=${t.name}`,
    });
    const items = (pods.items as PodObject[])
      .slice()
      .sort((a, b) =>
        (isoOf(a.metadata?.creationTimestamp) ?? '').localeCompare(isoOf(b.metadata?.creationTimestamp) ?? ''),
      );
    return items[items.length - 1] ?? null;
  }

  /** Follows the running pod's log into the log file; reconnects (deduplicating by timestamp) until the job stops running. */
  private async followLogs(t: Tracked): Promise<void> {
    if (t.logFollowing) return;
    t.logFollowing = true;
    try {
      while (!this.closed && t.phase === 'running' && !t.finishing) {
        const pod = await this.latestPod(t).catch(() => null);
        const podName = pod?.metadata?.name;
        const phase = pod?.status?.phase;
        // A Pending pod has no log yet; an ended one (a failed try, until its replacement exists) is read to its end once.
        if (podName && phase !== 'Pending' && podName !== t.logDonePod) {
          if (podName !== t.logPod) {
            t.logPod = podName; // a new pod (retry, or resumed after preemption) has a log of its own
            t.lastLogTs = null;
            t.linesAtLastTs = [];
          }
          const ended = phase === 'Succeeded' || phase === 'Failed';
          await this.streamLog(t, podName, !ended)
            .then(() => {
              if (ended) t.logDonePod = podName;
            })
            .catch((err) => this.reportError(err, `log of ${t.jobId}`));
        }
        if (!this.closed && t.phase === 'running' && !t.finishing) await sleep(this.opts.reconnectMs ?? 500);
      }
    } finally {
      t.logFollowing = false;
    }
  }

  private fetchLogOnce(t: Tracked, podName: string): Promise<void> {
    if (podName !== t.logPod) {
      t.logPod = podName;
      t.lastLogTs = null;
      t.linesAtLastTs = [];
    }
    return this.streamLog(t, podName, false);
  }

  /** One log request; resolves when the server ends the response, the connection drops or it is aborted. */
  private streamLog(t: Tracked, podName: string, follow: boolean): Promise<void> {
    return new Promise<void>((resolveStream, rejectStream) => {
      let partial = '';
      let settled = false;
      // A request after the first one for this pod starts again at a whole second (sinceTime), so its first lines may be
      // ones already written: `replay` skips exactly those (see writeLogLine).
      const replay: LogReplay = { active: t.lastLogTs != null, matched: 0 };
      const done = () => {
        if (settled) return;
        settled = true;
        if (partial) this.writeLogLine(t, partial, replay);
        partial = '';
        resolveStream();
      };
      const sink = new Writable({
        write: (chunk: Buffer, _enc, cb) => {
          const text = partial + chunk.toString('utf8');
          const lines = text.split('\n');
          partial = lines.pop() ?? '';
          for (const line of lines) this.writeLogLine(t, line, replay);
          cb();
        },
      });
      sink.on('finish', done);
      sink.on('error', done);
      // client-node pipes the response body into the sink; a dropped connection does not end the sink, so watch the source.
      sink.on('pipe', (src) => {
        src.once('error', done);
        src.once('close', done);
      });
      const since =
        t.lastLogTs != null
          ? new Date(Number(t.lastLogTs / 1_000_000_000n) * 1000).toISOString().replace(/\.\d+Z$/, 'Z')
          : undefined;
      this.logClient
        .log(this.opts.namespace, podName, CONTAINER_NAME, sink, { follow, timestamps: true, sinceTime: since })
        .then((ctrl) => {
          t.logAbort = ctrl;
          if (settled || this.closed || t.finishing) ctrl.abort();
        })
        .catch((err) => {
          settled = true;
          rejectStream(err);
        });
    });
  }

  /**
   * Appends one `<RFC3339Nano timestamp> <text>` line of a pod's log, unless a reconnect sent it again. Several lines
   * can share a timestamp (the container runtime stamps every line of one write alike), so a timestamp alone cannot
   * tell a repeat from a new line. The rule: a reconnect (`sinceTime` = the whole second of the newest line written)
   * replays, in the original order, every line from that second on. While replaying, a line older than the newest
   * written timestamp is skipped, and a line with exactly that timestamp is skipped when it is the k-th such line and
   * the k-th line written with that timestamp had the same text (position + timestamp + content). The first line
   * that is neither ends the replay: it and everything after it on this connection are new.
   */
  private writeLogLine(t: Tracked, raw: string, replay: LogReplay): void {
    if (this.closed) return; // the next instance owns the log file now
    const line = raw.replace(/\r$/, '');
    const sp = line.indexOf(' ');
    const ts = sp > 0 ? parseLogTimestamp(line.slice(0, sp)) : null;
    const text = ts != null ? line.slice(sp + 1) : line;
    if (replay.active && ts != null && t.lastLogTs != null) {
      if (ts < t.lastLogTs) return;
      if (ts === t.lastLogTs && t.linesAtLastTs[replay.matched] === text) {
        replay.matched++;
        return;
      }
    }
    replay.active = false;
    if (ts != null) {
      if (t.lastLogTs == null || ts > t.lastLogTs) {
        t.lastLogTs = ts;
        t.linesAtLastTs = [text];
      } else if (ts === t.lastLogTs) t.linesAtLastTs.push(text);
    }
    appendFileSync(t.logPath, `${text}\n`);
  }

  private stopLogs(t: Tracked): void {
    t.logAbort?.abort();
    t.logAbort = null;
  }

  // ---------------------------------------------------------------- misc

  private emit(e: ExecutorEvent): void {
    if (!this.closed) this.delivery.emit(e);
  }

  private toView(t: Tracked): JobView {
    return {
      jobId: t.jobId,
      campaignId: t.campaignId,
      phase: t.phase,
      attempt: t.attempt,
      slot: null,
      handle: `job:${this.opts.namespace}/${t.name}`,
      outcome: t.outcome,
      acknowledged: t.acknowledged,
    };
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('the Kubernetes executor is closed');
  }

  private reportError(err: unknown, context: string): void {
    this.opts.onError?.(err, context);
  }
}

/** The runs in an `aevo.dev/runs` annotation; a malformed one is reported and read as none. */
function recordedRuns(raw: string | undefined, onError: (err: unknown) => void): Run[] {
  if (!raw) return [];
  try {
    const parsed: unknown = JSON.parse(raw);
    if (!Array.isArray(parsed)) throw new Error('not an array');
    return parsed.map((r) => {
      if (!Array.isArray(r) || r.length !== 2 || r.some((x) => typeof x !== 'string' || Number.isNaN(Date.parse(x))))
        throw new Error(`bad run ${JSON.stringify(r)}`);
      return { start: r[0] as string, end: r[1] as string };
    });
  } catch (err) {
    onError(new Error(`ignoring a malformed runs annotation (${(err as Error).message}): ${raw}`));
    return [];
  }
}

const openRun = (t: Tracked): Run | undefined => {
  const last = t.runs[t.runs.length - 1];
  return last && last.end == null ? last : undefined;
};

function exitCodeOf(pod: PodObject | null): number | null {
  const cs =
    pod?.status?.containerStatuses?.find((c) => c.name === CONTAINER_NAME) ?? pod?.status?.containerStatuses?.[0];
  const code = cs?.state?.terminated?.exitCode ?? cs?.lastState?.terminated?.exitCode;
  return typeof code === 'number' ? code : null;
}

function apiMessage(err: unknown): string {
  const body = (err as { body?: unknown }).body;
  if (body && typeof body === 'object' && 'message' in body) return String((body as { message: unknown }).message);
  if (typeof body === 'string') {
    try {
      return String((JSON.parse(body) as { message?: unknown }).message ?? body);
    } catch {
      return body;
    }
  }
  return (err as Error).message;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/**
 * Makes each output directory writable by the job's uid, which owns nothing else on the volume: chowned to it when
 * dispatch runs as root, else opened to everyone (0777) — only this job's pod mounts it writable, other pods can at
 * most see it through a read-only mount.
 */
export function grantOutputs(plan: IsolationPlan, ids: { uid: number; gid: number }): void {
  for (const out of plan.outputs) {
    const st = statSync(out);
    if (st.uid === ids.uid) continue;
    if (process.getuid?.() === 0) chownSync(out, ids.uid, ids.gid);
    else if ((st.mode & 0o777) !== 0o777) chmodSync(out, 0o777);
  }
}

/** Kubernetes executor settings from the environment; throws naming the missing variable. */
export function kubernetesJobConfigFromEnv(env: NodeJS.ProcessEnv = process.env): KubernetesJobConfig {
  const need = (name: string): string => {
    const v = env[name];
    if (!v) throw new Error(`${name} is required when AEVO_EXECUTOR=kubernetes`);
    return v;
  };
  const prio = (name: string) => env[name] || undefined;
  const int = (name: string, dflt: number) => {
    const raw = env[name];
    if (!raw) return dflt;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${name}: expected a non-negative integer, got "${raw}"`);
    return n;
  };
  const id = (name: string): number | undefined => {
    const raw = env[name];
    if (!raw) return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n <= 0)
      throw new Error(`${name}: expected a positive integer (jobs never run as root), got "${raw}"`);
    return n;
  };
  const home = env.AEVO_HOME || '.aevo';
  const cfg: KubernetesJobConfig = {
    namespace: env.AEVO_K8S_NAMESPACE || 'aevo-jobs',
    image: need('AEVO_K8S_IMAGE'),
    queueName: env.AEVO_K8S_QUEUE || 'aevo-training',
    priorityClasses: {
      high: prio('AEVO_K8S_PRIORITY_HIGH'),
      normal: prio('AEVO_K8S_PRIORITY_NORMAL'),
      low: prio('AEVO_K8S_PRIORITY_LOW'),
    },
    pvcClaimName: env.AEVO_K8S_PVC || 'aevo-home',
    sandboxRoot: home,
    mountPath: env.AEVO_K8S_MOUNT_PATH || '/var/lib/aevo',
    backoffLimit: int('AEVO_K8S_BACKOFF_LIMIT', 1),
    ttlSecondsAfterFinished: int('AEVO_K8S_TTL_SECONDS', 86_400),
    serviceAccountName: env.AEVO_K8S_JOB_SERVICE_ACCOUNT || undefined,
    instance: env.AEVO_K8S_INSTANCE || 'default',
    runAsUser: id('AEVO_K8S_JOB_UID'),
    runAsGroup: id('AEVO_K8S_JOB_GID'),
    fsGroup: id('AEVO_K8S_JOB_FS_GROUP'),
    tmpSizeLimit: env.AEVO_K8S_JOB_TMP_SIZE_LIMIT || undefined,
    queueDeadlineSeconds: int('AEVO_K8S_QUEUE_DEADLINE_SECONDS', DEFAULT_QUEUE_DEADLINE_SECONDS),
  };
  const errors = kubernetesConfigErrors(cfg);
  if (errors.length) throw new Error(errors.map((e) => `${ENV_OF_FIELD[e.field] ?? e.field}: ${e.message}`).join('; '));
  return cfg;
}

/** The variable each configuration field is read from (for error messages). */
const ENV_OF_FIELD: Record<string, string> = {
  namespace: 'AEVO_K8S_NAMESPACE',
  image: 'AEVO_K8S_IMAGE',
  queueName: 'AEVO_K8S_QUEUE',
  'priorityClasses.high': 'AEVO_K8S_PRIORITY_HIGH',
  'priorityClasses.normal': 'AEVO_K8S_PRIORITY_NORMAL',
  'priorityClasses.low': 'AEVO_K8S_PRIORITY_LOW',
  pvcClaimName: 'AEVO_K8S_PVC',
  serviceAccountName: 'AEVO_K8S_JOB_SERVICE_ACCOUNT',
  tmpSizeLimit: 'AEVO_K8S_JOB_TMP_SIZE_LIMIT',
  queueDeadlineSeconds: 'AEVO_K8S_QUEUE_DEADLINE_SECONDS',
};
