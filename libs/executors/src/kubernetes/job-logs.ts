import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import type * as K8s from '@kubernetes/client-node';
import { EventDelivery } from '../delivery';
import type { ExecutorEvent, JobView } from '../types';
import { loadClientNode } from './client';
import { CONTAINER_NAME } from './manifest';
import { isoOf } from './observe';
import { assertKubernetesConfig } from './validate';
import { rankLogPath } from '../local/ranks';
import { COMPLETION_INDEX } from './multinode';
import {
  exitCodeOf,
  parseLogTimestamp,
  sleep,
  terminatedOf,
  type KubernetesExecutorOptions,
  type LogReplay,
  type PodObject,
  type Tracked,
} from './tracked';

/**
 * The Kubernetes executor's clients and state, and the following of each Job's pod log into the local log file
 * (reconnected when the stream drops, lines already written not written twice).
 */
export abstract class KubernetesJobLogs {
  protected readonly batch: K8s.BatchV1Api;
  protected readonly core: K8s.CoreV1Api;
  protected readonly networking: K8s.NetworkingV1Api;
  protected readonly watcher: K8s.Watch;
  protected readonly logClient: K8s.Log;
  protected readonly delivery: EventDelivery;
  protected readonly tracked = new Map<string, Tracked>();
  protected readonly byName = new Map<string, string>();
  /** Jobs whose outcome the owner recorded: forgotten, and not adopted again when their Job shows up (TTL deletion). */
  protected readonly acknowledged = new Set<string>();
  protected resourceVersion: string | null = null;
  protected watchAbort: AbortController | null = null;
  protected watchLoopDone: Promise<void> | null = null;
  protected recovered: Promise<JobView[]> | null = null;
  protected closed = false;
  protected queueTimer: NodeJS.Timeout | null = null;
  /** How many times the Job list was read (1 at start, +1 per 410 relist). */
  relists = 0;

  constructor(protected readonly opts: KubernetesExecutorOptions) {
    assertKubernetesConfig(opts);
    const k8s = loadClientNode();
    this.batch = opts.kubeConfig.makeApiClient(k8s.BatchV1Api);
    this.core = opts.kubeConfig.makeApiClient(k8s.CoreV1Api);
    this.networking = opts.kubeConfig.makeApiClient(k8s.NetworkingV1Api);
    this.watcher = new k8s.Watch(opts.kubeConfig);
    this.logClient = new k8s.Log(opts.kubeConfig);
    mkdirSync(opts.logDir, { recursive: true });
    this.delivery = new EventDelivery({ onError: (err) => this.reportError(err, 'listener') });
  }

  // ---------------------------------------------------------------- logs

  protected async latestPod(t: Tracked): Promise<PodObject | null> {
    // A multi-node job's log is rank 0's (the pod of completion index 0); the other ranks' stay with their pods.
    const rank0 = t.nodes > 1 ? `,${COMPLETION_INDEX}=0` : '';
    const pods = await this.core.listNamespacedPod({
      namespace: this.opts.namespace,
      labelSelector: `batch.kubernetes.io/job-name=${t.name}${rank0}`,
    });
    const items = (pods.items as PodObject[])
      .slice()
      .sort((a, b) =>
        (isoOf(a.metadata?.creationTimestamp) ?? '').localeCompare(isoOf(b.metadata?.creationTimestamp) ?? ''),
      );
    return items[items.length - 1] ?? null;
  }

