import { isDnsLabel } from '../kubernetes/names';
import { FakeKubeControllers } from './fake-kube-controllers';
import { matchPodFailurePolicy, nsToRfc3339, setCondition, status, type Json } from './fake-kube-json';
import type { PodState } from './fake-kube-state';
import { networkPolicyErrors, serviceErrors } from './fake-kube-validation';

const INDEX = 'batch.kubernetes.io/job-completion-index';

type Send = (code: number, obj: unknown, headers?: Record<string, string | string[]>) => void;

const isIndexed = (job: Json | undefined): boolean => job?.spec?.completionMode === 'Indexed';

/**
 * Indexed Jobs (completionMode Indexed) as the Job controller runs them: one pod per completion index, each with the
 * index in its `batch.kubernetes.io/job-completion-index` annotation and label, the `JOB_COMPLETION_INDEX` variable
 * and the hostname `<job>-<index>`; the Job completes when every index has succeeded, and a failed pod is judged by
 * the podFailurePolicy (FailJob ends the Job and the controller deletes its other active pods). Plus core/v1
 * Services and networking.k8s.io/v1 NetworkPolicies (create, get, list, delete) with the garbage collector's handling
 * of their ownerReferences.
 */
export abstract class FakeKubeIndexed extends FakeKubeControllers {
  protected readonly services = new Map<string, Json>();
  protected readonly networkPolicies = new Map<string, Json>();

  /** A NetworkPolicy as stored (undefined when absent). */
  networkPolicy(name: string, namespace = 'aevo-jobs'): Json | undefined {
    return this.networkPolicies.get(`${namespace}/${name}`);
  }

  /** A Service as stored (undefined when absent). */
  service(name: string, namespace = 'aevo-jobs'): Json | undefined {
    return this.services.get(`${namespace}/${name}`);
  }

  serviceNames(): string[] {
    return [...this.services.values()].map((s) => s.metadata.name);
  }

