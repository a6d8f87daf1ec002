import type { ServerResponse } from 'node:http';
import { matches, setCondition, type Json } from './fake-kube-json';

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
  authorization: string | undefined;
}

export interface WatchConn {
  res: ServerResponse;
  namespace: string;
  selector: Array<[string, string]>;
  bookmarks: boolean;
  timer: NodeJS.Timeout | null;
}

export interface LogLine {
  ts: string;
  ns: bigint;
  text: string;
}

export interface PodState {
  obj: Json;
  lines: LogLine[];
  followers: Set<{ res: ServerResponse; timestamps: boolean }>;
}

export interface FakeKubeApiOptions {
  /**
   * LocalQueues that exist (Kueue leaves a Job naming another queue suspended for ever); unset → every queue exists.
   */
  localQueues?: string[];
  /**
   * WorkloadPriorityClasses that exist (a Job naming another one gets no workload, so it is never admitted); unset →
   * all.
   */
  workloadPriorityClasses?: string[];
  /**
   * Server-side timeout of a watch that does not ask for one (`timeoutSeconds`). A real API server picks a random
   * 1–2 × `--min-request-timeout` (30–60 min); unset → none.
   */
  defaultWatchTimeoutSeconds?: number;
  /**
   * Sends a BOOKMARK this often to watches that asked with `allowWatchBookmarks` (a real server: about once a minute).
   */
  bookmarkIntervalMs?: number;
  /**
   * Env var names as Kubernetes ≥ 1.34 checks them (RelaxedEnvironmentVariableValidation, GA in 1.34: any printable
   * ASCII but '='); unset → the rule of earlier versions, `[-._a-zA-Z][-._a-zA-Z0-9]*`.
   */
  relaxedEnvVarNames?: boolean;
}

/** The fake cluster's objects, clock, watch history and the bookkeeping every change goes through. */
export abstract class FakeKubeState {
  protected rv = 100;
  /** Watch history up to this resourceVersion is gone: a watch from it or an older version gets 410. */
  protected compactedThrough = 0;
  protected readonly jobs = new Map<string, Json>();
  protected readonly pods = new Map<string, PodState>();
  protected readonly history: Array<{ rv: number; type: string; object: Json }> = [];
  protected readonly watches = new Set<WatchConn>();
  /** ms since epoch; moves only through `advance`, so the times a test asserts are the times it set. */
  protected clock = Date.parse('2030-01-01T00:00:00Z');
  /** Nanoseconds added to log timestamps within one clock ms, so that lines written apart get distinct stamps. */
  protected logSeq = 0;
  protected podSeq = 0;
  protected bookmarkTimer: NodeJS.Timeout | null = null;
  /** Every admitted run of every Job as the cluster saw it (the Job object forgets them: startTime resets). */
  protected readonly runLedger = new Map<string, Array<{ start: number; end: number | null }>>();

  constructor(protected readonly opts: FakeKubeApiOptions = {}) {}

  // ------------------------------------------------------------------ time

  /** The cluster's clock (ms since epoch). */
  nowMs(): number {
    return this.clock;
  }

  /** Moves the cluster's clock forward. */
  advance(seconds: number): void {
    this.clock += seconds * 1000;
    this.logSeq = 0;
  }

  // ------------------------------------------------------------------ internals

  protected now(): string {
    return new Date(this.clock).toISOString().replace(/\.\d+Z$/, 'Z');
  }

  protected bump(): number {
    this.rv += 1;
    return this.rv;
  }

  protected sendBookmark(w: WatchConn): void {
    if (!w.bookmarks || w.res.writableEnded) return;
    w.res.write(
      JSON.stringify({
        type: 'BOOKMARK',
        object: { kind: 'Job', apiVersion: 'batch/v1', metadata: { resourceVersion: String(this.rv) } },
      }) + '\n',
    );
  }

  protected endWatch(w: WatchConn): void {
    if (w.timer) clearTimeout(w.timer);
    w.res.end();
    this.watches.delete(w);
  }

  protected record(type: string, obj: Json): void {
    obj.metadata.resourceVersion = String(this.bump());
    const snapshot = JSON.parse(JSON.stringify(obj));
    this.history.push({ rv: this.rv, type, object: snapshot });
    for (const w of this.watches)
      if (snapshot.metadata.namespace === w.namespace && matches(snapshot, w.selector))
        w.res.write(`${JSON.stringify({ type, object: snapshot })}\n`);
  }

  protected mutateJob<T>(name: string, ns: string, f: (job: Json) => T): T {
    const job = this.jobs.get(`${ns}/${name}`);
    if (!job) throw new Error(`no job ${ns}/${name}`);
    const out = f(job);
    this.record('MODIFIED', job);
    return out;
  }

  /** The Job controller's terminal failure: the interim FailureTarget first, then Failed once no pod runs. */
  protected failJob(job: Json, reason: string, message: string, t: string): void {
    setCondition(job, { type: 'FailureTarget', status: 'True', reason, message, lastTransitionTime: t });
    setCondition(job, { type: 'Failed', status: 'True', reason, message, lastTransitionTime: t });
    this.endRun(job);
  }

  protected endRun(job: Json): void {
    const ledger = this.runLedger.get(`${job.metadata.namespace}/${job.metadata.name}`);
    const open = ledger?.[ledger.length - 1];
    if (open && open.end == null) open.end = this.clock;
  }

  protected createPod(job: Json): string {
    const ns = job.metadata.namespace;
    const name = `${job.metadata.name}-${(++this.podSeq).toString(36).padStart(5, '0')}`;
    const obj = {
      kind: 'Pod',
      apiVersion: 'v1',
      metadata: {
        name,
        namespace: ns,
        creationTimestamp: this.now(),
        labels: {
          ...(job.spec.template?.metadata?.labels ?? {}),
          'batch.kubernetes.io/job-name': job.metadata.name,
          'job-name': job.metadata.name,
        },
      },
      spec: job.spec.template?.spec,
      status: {
        phase: 'Pending',
        containerStatuses: [{ name: 'job', ready: false, state: { waiting: { reason: 'ContainerCreating' } } }],
      },
    };
    this.pods.set(`${ns}/${name}`, { obj, lines: [], followers: new Set() });
    job.status.active = 1;
    job.status.ready = 0;
    return name;
  }

  protected podStates(jobName: string, ns: string): PodState[] {
    return [...this.pods.values()].filter(
      (p) => p.obj.metadata.namespace === ns && p.obj.metadata.labels['batch.kubernetes.io/job-name'] === jobName,
    );
  }

  protected currentPod(jobName: string, ns: string): PodState | undefined {
    const mine = this.podStates(jobName, ns);
    return mine[mine.length - 1];
  }

  /** Deletes the Job's pods that have not finished (finished ones stay, as the Job controller keeps them). */
  protected deletePods(job: Json, all = false): void {
    for (const [key, p] of this.pods)
      if (
        p.obj.metadata.namespace === job.metadata.namespace &&
        p.obj.metadata.labels['batch.kubernetes.io/job-name'] === job.metadata.name
      ) {
        if (!all && (p.obj.status.phase === 'Succeeded' || p.obj.status.phase === 'Failed')) continue;
        for (const f of p.followers) f.res.end();
        this.pods.delete(key);
      }
  }

  protected removeJob(job: Json, propagationPolicy = 'Background'): void {
    this.jobs.delete(`${job.metadata.namespace}/${job.metadata.name}`);
    if (propagationPolicy !== 'Orphan') this.deletePods(job, true);
    this.endRun(job);
    this.record('DELETED', job);
  }
}