  /**
   * A multi-node Job's other ranks' logs, read once when it ended, each into `<jobId>.rank<i>.log` beside the job log
   * (the local executor's names): the latest pod of each index ≥ 1 that still exists. A pod the Job controller
   * already deleted (the active ranks of a failed Job) has no log left to read; one that cannot be read is reported
   * and skipped — the job's outcome does not depend on them.
   */
  protected async fetchRankLogs(t: Tracked): Promise<number[]> {
    const pods = await this.core.listNamespacedPod({
      namespace: this.opts.namespace,
      labelSelector: `batch.kubernetes.io/job-name=${t.name}`,
    });
    const latest = new Map<number, PodObject>();
    for (const p of pods.items as PodObject[]) {
      const rank = Number(p.metadata?.annotations?.[COMPLETION_INDEX]);
      if (!Number.isInteger(rank) || rank < 1 || rank >= t.nodes || p.status?.phase === 'Pending') continue;
      const known = latest.get(rank);
      const at = (q: PodObject) => isoOf(q.metadata?.creationTimestamp) ?? '';
      if (!known || at(p) > at(known)) latest.set(rank, p);
    }
    const written: number[] = [];
    for (const [rank, pod] of [...latest].sort((a, b) => a[0] - b[0])) {
      try {
        const text = await this.core.readNamespacedPodLog({
          name: pod.metadata!.name!,
          namespace: this.opts.namespace,
          container: CONTAINER_NAME,
        });
        writeFileSync(rankLogPath(t.logPath, rank), String(text ?? ''), { mode: 0o600 });
        written.push(rank);
      } catch (err) {
        this.reportError(err, `log of ${t.jobId} rank ${rank}`);
      }
    }
    return written;
  }

  /** The rank (completion index) and exit code of a multi-node Job's pod that failed first; null when none did. */
  protected async failedRank(t: Tracked): Promise<{ rank: number; exitCode: number } | null> {
    const pods = await this.core.listNamespacedPod({
      namespace: this.opts.namespace,
      labelSelector: `batch.kubernetes.io/job-name=${t.name}`,
    });
    const failed = (pods.items as PodObject[])
      .map((p) => ({
        rank: Number(p.metadata?.annotations?.[COMPLETION_INDEX]),
        exitCode: exitCodeOf(p),
        at: isoOf(terminatedOf(p)?.finishedAt) ?? '',
      }))
      .filter((p) => Number.isInteger(p.rank) && p.exitCode != null && p.exitCode !== 0)
      .sort((a, b) => a.at.localeCompare(b.at) || a.rank - b.rank);
    return failed[0] ? { rank: failed[0].rank, exitCode: failed[0].exitCode! } : null;
  }

  /**
   * Follows the running pod's log into the log file; reconnects (deduplicating by timestamp) until the job stops
   * running.
   */
  protected async followLogs(t: Tracked): Promise<void> {
    if (t.logFollowing) return;
    t.logFollowing = true;
    try {
      while (!this.closed && t.phase === 'running' && !t.finishing) {
        const pod = await this.latestPod(t).catch(() => null);
        const podName = pod?.metadata?.name;
        const phase = pod?.status?.phase;
        // A Pending pod has no log yet; an ended one (a failed try, until its replacement exists) is read to its end
        // once.
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

  protected fetchLogOnce(t: Tracked, podName: string): Promise<void> {
    if (podName !== t.logPod) {
      t.logPod = podName;
      t.lastLogTs = null;
      t.linesAtLastTs = [];
    }
    return this.streamLog(t, podName, false);
  }

  /** One log request; resolves when the server ends the response, the connection drops or it is aborted. */
  protected streamLog(t: Tracked, podName: string, follow: boolean): Promise<void> {
    return new Promise<void>((resolveStream, rejectStream) => {
      let partial = '';
      let settled = false;
      // A request after the first one for this pod starts again at a whole second (sinceTime), so its first lines may
      // be
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
      // client-node pipes the response body into the sink; a dropped connection does not end the sink, so watch the
      // source.
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
  protected writeLogLine(t: Tracked, raw: string, replay: LogReplay): void {
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

  protected stopLogs(t: Tracked): void {
    t.logAbort?.abort();
    t.logAbort = null;
  }

  // ---------------------------------------------------------------- misc

  protected emit(e: ExecutorEvent): void {
    if (!this.closed) this.delivery.emit(e);
  }

  protected toView(t: Tracked): JobView {
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

  protected assertOpen(): void {
    if (this.closed) throw new Error('the Kubernetes executor is closed');
  }

  protected reportError(err: unknown, context: string): void {
    this.opts.onError?.(err, context);
  }
}
