import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { loadClientNode } from '../kubernetes/client';
import { isDns1123Label, isDns1123Subdomain, isEnvVarName, isLabelValueString } from '../kubernetes/validate';

/**
 * A loopback Kubernetes API server for tests: speaks the JSON wire protocol of batch/v1 Jobs (create, get, list,
 * delete, watch as newline-delimited JSON with resourceVersion, BOOKMARKs, server-side timeouts, 410 Gone for
 * compacted history) and core/v1 Pods (list, log with follow/timestamps/sinceTime), for @kubernetes/client-node to
 * talk to over http. A created Job is checked against the official OpenAPI schema of batch/v1 Job (the compiled
 * validators of `kubernetes-models`), unknown fields against client-node's generated models, and the name rules of
 * the API server's own validation. The controllers that a real cluster runs are the test's methods: Kueue (`admit`,
 * `resume`, `suspend`), the Job controller (`backoffLimit` retries, `podFailurePolicy`, interim `FailureTarget`),
 * the kubelet (`startPod`, `log`, `write`, `exit`). Its clock moves only through `advance`.
 */

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
  authorization: string | undefined;
}

interface WatchConn {
  res: ServerResponse;
  namespace: string;
  selector: Array<[string, string]>;
  bookmarks: boolean;
  timer: NodeJS.Timeout | null;
}

interface LogLine {
  ts: string;
  ns: bigint;
  text: string;
}

interface PodState {
  obj: Json;
  lines: LogLine[];
  followers: Set<{ res: ServerResponse; timestamps: boolean }>;
}

export interface FakeKubeApiOptions {
  /** LocalQueues that exist (Kueue leaves a Job naming another queue suspended for ever); unset → every queue exists. */
  localQueues?: string[];
  /** WorkloadPriorityClasses that exist (a Job naming another one gets no workload, so it is never admitted); unset → all. */
  workloadPriorityClasses?: string[];
  /**
   * Server-side timeout of a watch that does not ask for one (`timeoutSeconds`). A real API server picks a random
   * 1–2 × `--min-request-timeout` (30–60 min); unset → none.
   */
  defaultWatchTimeoutSeconds?: number;
  /** Sends a BOOKMARK this often to watches that asked with `allowWatchBookmarks` (a real server: about once a minute). */
  bookmarkIntervalMs?: number;
  /**
   * Env var names as Kubernetes ≥ 1.34 checks them (RelaxedEnvironmentVariableValidation, GA in 1.34: any printable
   * ASCII but '='); unset → the rule of earlier versions, `[-._a-zA-Z][-._a-zA-Z0-9]*`.
   */
  relaxedEnvVarNames?: boolean;
}

/** A field error in the shape of metav1.StatusCause. */
interface Cause {
  reason: string;
  field: string;
  message: string;
}

const status = (code: number, reason: string, message: string, causes?: Cause[]) => ({
  kind: 'Status',
  apiVersion: 'v1',
  metadata: {},
  status: 'Failure',
  reason,
  message,
  code,
  ...(causes ? { details: { group: 'batch', kind: 'Job', causes } } : {}),
});

function parseSelector(s: string | undefined): Array<[string, string]> {
  if (!s) return [];
  return s.split(',').map((kv) => {
    const [k, v] = kv.split('=');
    return [k.trim(), (v ?? '').trim()] as [string, string];
  });
}

const matches = (obj: Json, sel: Array<[string, string]>) => sel.every(([k, v]) => obj.metadata?.labels?.[k] === v);
const DEFAULT_BACKOFF_LIMIT = 6; // batch/v1 JobSpec.backoffLimit default

export class FakeKubeApiServer {
  private server: Server | null = null;
  private rv = 100;
  /** Watch history up to this resourceVersion is gone: a watch from it or an older version gets 410. */
  private compactedThrough = 0;
  private readonly jobs = new Map<string, Json>();
  private readonly pods = new Map<string, PodState>();
  private readonly history: Array<{ rv: number; type: string; object: Json }> = [];
  private readonly watches = new Set<WatchConn>();
  /** ms since epoch; moves only through `advance`, so the times a test asserts are the times it set. */
  private clock = Date.parse('2030-01-01T00:00:00Z');
  /** Nanoseconds added to log timestamps within one clock ms, so that lines written apart get distinct stamps. */
  private logSeq = 0;
  private podSeq = 0;
  private bookmarkTimer: NodeJS.Timeout | null = null;
  /** Every admitted run of every Job as the cluster saw it (the Job object forgets them: startTime resets). */
  private readonly runLedger = new Map<string, Array<{ start: number; end: number | null }>>();
  readonly requests: RecordedRequest[] = [];
  /** How an expired resourceVersion is reported: an ERROR event in a 200 stream (usual), or an HTTP 410. */
  expiredAs: 'event' | 'http' = 'event';
  url = '';

