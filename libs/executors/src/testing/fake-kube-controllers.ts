import { FakeKubeState } from './fake-kube-state';
import { nsToRfc3339, setCondition, matchPodFailurePolicy, DEFAULT_BACKOFF_LIMIT, type Json } from './fake-kube-json';

/** What a real cluster's controllers would do (Kueue, the Job controller, the kubelet), as the test's methods. */
export abstract class FakeKubeControllers extends FakeKubeState {
  // ------------------------------------------------------------------ what a cluster's controllers would do

  job(name: string, namespace = 'aevo-jobs'): Json | undefined {
    return this.jobs.get(`${namespace}/${name}`);
  }

  jobNames(): string[] {
    return [...this.jobs.values()].map((j) => j.metadata.name);
  }

  /**
   * The pods of a Job, oldest first (phase, exit code), as `kubectl get pods -l batch.kubernetes.io/job-name=…` shows
   * them.
   */
  podsOf(name: string, namespace = 'aevo-jobs'): Json[] {
    return this.podStates(name, namespace).map((p) => p.obj);
  }

  /** Seconds of every admitted run of a Job (admission → suspension or end), as the cluster ran them. */
  runSeconds(name: string, namespace = 'aevo-jobs'): number[] {
    return (this.runLedger.get(`${namespace}/${name}`) ?? []).map((r) => ((r.end ?? this.clock) - r.start) / 1000);
  }

  /**
   * Kueue admits the Job (`suspend: false`, as its RunWithPodSetsInfo does); the Job controller sets
   * `status.startTime`, flips the `Suspended` condition to False (JobResumed) and creates a pod, Pending until the
   * kubelet starts it (`startPod`; `admit` does that at once unless `pending`). Refused, as Kueue would leave the
   * workload pending, when the Job names a LocalQueue or WorkloadPriorityClass that does not exist.
   */
  admit(name: string, opts: { pending?: boolean } = {}, namespace = 'aevo-jobs'): string {
    const job = this.jobs.get(`${namespace}/${name}`);
    if (!job) throw new Error(`no job ${namespace}/${name}`);
    const queue = job.metadata.labels?.['kueue.x-k8s.io/queue-name'];
    if (queue && this.opts.localQueues && !this.opts.localQueues.includes(queue))
      throw new Error(
        `Kueue cannot admit ${name}: LocalQueue ${namespace}/${queue} does not exist (the workload stays pending)`,
      );
    const priority = job.metadata.labels?.['kueue.x-k8s.io/priority-class'];
    if (priority && this.opts.workloadPriorityClasses && !this.opts.workloadPriorityClasses.includes(priority))
      throw new Error(
        `Kueue cannot admit ${name}: WorkloadPriorityClass ${priority} not found (no workload is created)`,
      );
    if (!job.spec.suspend && (job.status.active ?? 0) > 0)
      throw new Error(`job ${name} is already admitted and running`);
    const pod = this.mutateJob(name, namespace, (j) => {
      j.spec.suspend = false;
      j.status.startTime = this.now(); // the Job controller starts the activeDeadlineSeconds clock afresh
      setCondition(j, {
        type: 'Suspended',
        status: 'False',
        reason: 'JobResumed',
        message: 'Job resumed',
        lastTransitionTime: this.now(),
      });
      const ledger = this.runLedger.get(`${namespace}/${name}`) ?? [];
      ledger.push({ start: this.clock, end: null });
      this.runLedger.set(`${namespace}/${name}`, ledger);
      return this.createPod(j);
    });
    if (!opts.pending) this.startPod(name, namespace);
    return pod;
  }

  /** Kueue re-admits a preempted Job: the same as `admit` (a real cluster does not tell the two apart). */
  resume(name: string, opts: { pending?: boolean } = {}, namespace = 'aevo-jobs'): string {
    return this.admit(name, opts, namespace);
  }

