import { chmodSync, chownSync, statSync } from 'node:fs';
import { planIsolation, prepareOutputs, type IsolationPlan } from '../isolation';
import type { CancelResult, Executor, ExecutorJob, ExecutorListener, JobView, SubmitResult } from '../types';
import type * as K8s from '@kubernetes/client-node';
import { jobNodes } from '@aevo/contracts';
import { ANNOTATIONS, DEFAULT_QUEUE_DEADLINE_SECONDS, jobIds, managedSelector } from './manifest';
import {
  buildRendezvousNetworkPolicy,
  buildRendezvousService,
  jobManifestFor,
  jobNameOf,
  networkPolicyForClient,
} from './multinode';
import { type JobObject } from './observe';
import { jobSpecErrors, KubernetesValidationError } from './validate';
import { KubernetesJobTracker } from './job-tracker';
import { apiMessage, idle, sleep, statusCode, type Tracked } from './tracked';

// Types and settings that are part of the executor's public surface.
export { parseLogTimestamp, type KubernetesExecutorOptions } from './tracked';
export { kubernetesJobConfigFromEnv } from './config-from-env';

/**
 * Runs jobs as batch/v1 Jobs queued by Kueue. The cluster is the record: every Job carries labels and annotations
 * with the ids it runs, so a restarted dispatch lists its Jobs and picks up where it was. Job state comes from a
 * watch (resumed from the last resourceVersion, relisted on 410 Gone); pod logs are followed into the local log
 * file and reconnected when the stream drops.
 */
export class KubernetesExecutor extends KubernetesJobTracker implements Executor {
  readonly kind = 'kubernetes' as const;

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
    const nodes = jobNodes(spec.resources);
    const t = this.track(spec.jobId, job.campaignId, jobNameOf(spec), spec.resources.gpu * nodes, nodes);
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
      body = jobManifestFor(this.opts, job, plan);
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
      if (nodes > 1 && !(await this.ensureRendezvousService(t, created)))
        return { accepted: true, queuePosition: 0, view: this.toView(t) };
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
            `Kubernetes Job ${t.name} exists but belongs to job "${owner ?? '(no aevo annotation)'}", not ` +
              `"${spec.jobId}"`,
          );
        }
        if (nodes > 1 && !(await this.ensureRendezvousService(t, existing)))
          return { accepted: false, queuePosition: 0, view: this.toView(t) };
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

  /**
   * Creates a multi-node Job's headless Service once the Job exists (owned by the Job's uid, so deleting the Job
   * deletes it). Kueue holds the Job suspended until admission, so the Service is there before any rank starts. A
   * Service that exists already is this Job's (a redelivered submit). When it cannot be created, the Job is deleted
   * and the job fails: its ranks could never find each other.
   */
  private async ensureRendezvousService(t: Tracked, created: JobObject): Promise<boolean> {
    const uid = created.metadata?.uid;
    try {
      if (!uid) throw new Error(`the API server returned Job ${t.name} without a uid`);
      const owner = { metadata: { name: t.name, uid, labels: created.metadata?.labels } };
      const namespace = this.opts.namespace;
      const exists = (err: unknown) => {
        if (statusCode(err) !== 409) throw err; // already there: this Job's, from a submit before
      };
      await this.core
        .createNamespacedService({ namespace, body: buildRendezvousService(this.opts, owner) as K8s.V1Service })
        .catch(exists);
      if (this.opts.rendezvousNetworkPolicy)
        await this.networking
          .createNamespacedNetworkPolicy({
            namespace,
            body: networkPolicyForClient(buildRendezvousNetworkPolicy(this.opts, owner)) as K8s.V1NetworkPolicy,
          })
          .catch(exists);
      return true;
    } catch (err) {
      t.finishing = true;
      await this.batch
        .deleteNamespacedJob({ name: t.name, namespace: this.opts.namespace, propagationPolicy: 'Background' })
        .catch((e) => statusCode(e) === 404 || this.reportError(e, `deleting ${t.name} without its Service`));
      const code = statusCode(err);
      const why = code !== undefined ? `HTTP ${code}: ${apiMessage(err)}` : (err as Error).message;
      await this.finishWith(
        t,
        {
          status: 'failed',
          reason: 'executor-error',
          exitCode: null,
          message: `cannot create the rendezvous Service or NetworkPolicy of multi-node Job ${t.name} (${why})`,
        },
        null,
      );
      return false;
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
      // A dispatch that stopped between creating a multi-node Job and its Service: the Service is made now.
      const t = jobId ? this.tracked.get(jobId) : undefined;
      if (t && t.nodes > 1 && t.phase !== 'finished' && !t.finishing) await this.ensureRendezvousService(t, item);
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
}

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