  /**
   * The container's environment as the kubelet resolves it: values as written, `fieldRef`s read from the pod
   * (`metadata.name`, `metadata.namespace`, `metadata.annotations['…']`, `metadata.labels['…']`).
   */
  resolvedEnv(pod: Json): Record<string, string> {
    const out: Record<string, string> = {};
    for (const e of (pod.spec?.containers?.[0]?.env ?? []) as Json[]) {
      const path: string | undefined = e.valueFrom?.fieldRef?.fieldPath;
      if (path === undefined) out[e.name] = e.value ?? '';
      else if (path === 'metadata.name' || path === 'metadata.namespace') out[e.name] = pod.metadata[path.slice(9)];
      else {
        const m = /^metadata\.(annotations|labels)\['([^']+)'\]$/.exec(path);
        if (!m) throw new Error(`the fake kubelet does not resolve fieldRef ${path}`);
        out[e.name] = pod.metadata[m[1]]?.[m[2]] ?? '';
      }
    }
    return out;
  }

  protected override createPod(job: Json): string {
    if (!isIndexed(job)) return super.createPod(job);
    const done = new Set(this.succeededIndexes(job));
    const names: string[] = [];
    for (let i = 0; i < job.spec.completions; i++) if (!done.has(i)) names.push(this.createIndexedPod(job, i));
    job.status.active = names.length;
    job.status.ready = 0;
    return names[0];
  }

  private createIndexedPod(job: Json, index: number): string {
    const ns = job.metadata.namespace;
    const hostname = `${job.metadata.name}-${index}`;
    // The kubelet could not create a pod whose hostname is not a DNS label: the controller would retry for ever.
    if (!isDnsLabel(hostname)) throw new Error(`pod hostname ${hostname} is not a DNS-1123 label (at most 63)`);
    const name = `${hostname}-${(++this.podSeq).toString(36).padStart(5, '0')}`;
    const spec = structuredClone(job.spec.template?.spec ?? {});
    spec.hostname = hostname;
    for (const c of (spec.containers ?? []) as Json[])
      c.env = [...(c.env ?? []), { name: 'JOB_COMPLETION_INDEX', value: String(index) }];
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
          [INDEX]: String(index),
        },
        annotations: { [INDEX]: String(index) },
      },
      spec,
      status: {
        phase: 'Pending',
        containerStatuses: [{ name: 'job', ready: false, state: { waiting: { reason: 'ContainerCreating' } } }],
      },
    };
    this.pods.set(`${ns}/${name}`, { obj, lines: [], followers: new Set() });
    return name;
  }

  /** Rank `index`'s running pod writes a line to stdout (`log` writes rank 0's). */
  logRank(name: string, index: number, text: string, namespace = 'aevo-jobs'): void {
    const pod = this.rankPod(name, index, namespace);
    if (!pod || pod.obj.status.phase !== 'Running') throw new Error(`job ${name} has no running pod of index ${index}`);
    const ns = BigInt(this.clock) * 1_000_000n + BigInt(++this.logSeq) * 1000n + 123n;
    pod.lines.push({ ts: nsToRfc3339(ns), ns, text });
    for (const f of pod.followers) f.res.write(`${f.timestamps ? `${nsToRfc3339(ns)} ` : ''}${text}\n`);
  }

  /** An Indexed Job's log-bearing pod is the current one of index 0 (what `write` and `log` write to). */
  protected override currentPod(jobName: string, ns: string): PodState | undefined {
    if (!isIndexed(this.jobs.get(`${ns}/${jobName}`))) return super.currentPod(jobName, ns);
    return this.rankPod(jobName, 0, ns);
  }

  private rankPod(jobName: string, index: number, ns: string): PodState | undefined {
    const mine = this.podStates(jobName, ns).filter((p) => p.obj.metadata.annotations?.[INDEX] === String(index));
    return mine[mine.length - 1];
  }

  private succeededIndexes(job: Json): number[] {
    return this.podStates(job.metadata.name, job.metadata.namespace)
      .filter((p) => p.obj.status.phase === 'Succeeded')
      .map((p) => Number(p.obj.metadata.annotations[INDEX]));
  }

  /** The kubelet starts every Pending pod of the Job (of an Indexed Job, all its ranks). */
  override startPod(name: string, namespace = 'aevo-jobs'): void {
    if (!isIndexed(this.jobs.get(`${namespace}/${name}`))) return super.startPod(name, namespace);
    this.mutateJob(name, namespace, (job) => {
      const pending = this.podStates(name, namespace).filter((p) => p.obj.status.phase === 'Pending');
      if (!pending.length) throw new Error(`job ${name} has no Pending pod`);
      for (const p of pending)
        p.obj.status = {
          phase: 'Running',
          startTime: this.now(),
          containerStatuses: [{ name: 'job', ready: true, state: { running: { startedAt: this.now() } } }],
        };
      job.status.ready = (job.status.ready ?? 0) + pending.length;
    });
  }

  override exit(
    name: string,
    exitCode: number,
    opts: { replacement?: 'running' | 'pending' | 'later' } = {},
    namespace = 'aevo-jobs',
  ): void {
    if (isIndexed(this.jobs.get(`${namespace}/${name}`)))
      throw new Error(`job ${name} is Indexed: end each of its pods with exitIndex(name, index, code)`);
    super.exit(name, exitCode, opts, namespace);
  }

  /**
   * The container of the pod of completion index `index` exits. 0: the index succeeds (the Job completes once every
   * index has). Otherwise the podFailurePolicy decides: FailJob fails the Job (FailureTarget, then Failed, reason
   * PodFailurePolicy) and the controller deletes the Job's other active pods; a counted failure beyond backoffLimit
   * fails it with BackoffLimitExceeded; below it, the index gets a replacement pod (Pending).
   */
  exitIndex(name: string, index: number, exitCode: number, namespace = 'aevo-jobs'): void {
    this.mutateJob(name, namespace, (job) => {
      const pod = this.rankPod(name, index, namespace);
      if (!pod || pod.obj.status.phase !== 'Running')
        throw new Error(`job ${name} has no running pod of index ${index}`);
      const t = this.now();
      pod.obj.status = {
        ...pod.obj.status,
        phase: exitCode === 0 ? 'Succeeded' : 'Failed',
        containerStatuses: [
          {
            name: 'job',
            ready: false,
            state: { terminated: { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', finishedAt: t } },
          },
        ],
      };
      for (const f of pod.followers) f.res.end();
      pod.followers.clear();
      job.status.active = Math.max(0, (job.status.active ?? 0) - 1);
      job.status.ready = Math.max(0, (job.status.ready ?? 0) - 1);
      if (exitCode === 0) {
        const done = [...new Set(this.succeededIndexes(job))].sort((a, b) => a - b);
        job.status.succeeded = done.length;
        job.status.completedIndexes = compressIndexes(done);
        if (done.length < job.spec.completions) return;
        job.status.completionTime = t;
        const reached = { status: 'True', reason: 'CompletionsReached', lastTransitionTime: t };
        const message = 'Reached expected number of succeeded pods';
        setCondition(job, { type: 'SuccessCriteriaMet', ...reached, message });
        setCondition(job, { type: 'Complete', ...reached, message });
        this.endRun(job);
        return;
      }
      const rule = matchPodFailurePolicy(job, pod.obj, exitCode);
      if (rule?.action !== 'Ignore') job.status.failed = (job.status.failed ?? 0) + 1;
      const failJob = (reason: string, message: string) => {
        this.deletePods(job); // the controller terminates the other ranks
        job.status.active = 0;
        job.status.ready = 0;
        this.failJob(job, reason, message, t);
      };
      if (rule?.action === 'FailJob')
        return failJob(
          'PodFailurePolicy',
          `Container job for pod ${namespace}/${pod.obj.metadata.name} failed with exit code ${exitCode} ` +
            `matching FailJob rule at index ${rule.index}`,
        );
      if ((job.status.failed ?? 0) > (job.spec.backoffLimit ?? 6))
        return failJob('BackoffLimitExceeded', 'Job has reached the specified backoff limit');
      this.createIndexedPod(job, index);
      job.status.active += 1;
    });
  }

  protected override removeJob(job: Json, propagationPolicy = 'Background'): void {
    super.removeJob(job, propagationPolicy);
    // The garbage collector: dependents go with their owner, or lose the reference under the Orphan policy.
    for (const store of [this.services, this.networkPolicies])
      for (const [key, obj] of store) {
        const refs = (obj.metadata.ownerReferences ?? []) as Json[];
        if (!refs.some((r) => r.uid === job.metadata.uid)) continue;
        if (propagationPolicy === 'Orphan')
          obj.metadata.ownerReferences = refs.filter((r) => r.uid !== job.metadata.uid);
        else store.delete(key);
      }
  }

  /** core/v1 Services and networking.k8s.io/v1 NetworkPolicies: answers the request and returns true when it is one. */
  protected serveOwnedObjects(method: string, path: string, body: unknown, send: Send): boolean {
    const kinds = [
      { re: /^\/api\/v1\/namespaces\/([^/]+)\/services(?:\/([^/]+))?$/, kind: KINDS.service },
      {
        re: /^\/apis\/networking\.k8s\.io\/v1\/namespaces\/([^/]+)\/networkpolicies(?:\/([^/]+))?$/,
        kind: KINDS.networkPolicy,
      },
    ];
    for (const { re, kind } of kinds) {
      const m = re.exec(path);
      if (!m) continue;
      const ns = decodeURIComponent(m[1]);
      const store = kind === KINDS.service ? this.services : this.networkPolicies;
      if (m[2] === undefined) {
        if (method === 'POST') this.createOwned(store, kind, ns, body, send);
        else if (method === 'GET') {
          const items = [...store.values()].filter((o) => o.metadata.namespace === ns);
          const list = { kind: `${kind.kind}List`, apiVersion: kind.apiVersion };
          send(200, { ...list, metadata: { resourceVersion: String(this.rv) }, items });
        } else return false;
        return true;
      }
      const key = `${ns}/${decodeURIComponent(m[2])}`;
      const obj = store.get(key);
      if (!obj) send(404, status(404, 'NotFound', `${kind.plural} "${m[2]}" not found`));
      else if (method === 'GET') send(200, obj);
      else if (method === 'DELETE') {
        store.delete(key);
        this.bump();
        send(200, { ...obj, metadata: { ...obj.metadata, deletionTimestamp: this.now() } });
      } else return false;
      return true;
    }
    return false;
  }

  private createOwned(store: Map<string, Json>, kind: Kind, ns: string, input: unknown, send: Send): void {
    if (!input || typeof input !== 'object' || Array.isArray(input))
      return send(400, status(400, 'BadRequest', 'the body of the request was not a JSON object'));
    const body = structuredClone(input) as Json;
    const causes = kind === KINDS.service ? serviceErrors(body, ns) : networkPolicyErrors(body, ns);
    const name = body.metadata?.name as string | undefined;
    if (causes.length) {
      const what = causes.map((c) => `${c.field}: ${c.message}`);
      const message = `${kind.kind} "${name ?? ''}" is invalid: [${what.join(', ')}]`;
      return send(422, status(422, 'Invalid', message, causes));
    }
    const key = `${ns}/${name}`;
    if (store.has(key)) return send(409, status(409, 'AlreadyExists', `${kind.plural} "${name}" already exists`));
    body.metadata.namespace = ns;
    body.metadata.uid = `uid-${kind.plural}-${name}`;
    body.metadata.creationTimestamp = this.now();
    body.metadata.resourceVersion = String(this.bump());
    if (kind === KINDS.service) {
      body.spec.type ??= 'ClusterIP';
      if (body.spec.clusterIP === 'None') body.spec.clusterIPs = ['None'];
      body.status = { loadBalancer: {} };
    }
    store.set(key, body);
    send(201, body);
  }
}

interface Kind {
  kind: string;
  apiVersion: string;
  plural: string;
}
const KINDS = {
  service: { kind: 'Service', apiVersion: 'v1', plural: 'services' },
  networkPolicy: { kind: 'NetworkPolicy', apiVersion: 'networking.k8s.io/v1', plural: 'networkpolicies' },
} satisfies Record<string, Kind>;

/** `status.completedIndexes`: "0-2,5" for indexes 0, 1, 2 and 5. */
function compressIndexes(sorted: number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}