  /** The kubelet starts the Job's Pending pod: Running, ready. */
  startPod(name: string, namespace = 'aevo-jobs'): void {
    this.mutateJob(name, namespace, (job) => {
      const pod = this.currentPod(name, namespace);
      if (!pod || pod.obj.status.phase !== 'Pending') throw new Error(`job ${name} has no Pending pod`);
      pod.obj.status = {
        phase: 'Running',
        startTime: this.now(),
        containerStatuses: [{ name: 'job', ready: true, state: { running: { startedAt: this.now() } } }],
      };
      job.status.ready = 1;
    });
  }

  /** The pod writes a line to stdout. */
  log(name: string, text: string, namespace = 'aevo-jobs'): void {
    this.write(name, `${text}\n`, {}, namespace);
  }

  /**
   * The pod writes `chunk` in one write(2): the container runtime stamps every line of one read with the same time
   * (CRI log format), so several lines share a timestamp.
   */
  write(name: string, chunk: string, opts: { sameTimestampAsPrevious?: boolean } = {}, namespace = 'aevo-jobs'): void {
    const pod = this.currentPod(name, namespace);
    if (!pod || pod.obj.status.phase !== 'Running') throw new Error(`job ${name} has no running pod`);
    // sameTimestampAsPrevious: the rest of one write whose first lines were already sent (a burst cut by a disconnect).
    const previous = pod.lines[pod.lines.length - 1];
    const ns =
      opts.sameTimestampAsPrevious && previous
        ? previous.ns
        : BigInt(this.clock) * 1_000_000n + BigInt(++this.logSeq) * 1000n + 123n;
    const ts = nsToRfc3339(ns);
    const texts = chunk.split('\n');
    if (texts[texts.length - 1] === '') texts.pop();
    for (const text of texts) {
      pod.lines.push({ ts, ns, text });
      for (const f of pod.followers) f.res.write(`${f.timestamps ? `${ts} ` : ''}${text}\n`);
    }
  }