  constructor(private readonly opts: FakeKubeApiOptions = {}) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    if (this.opts.bookmarkIntervalMs)
      this.bookmarkTimer = setInterval(() => this.bookmark(), this.opts.bookmarkIntervalMs);
    return this.url;
  }

  async stop(): Promise<void> {
    if (this.bookmarkTimer) clearInterval(this.bookmarkTimer);
    for (const w of this.watches) this.endWatch(w);
    for (const p of this.pods.values()) for (const f of p.followers) f.res.end();
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

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

  // ------------------------------------------------------------------ what a cluster's controllers would do

  job(name: string, namespace = 'aevo-jobs'): Json | undefined {
    return this.jobs.get(`${namespace}/${name}`);
  }

  jobNames(): string[] {
    return [...this.jobs.values()].map((j) => j.metadata.name);
  }

  /** The pods of a Job, oldest first (phase, exit code), as `kubectl get pods -l batch.kubernetes.io/job-name=…` shows them. */
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
        const message = `Container job for pod ${namespace}/${pod.obj.metadata.name} failed with exit code ${exitCode} matching FailJob rule at index ${rule.index}`;
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

  /** Drops the history so that watching from any version seen so far is answered with 410 Gone, and ends open watches. */
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

  // ------------------------------------------------------------------ HTTP

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const query = Object.fromEntries(url.searchParams.entries());
    const raw = await new Promise<string>((r) => {
      let s = '';
      req.on('data', (c) => (s += c));
      req.on('end', () => r(s));
    });
    let body: unknown = undefined;
    if (raw) {
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
      }
    }
    this.requests.push({
      method: req.method ?? 'GET',
      path: url.pathname,
      query,
      body,
      authorization: req.headers.authorization,
    });
    const send = (code: number, obj: unknown, headers: Record<string, string | string[]> = {}) => {
      res.writeHead(code, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(obj));
    };
    let m: RegExpExecArray | null;
    if ((m = /^\/apis\/batch\/v1\/namespaces\/([^/]+)\/jobs$/.exec(url.pathname))) {
      const ns = decodeURIComponent(m[1]);
      if (req.method === 'POST') return this.createJob(ns, body, query, send);
      if (req.method === 'GET' && query.watch === 'true') return this.watch(ns, query, res);
      if (req.method === 'GET') {
        const sel = parseSelector(query.labelSelector);
        const items = [...this.jobs.values()].filter((j) => j.metadata.namespace === ns && matches(j, sel));
        return send(200, {
          kind: 'JobList',
          apiVersion: 'batch/v1',
          metadata: { resourceVersion: String(this.rv) },
          items,
        });
      }
    }
    if ((m = /^\/apis\/batch\/v1\/namespaces\/([^/]+)\/jobs\/([^/]+)$/.exec(url.pathname))) {
      const key = `${decodeURIComponent(m[1])}/${decodeURIComponent(m[2])}`;
      const job = this.jobs.get(key);
      if (!job) return send(404, status(404, 'NotFound', `jobs.batch "${m[2]}" not found`));
      if (req.method === 'GET') return send(200, job);
      if (req.method === 'PATCH') return this.patchJob(job, req.headers['content-type'] ?? '', body, send);
      if (req.method === 'DELETE') {
        const policy = query.propagationPolicy ?? (body as Json | undefined)?.propagationPolicy ?? 'Orphan';
        this.removeJob(job, policy);
        return send(200, {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Success',
          details: { name: m[2], group: 'batch', kind: 'jobs', uid: job.metadata.uid },
        });
      }
    }
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/pods$/.exec(url.pathname)) && req.method === 'GET') {
      const ns = decodeURIComponent(m[1]);
      const sel = parseSelector(query.labelSelector);
      const items = [...this.pods.values()]
        .map((p) => p.obj)
        .filter((p) => p.metadata.namespace === ns && matches(p, sel));
      return send(200, { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: String(this.rv) }, items });
    }
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/log$/.exec(url.pathname)) && req.method === 'GET') {
      const pod = this.pods.get(`${decodeURIComponent(m[1])}/${decodeURIComponent(m[2])}`);
      if (!pod) return send(404, status(404, 'NotFound', `pods "${m[2]}" not found`));
      if (query.container && query.container !== 'job')
        return send(400, status(400, 'BadRequest', `container ${query.container} is not valid for pod ${m[2]}`));
      if (pod.obj.status.phase === 'Pending')
        return send(
          400,
          status(400, 'BadRequest', `container "job" in pod "${m[2]}" is waiting to start: ContainerCreating`),
        );
      const timestamps = query.timestamps === 'true';
      // sinceTime is an RFC3339 time (whole seconds on the wire); the kubelet returns lines stamped at or after it.
      const since = query.sinceTime ? BigInt(Date.parse(query.sinceTime)) * 1_000_000n : null;
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.flushHeaders();
      for (const l of pod.lines)
        if (since == null || l.ns >= since) res.write(`${timestamps ? `${l.ts} ` : ''}${l.text}\n`);
      const running = pod.obj.status?.phase === 'Running';
      if (query.follow === 'true' && running) {
        const f = { res, timestamps };
        pod.followers.add(f);
        res.on('close', () => pod.followers.delete(f));
        return;
      }
      res.end();
      return;
    }
    send(404, status(404, 'NotFound', `the fake API server does not serve ${req.method} ${url.pathname}`));
  }

  /**
   * Create as the API server does it: decode (400 for a wrong type; unknown fields dropped with a `Warning` header,
   * or 400 under `fieldValidation=Strict`), validate (422 with one cause per field), then admission (Kueue's webhook
   * suspends a Job that names a queue).
   */
  private createJob(
    ns: string,
    input: unknown,
    query: Record<string, string>,
    send: (code: number, obj: unknown, headers?: Record<string, string | string[]>) => void,
  ): void {
    if (!input || typeof input !== 'object' || Array.isArray(input))
      return send(400, status(400, 'BadRequest', 'the body of the request was not a JSON object'));
    const body = JSON.parse(JSON.stringify(input)) as Json;
    if (body.apiVersion !== 'batch/v1' || body.kind !== 'Job')
      return send(
        400,
        status(
          400,
          'BadRequest',
          `the API version in the data (${body.apiVersion}) or kind (${body.kind}) does not match the expected batch/v1 Job`,
        ),
      );
    const unknown = stripUnknownFields(body, 'V1Job', '');
    if (unknown.length && query.fieldValidation === 'Strict')
      return send(
        400,
        status(400, 'BadRequest', `strict decoding error: ${unknown.map((f) => `unknown field "${f}"`).join(', ')}`),
      );
    const typeErrors = schemaErrors(body);
    const decodeErrors = typeErrors.filter((e) => e.keyword !== 'required');
    if (decodeErrors.length)
      return send(
        400,
        status(
          400,
          'BadRequest',
          `Job in version "v1" cannot be handled as a Job: ${decodeErrors.map((e) => `${e.field}: ${e.message}`).join('; ')}`,
        ),
      );
    const name = body.metadata?.name as string | undefined;
    const causes: Cause[] = typeErrors.map((e) => ({
      reason: 'FieldValueRequired',
      field: e.field,
      message: 'Required value',
    }));
    causes.push(...validateJob(body, ns, this.opts.relaxedEnvVarNames ?? false));
    if (causes.length) {
      const what = causes.map((c) => `${c.field}: ${c.message}`);
      return send(
        422,
        status(
          422,
          'Invalid',
          `Job.batch "${name ?? ''}" is invalid: ${what.length > 1 ? `[${what.join(', ')}]` : what[0]}`,
          causes,
        ),
      );
    }
    const key = `${ns}/${name}`;
    if (this.jobs.has(key)) return send(409, status(409, 'AlreadyExists', `jobs.batch "${name}" already exists`));
    const job: Json = body;
    job.metadata.namespace = ns;
    job.metadata.uid = `uid-${name}`;
    job.metadata.creationTimestamp = this.now();
    job.spec.backoffLimit ??= DEFAULT_BACKOFF_LIMIT;
    // Kueue's webhook suspends every Job that names a queue until the ClusterQueue admits it.
    job.spec.suspend = job.metadata.labels?.['kueue.x-k8s.io/queue-name'] ? true : (job.spec.suspend ?? false);
    job.status = job.spec.suspend
      ? {
          conditions: [
            {
              type: 'Suspended',
              status: 'True',
              reason: 'JobSuspended',
              message: 'Job suspended',
              lastTransitionTime: this.now(),
            },
          ],
        }
      : {};
    this.jobs.set(key, job);
    this.record('ADDED', job);
    if (!job.spec.suspend) this.admit(name!, {}, ns);
    const warnings = unknown.map((f) => `299 - "unknown field \\"${f}\\""`);
    send(201, this.jobs.get(key), warnings.length ? { warning: warnings } : {});
  }

  /**
   * PATCH of a Job's metadata: JSON patch (`application/json-patch+json`, what client-node sends) or JSON merge patch.
   * Only labels and annotations may change here (the rest of a Job belongs to its controllers in this fake).
   */
  private patchJob(job: Json, contentType: string, patch: unknown, send: (code: number, obj: unknown) => void): void {
    const updated = JSON.parse(JSON.stringify(job)) as Json;
    const type = contentType.split(';')[0].trim();
    try {
      if (type === 'application/json-patch+json') {
        if (!Array.isArray(patch))
          return send(400, status(400, 'BadRequest', 'a JSON patch must be an array of operations'));
        for (const op of patch as Json[]) applyJsonPatchOp(updated, op);
      } else if (type === 'application/merge-patch+json') mergePatch(updated, patch);
      else
        return send(
          415,
          status(
            415,
            'UnsupportedMediaType',
            `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json`,
          ),
        );
    } catch (err) {
      return send(
        422,
        status(422, 'Invalid', `Job.batch "${job.metadata.name}" is invalid: ${(err as Error).message}`),
      );
    }
    const strip = (o: Json) =>
      JSON.stringify({
        ...o,
        metadata: { ...o.metadata, labels: undefined, annotations: undefined, resourceVersion: undefined },
      });
    if (strip(updated) !== strip(job))
      return send(
        422,
        status(422, 'Invalid', 'this fake applies patches to metadata.labels and metadata.annotations only'),
      );
    const bad = Object.entries(updated.metadata.annotations ?? {}).find(([, v]) => typeof v !== 'string');
    if (bad) return send(400, status(400, 'BadRequest', `metadata.annotations[${bad[0]}]: expected a string`));
    job.metadata.labels = updated.metadata.labels;
    job.metadata.annotations = updated.metadata.annotations;
    this.record('MODIFIED', job);
    send(200, job);
  }

  private watch(ns: string, query: Record<string, string>, res: ServerResponse): void {
    const from = query.resourceVersion ? Number(query.resourceVersion) : null;
    const sel = parseSelector(query.labelSelector);
    if (from != null && from <= this.compactedThrough) {
      const gone = status(410, 'Expired', `too old resource version: ${from} (${this.compactedThrough})`);
      if (this.expiredAs === 'http') {
        res.writeHead(410, { 'content-type': 'application/json' });
        res.end(JSON.stringify(gone));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify({ type: 'ERROR', object: gone })}\n`);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders(); // a real API server answers a watch at once, before any event
    const conn: WatchConn = {
      res,
      namespace: ns,
      selector: sel,
      bookmarks: query.allowWatchBookmarks === 'true',
      timer: null,
    };
    if (from != null)
      for (const h of this.history)
        if (h.rv > from && h.object.metadata.namespace === ns && matches(h.object, sel))
          res.write(`${JSON.stringify({ type: h.type, object: h.object })}\n`);
    this.watches.add(conn);
    const timeout = query.timeoutSeconds ? Number(query.timeoutSeconds) : this.opts.defaultWatchTimeoutSeconds;
    if (timeout !== undefined && Number.isFinite(timeout))
      conn.timer = setTimeout(() => {
        // The watch cache sends a bookmark just before it closes a watch at its deadline, then ends the response
        // cleanly (a 200 that simply ends): the client watches again from the last version it saw.
        this.sendBookmark(conn);
        this.endWatch(conn);
      }, timeout * 1000);
    res.on('close', () => {
      if (conn.timer) clearTimeout(conn.timer);
      this.watches.delete(conn);
    });
  }

  // ------------------------------------------------------------------ internals

  private now(): string {
    return new Date(this.clock).toISOString().replace(/\.\d+Z$/, 'Z');
  }

  private bump(): number {
    this.rv += 1;
    return this.rv;
  }

  private sendBookmark(w: WatchConn): void {
    if (!w.bookmarks || w.res.writableEnded) return;
    w.res.write(
      `${JSON.stringify({ type: 'BOOKMARK', object: { kind: 'Job', apiVersion: 'batch/v1', metadata: { resourceVersion: String(this.rv) } } })}\n`,
    );
  }

  private endWatch(w: WatchConn): void {
    if (w.timer) clearTimeout(w.timer);
    w.res.end();
    this.watches.delete(w);
  }

  private record(type: string, obj: Json): void {
    obj.metadata.resourceVersion = String(this.bump());
    const snapshot = JSON.parse(JSON.stringify(obj));
    this.history.push({ rv: this.rv, type, object: snapshot });
    for (const w of this.watches)
      if (snapshot.metadata.namespace === w.namespace && matches(snapshot, w.selector))
        w.res.write(`${JSON.stringify({ type, object: snapshot })}\n`);
  }

  private mutateJob<T>(name: string, ns: string, f: (job: Json) => T): T {
    const job = this.jobs.get(`${ns}/${name}`);
    if (!job) throw new Error(`no job ${ns}/${name}`);
    const out = f(job);
    this.record('MODIFIED', job);
    return out;
  }

  /** The Job controller's terminal failure: the interim FailureTarget first, then Failed once no pod runs. */
  private failJob(job: Json, reason: string, message: string, t: string): void {
    setCondition(job, { type: 'FailureTarget', status: 'True', reason, message, lastTransitionTime: t });
    setCondition(job, { type: 'Failed', status: 'True', reason, message, lastTransitionTime: t });
    this.endRun(job);
  }

  private endRun(job: Json): void {
    const ledger = this.runLedger.get(`${job.metadata.namespace}/${job.metadata.name}`);
    const open = ledger?.[ledger.length - 1];
    if (open && open.end == null) open.end = this.clock;
  }

  private createPod(job: Json): string {
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

  private podStates(jobName: string, ns: string): PodState[] {
    return [...this.pods.values()].filter(
      (p) => p.obj.metadata.namespace === ns && p.obj.metadata.labels['batch.kubernetes.io/job-name'] === jobName,
    );
  }

  private currentPod(jobName: string, ns: string): PodState | undefined {
    const mine = this.podStates(jobName, ns);
    return mine[mine.length - 1];
  }

  /** Deletes the Job's pods that have not finished (finished ones stay, as the Job controller keeps them). */
  private deletePods(job: Json, all = false): void {
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

  private removeJob(job: Json, propagationPolicy = 'Background'): void {
    this.jobs.delete(`${job.metadata.namespace}/${job.metadata.name}`);
    if (propagationPolicy !== 'Orphan') this.deletePods(job, true);
    this.endRun(job);
    this.record('DELETED', job);
  }
}

/** One RFC 6902 operation (add, replace, remove) on a JSON pointer into `doc`. */
function applyJsonPatchOp(doc: Json, op: Json): void {
  if (typeof op?.path !== 'string' || !op.path.startsWith('/'))
    throw new Error(`invalid JSON patch path ${JSON.stringify(op?.path)}`);
  const keys = op.path
    .slice(1)
    .split('/')
    .map((k: string) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
  const last = keys.pop()!;
  let parent: Json = doc;
  for (const k of keys) {
    if (parent[k] == null || typeof parent[k] !== 'object')
      throw new Error(`JSON patch path ${op.path}: ${k} does not exist`);
    parent = parent[k];
  }
  if (op.op === 'add' || op.op === 'replace') {
    if (op.op === 'replace' && !(last in parent)) throw new Error(`JSON patch replace: ${op.path} does not exist`);
    parent[last] = op.value;
  } else if (op.op === 'remove') {
    if (!(last in parent)) throw new Error(`JSON patch remove: ${op.path} does not exist`);
    delete parent[last];
  } else throw new Error(`unsupported JSON patch operation ${JSON.stringify(op.op)}`);
}

/** RFC 7386 merge patch. */
function mergePatch(target: Json, patch: unknown): void {
  if (!patch || typeof patch !== 'object' || Array.isArray(patch)) throw new Error('a merge patch must be an object');
  for (const [k, v] of Object.entries(patch as Json)) {
    if (v === null) delete target[k];
    else if (typeof v === 'object' && !Array.isArray(v)) {
      if (!target[k] || typeof target[k] !== 'object' || Array.isArray(target[k])) target[k] = {};
      mergePatch(target[k], v);
    } else target[k] = v;
  }
}

function setCondition(job: Json, c: Json): void {
  const conditions: Json[] = job.status.conditions ?? [];
  const i = conditions.findIndex((x) => x.type === c.type);
  if (i >= 0) {
    if (conditions[i].status === c.status) c.lastTransitionTime = conditions[i].lastTransitionTime; // no transition
    conditions[i] = { ...c, lastProbeTime: c.lastTransitionTime };
  } else if (c.status === 'True') conditions.push({ ...c, lastProbeTime: c.lastTransitionTime }); // a False condition only updates one that was True
  job.status.conditions = conditions;
}

/** The first podFailurePolicy rule (batch/v1 PodFailurePolicyRule) that matches a pod that exited with `exitCode`. */
function matchPodFailurePolicy(job: Json, pod: Json, exitCode: number): { action: string; index: number } | null {
  const rules: Json[] = job.spec.podFailurePolicy?.rules ?? [];
  const podConditions: Json[] = pod.status?.conditions ?? [];
  for (const [index, rule] of rules.entries()) {
    if (rule.onExitCodes) {
      const r = rule.onExitCodes;
      if (r.containerName && r.containerName !== 'job') continue;
      const inValues = (r.values as number[]).includes(exitCode);
      if (r.operator === 'In' ? inValues : !inValues) return { action: rule.action, index };
    } else if (rule.onPodConditions) {
      if (
        (rule.onPodConditions as Json[]).some((p) =>
          podConditions.some((c) => c.type === p.type && c.status === (p.status ?? 'True')),
        )
      )
        return { action: rule.action, index };
    }
  }
  return null;
}

// ------------------------------------------------------------------ validation on create

interface SchemaError {
  field: string;
  keyword: string;
  message: string;
}

type Validator = ((data: unknown) => boolean) & {
  errors?: Array<{ instancePath: string; keyword: string; params: Json; message?: string }> | null;
};
let jobValidator: Validator | null = null;

/**
 * The official OpenAPI schema of batch/v1 Job, as `kubernetes-models` compiles it (one validator per definition,
 * `io.k8s.api.batch.v1.Job` → `_schemas/IoK8sApiBatchV1Job.js`). That package is an ES module exported for `import`
 * only, so the file is required by path through Node's own loader (Node ≥ 20.19 requires ES modules; jest's does not).
 */
function loadJobValidator(): Validator {
  if (jobValidator) return jobValidator;
  const getBuiltin = (process as unknown as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  const req: NodeJS.Require = getBuiltin
    ? (getBuiltin('node:module') as typeof import('node:module')).createRequire(__filename)
    : require;
  const root = dirname(req.resolve('kubernetes-models/package.json'));
  jobValidator = (req(join(root, '_schemas', 'IoK8sApiBatchV1Job.js')) as { validate: Validator }).validate;
  return jobValidator;
}

const fieldPath = (instancePath: string) =>
  instancePath
    .split('/')
    .filter(Boolean)
    .map((seg) => (/^\d+$/.test(seg) ? `[${seg}]` : `.${seg.replace(/~1/g, '/').replace(/~0/g, '~')}`))
    .join('')
    .replace(/^\./, '');

function schemaErrors(body: Json): SchemaError[] {
  const validate = loadJobValidator();
  if (validate(body)) return [];
  return (validate.errors ?? []).map((e) => {
    const base = fieldPath(e.instancePath);
    if (e.keyword === 'required')
      return {
        field: base ? `${base}.${e.params.missingProperty}` : String(e.params.missingProperty),
        keyword: 'required',
        message: 'Required value',
      };
    return {
      field: base || '(root)',
      keyword: e.keyword,
      message: e.message ?? `${e.keyword} ${JSON.stringify(e.params)}`,
    };
  });
}

/**
 * Removes, and returns the paths of, fields that the batch/v1 Job type does not have, walking client-node's models
 * (generated from the same OpenAPI definitions: `attributeTypeMap` lists each type's JSON fields). The API server's
 * default (`fieldValidation=Warn`) drops them with a warning.
 */
function stripUnknownFields(value: unknown, type: string, path: string): string[] {
  if (value == null || typeof value !== 'object') return [];
  const arrayOf = /^Array<(.+)>$/.exec(type);
  if (arrayOf)
    return Array.isArray(value) ? value.flatMap((v, i) => stripUnknownFields(v, arrayOf[1], `${path}[${i}]`)) : [];
  const mapOf = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (mapOf) return Object.entries(value as Json).flatMap(([k, v]) => stripUnknownFields(v, mapOf[1], `${path}[${k}]`));
  const model = (
    loadClientNode() as unknown as Record<string, { attributeTypeMap?: Array<{ baseName: string; type: string }> }>
  )[type];
  if (!model?.attributeTypeMap) return []; // a scalar, IntOrString, Date or free-form object
  const fields = new Map(model.attributeTypeMap.map((a) => [a.baseName, a.type]));
  const unknown: string[] = [];
  for (const [k, v] of Object.entries(value as Json)) {
    const sub = path ? `${path}.${k}` : k;
    const t = fields.get(k);
    if (t === undefined) {
      unknown.push(sub);
      delete (value as Json)[k];
    } else unknown.push(...stripUnknownFields(v, t, sub));
  }
  return unknown;
}

const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const isLabelKey = (k: string) => {
  const slash = k.lastIndexOf('/');
  const [prefix, name] = slash >= 0 ? [k.slice(0, slash), k.slice(slash + 1)] : [null, k];
  return (prefix === null || isDns1123Subdomain(prefix)) && name.length <= 63 && QUALIFIED_NAME.test(name);
};

/**
 * The part of the API server's ValidateJob / ValidatePodTemplateSpec (pkg/apis/batch/validation,
 * pkg/apis/core/validation) that the OpenAPI schema cannot say: name formats, label syntax, env var names,
 * restartPolicy, podFailurePolicy's requirement of restartPolicy Never, volume mounts, resource limits.
 */
function validateJob(job: Json, ns: string, relaxedEnvVarNames: boolean): Cause[] {
  const causes: Cause[] = [];
  const bad = (field: string, value: unknown, detail: string) =>
    causes.push({ reason: 'FieldValueInvalid', field, message: `Invalid value: ${JSON.stringify(value)}: ${detail}` });
  const name = job.metadata?.name;
  if (!name)
    causes.push({
      reason: 'FieldValueRequired',
      field: 'metadata.name',
      message: 'Required value: name or generateName is required',
    });
  else if (!isDns1123Subdomain(name))
    bad(
      'metadata.name',
      name,
      "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'",
    );
  else if (name.length > 63) bad('metadata.name', name, 'must be no more than 63 characters'); // it becomes the pods' job-name label
  if (job.metadata?.namespace && job.metadata.namespace !== ns)
    bad('metadata.namespace', job.metadata.namespace, 'does not match the namespace of the request');
  if (!isDns1123Label(ns)) bad('metadata.namespace', ns, 'a lowercase RFC 1123 label');
  const labels = (at: string, l: Json | undefined) => {
    for (const [k, v] of Object.entries(l ?? {})) {
      if (!isLabelKey(k))
        bad(
          `${at}`,
          k,
          "name part must consist of alphanumeric characters, '-', '_' or '.' (at most 63), with an optional DNS subdomain prefix",
        );
      if (typeof v !== 'string' || !isLabelValueString(v))
        bad(
          `${at}`,
          v,
          "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.' (at most 63)",
        );
    }
  };
  labels('metadata.labels', job.metadata?.labels);
  const spec = job.spec ?? {};
  if (spec.backoffLimit !== undefined && spec.backoffLimit < 0)
    bad('spec.backoffLimit', spec.backoffLimit, 'must be greater than or equal to 0');
  if (spec.activeDeadlineSeconds !== undefined && spec.activeDeadlineSeconds <= 0)
    bad('spec.activeDeadlineSeconds', spec.activeDeadlineSeconds, 'must be greater than 0');
  if (spec.ttlSecondsAfterFinished !== undefined && spec.ttlSecondsAfterFinished < 0)
    bad('spec.ttlSecondsAfterFinished', spec.ttlSecondsAfterFinished, 'must be greater than or equal to 0');
  labels('spec.template.metadata.labels', spec.template?.metadata?.labels);
  const pod = spec.template?.spec ?? {};
  if (!['Never', 'OnFailure'].includes(pod.restartPolicy))
    causes.push({
      reason: 'FieldValueNotSupported',
      field: 'spec.template.spec.restartPolicy',
      message: `Unsupported value: "${pod.restartPolicy}": supported values: "OnFailure", "Never"`,
    });
  if (spec.podFailurePolicy && pod.restartPolicy !== 'Never')
    bad(
      'spec.template.spec.restartPolicy',
      pod.restartPolicy,
      'only "Never" is supported when podFailurePolicy is specified',
    );
  const volumes = new Set<string>(((pod.volumes ?? []) as Json[]).map((v) => v.name));
  for (const [i, v] of ((pod.volumes ?? []) as Json[]).entries())
    if (!isDns1123Label(v.name)) bad(`spec.template.spec.volumes[${i}].name`, v.name, 'a lowercase RFC 1123 label');
  const containerNames = new Set<string>();
  for (const [i, c] of ((pod.containers ?? []) as Json[]).entries()) {
    const at = `spec.template.spec.containers[${i}]`;
    if (!isDns1123Label(c.name)) bad(`${at}.name`, c.name, 'a lowercase RFC 1123 label');
    if (containerNames.has(c.name))
      causes.push({ reason: 'FieldValueDuplicate', field: `${at}.name`, message: `Duplicate value: "${c.name}"` });
    containerNames.add(c.name);
    if (!c.image) causes.push({ reason: 'FieldValueRequired', field: `${at}.image`, message: 'Required value' });
    const envNameOk = (n: unknown) =>
      relaxedEnvVarNames
        ? typeof n === 'string' && /^[\x20-\x3c\x3e-\x7e]+$/.test(n)
        : typeof n === 'string' && isEnvVarName(n);
    for (const [j, e] of ((c.env ?? []) as Json[]).entries())
      if (!envNameOk(e.name))
        bad(
          `${at}.env[${j}].name`,
          e.name,
          "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit",
        );
    const seen = new Set<string>();
    for (const [j, m] of ((c.volumeMounts ?? []) as Json[]).entries()) {
      const mat = `${at}.volumeMounts[${j}]`;
      if (!volumes.has(m.name))
        causes.push({ reason: 'FieldValueNotFound', field: `${mat}.name`, message: `Not found: "${m.name}"` });
      if (seen.has(m.mountPath)) bad(`${mat}.mountPath`, m.mountPath, 'must be unique');
      seen.add(m.mountPath);
      if (m.subPath !== undefined && (m.subPath.startsWith('/') || m.subPath.split('/').includes('..')))
        bad(`${mat}.subPath`, m.subPath, "must be a relative path without '..'");
    }
    const limits: Json = c.resources?.limits ?? {};
    const requests: Json = c.resources?.requests ?? {};
    for (const [res, q] of Object.entries(requests)) {
      if (
        res.includes('/') &&
        !res.startsWith('kubernetes.io/') &&
        limits[res] !== undefined &&
        String(limits[res]) !== String(q)
      )
        bad(`${at}.resources.requests[${res}]`, q, `must be equal to ${res} limit of ${limits[res]}`); // extended resources are not overcommitted
    }
  }
  return causes;
}

function nsToRfc3339(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const base = new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d+Z$/, '');
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return `${base}${frac ? `.${frac}` : ''}Z`;
}