  /**
   * The container exits. 0: the Job completes (`SuccessCriteriaMet`, then `Complete`). Otherwise the Job's
   * `podFailurePolicy` is applied as the Job controller does (first matching rule: FailJob / Ignore / Count), and a
   * counted failure beyond `backoffLimit` fails the Job (`FailureTarget`, then `Failed`, reason
   * BackoffLimitExceeded); below it, `status.failed` grows and a replacement pod is created, Pending until started
   * (`replacement: 'running'` starts it; `'later'` leaves the Job with no active pod, as during the controller's
   * exponential back-off, until `replacePod`).
   */
  exit(
    name: string,
    exitCode: number,
    opts: { replacement?: 'running' | 'pending' | 'later' } = {},
    namespace = 'aevo-jobs',
  ): void {
    let retry = false;
    this.mutateJob(name, namespace, (job) => {
      const pod = this.currentPod(name, namespace);
      if (!pod || pod.obj.status.phase !== 'Running') throw new Error(`job ${name} has no running pod`);
      pod.obj.status = {
        ...pod.obj.status,
        phase: exitCode === 0 ? 'Succeeded' : 'Failed',
        containerStatuses: [
          {
            name: 'job',
            ready: false,
            state: { terminated: { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', finishedAt: this.now() } },
          },
        ],
      };
      for (const f of pod.followers) f.res.end();
      pod.followers.clear();
      job.status.active = 0;
      job.status.ready = 0;
      const t = this.now();
      if (exitCode === 0) {
        job.status.succeeded = (job.status.succeeded ?? 0) + 1;
        job.status.completionTime = t;
        setCondition(job, {
          type: 'SuccessCriteriaMet',
          status: 'True',
          reason: 'CompletionsReached',
          message: 'Reached expected number of succeeded pods',
          lastTransitionTime: t,
        });
        setCondition(job, {
          type: 'Complete',
          status: 'True',
          reason: 'CompletionsReached',
          message: 'Reached expected number of succeeded pods',
          lastTransitionTime: t,
        });
        this.endRun(job);
        return;
      }
      const rule = matchPodFailurePolicy(job, pod.obj, exitCode);
      if (rule?.action === 'FailJob') {
        job.status.failed = (job.status.failed ?? 0) + 1;
        const message =
          `Container job for pod ${namespace}/${pod.obj.metadata.name} failed with exit code ${exitCode} ` +
          `matching FailJob rule at index ${rule.index}`;
        this.failJob(job, 'PodFailurePolicy', message, t);
        return;
      }
      if (rule?.action !== 'Ignore') job.status.failed = (job.status.failed ?? 0) + 1;
      if ((job.status.failed ?? 0) > (job.spec.backoffLimit ?? DEFAULT_BACKOFF_LIMIT)) {
        this.failJob(job, 'BackoffLimitExceeded', 'Job has reached the specified backoff limit', t);
        return;
      }
      retry = true;
    });
    if (!retry || opts.replacement === 'later') return;
    this.replacePod(name, namespace); // the interim state (failed+1, active 0) was its own event
    if (opts.replacement === 'running') this.startPod(name, namespace);
  }

  /** The Job controller's back-off after a failed pod has passed: it creates the replacement pod (Pending). */
  replacePod(name: string, namespace = 'aevo-jobs'): void {
    this.mutateJob(name, namespace, (job) => {
      if ((job.status.active ?? 0) > 0 || job.spec.suspend)
        throw new Error(`job ${name} has an active pod or is suspended`);
      this.createPod(job);
    });
  }

  /**
   * Kueue preempts (its Job integration's Stop): `spec.suspend = true` and `status.startTime` cleared; the Job
   * controller deletes the active pods (not counted as failures) and sets `Suspended` True (JobSuspended).
   */
  suspend(name: string, namespace = 'aevo-jobs'): void {
    this.mutateJob(name, namespace, (job) => {
      job.spec.suspend = true;
      delete job.status.startTime;
      job.status.active = 0;
      job.status.ready = 0;
      setCondition(job, {
        type: 'Suspended',
        status: 'True',
        reason: 'JobSuspended',
        message: 'Job suspended',
        lastTransitionTime: this.now(),
      });
      this.deletePods(job);
      this.endRun(job);
    });
  }

  /** The Job controller fails the Job on activeDeadlineSeconds. */
  exceedDeadline(name: string, namespace = 'aevo-jobs'): void {
    this.mutateJob(name, namespace, (job) => {
      job.status.active = 0;
      job.status.ready = 0;
      this.deletePods(job);
      this.failJob(job, 'DeadlineExceeded', 'Job was active longer than specified deadline', this.now());
    });
  }

  /** Deleted by someone else (kubectl, TTL controller). */
  deleteJob(name: string, namespace = 'aevo-jobs'): void {
    const job = this.jobs.get(`${namespace}/${name}`);
    if (!job) throw new Error(`no job ${name}`);
    this.removeJob(job);
  }

  /**
   * Drops the history so that watching from any version seen so far is answered with 410 Gone, and ends open watches.
   */
  expireWatches(): void {
    this.compactedThrough = this.rv;
    this.bump(); // the current version (what a relist returns) stays valid
    for (const w of this.watches) this.endWatch(w);
  }

  /** Compacts the history up to (and including) a resourceVersion without ending open watches. */
  compactThrough(resourceVersion: number): void {
    this.compactedThrough = Math.max(this.compactedThrough, resourceVersion);
  }

  /** The current resourceVersion. */
  resourceVersion(): number {
    return this.rv;
  }

  /**
   * Other objects change (the resourceVersion moves) without any event for the watched selector: what makes a watch's
   * last seen version fall behind and a BOOKMARK useful.
   */
  unrelatedWrites(n: number): void {
    for (let i = 0; i < n; i++) this.bump();
  }

  /**
   * A BOOKMARK to every watch that asked for them (`allowWatchBookmarks=true`): an object of the watched kind holding
   * only `metadata.resourceVersion`, the newest version the server has processed.
   */
  bookmark(): void {
    for (const w of this.watches) this.sendBookmark(w);
  }

  /** Ends open follow streams of pod logs (a dropped connection). */
  dropLogStreams(): void {
    for (const p of this.pods.values()) {
      for (const f of p.followers) f.res.end();
      p.followers.clear();
    }
  }

  openWatches(): number {
    return this.watches.size;
  }

  openLogStreams(): number {
    let n = 0;
    for (const p of this.pods.values()) n += p.followers.size;
    return n;
  }
}
