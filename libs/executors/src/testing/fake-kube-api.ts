import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback Kubernetes API server for tests: speaks the JSON wire protocol of batch/v1 Jobs (create, get, list,
 * delete, watch as newline-delimited JSON with resourceVersion, 410 Gone for compacted history) and core/v1 Pods
 * (list, log with follow/timestamps/sinceTime), for @kubernetes/client-node to talk to over http. The controllers
 * that a real cluster runs (Job controller, Kueue, kubelet) are the test's methods: `admit`, `log`, `exit`,
 * `suspend`, `resume`, `exceedDeadline`.
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

const status = (code: number, reason: string, message: string) => ({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason, message, code });

function parseSelector(s: string | undefined): Array<[string, string]> {
  if (!s) return [];
  return s.split(',').map((kv) => {
    const [k, v] = kv.split('=');
    return [k.trim(), (v ?? '').trim()] as [string, string];
  });
}

const matches = (obj: Json, sel: Array<[string, string]>) => sel.every(([k, v]) => obj.metadata?.labels?.[k] === v);

export class FakeKubeApiServer {
  private server: Server | null = null;
  private rv = 100;
  /** Watch history up to this resourceVersion is gone: a watch from it or an older version gets 410. */
  private compactedThrough = 0;
  private readonly jobs = new Map<string, Json>();
  private readonly pods = new Map<string, PodState>();
  private readonly history: Array<{ rv: number; type: string; object: Json }> = [];
  private readonly watches = new Set<WatchConn>();
  private clock = Date.parse('2030-01-01T00:00:00Z');
  readonly requests: RecordedRequest[] = [];
  /** How an expired resourceVersion is reported: an ERROR event in a 200 stream (usual), or an HTTP 410. */
  expiredAs: 'event' | 'http' = 'event';
  url = '';

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    for (const w of this.watches) w.res.end();
    for (const p of this.pods.values()) for (const f of p.followers) f.res.end();
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  // ------------------------------------------------------------------ what a cluster's controllers would do

  job(name: string, namespace = 'aevo-jobs'): Json | undefined {
    return this.jobs.get(`${namespace}/${name}`);
  }

  jobNames(): string[] {
    return [...this.jobs.values()].map((j) => j.metadata.name);
  }

  /** Kueue admits (unsuspends) the Job; the Job controller creates a running pod. */
  admit(name: string, namespace = 'aevo-jobs'): string {
    return this.mutateJob(name, namespace, (job) => {
      job.spec.suspend = false;
      job.status.conditions = (job.status.conditions ?? []).filter((c: Json) => c.type !== 'Suspended');
      job.status.startTime = this.now();
      job.status.active = 1;
      return this.createPod(job);
    });
  }

  /** The pod writes a line to stdout. */
  log(name: string, text: string, namespace = 'aevo-jobs'): void {
    const pod = this.currentPod(name, namespace);
    if (!pod) throw new Error(`job ${name} has no pod`);
    const ns = BigInt(this.tick()) * 1_000_000n + BigInt(this.rv % 1000) * 1000n + 123n;
    const ts = nsToRfc3339(ns);
    const line = { ts, ns, text };
    pod.lines.push(line);
    for (const f of pod.followers) f.res.write(`${f.timestamps ? `${ts} ` : ''}${text}\n`);
  }

  /** The container exits; the Job controller marks the Job Complete (0) or Failed. */
  exit(name: string, exitCode: number, namespace = 'aevo-jobs'): void {
    this.mutateJob(name, namespace, (job) => {
      const pod = this.currentPod(name, namespace)!;
      pod.obj.status = { phase: exitCode === 0 ? 'Succeeded' : 'Failed', containerStatuses: [{ name: 'job', state: { terminated: { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error' } } }] };
      for (const f of pod.followers) f.res.end();
      pod.followers.clear();
      job.status.active = 0;
      const t = this.now();
      if (exitCode === 0) {
        job.status.succeeded = 1;
        job.status.completionTime = t;
        job.status.conditions = [...(job.status.conditions ?? []), { type: 'Complete', status: 'True', lastTransitionTime: t }];
      } else {
        job.status.failed = 1;
        const reason = exitCode === 3 ? 'PodFailurePolicy' : 'BackoffLimitExceeded';
        job.status.conditions = [...(job.status.conditions ?? []), { type: 'Failed', status: 'True', reason, message: 'Job has reached the specified backoff limit', lastTransitionTime: t }];
      }
    });
  }

  /** Kueue preempts: it sets spec.suspend, the Job controller deletes the pods. */
  suspend(name: string, namespace = 'aevo-jobs'): void {
    this.mutateJob(name, namespace, (job) => {
      job.spec.suspend = true;
      job.status.active = 0;
      job.status.conditions = [...(job.status.conditions ?? []), { type: 'Suspended', status: 'True', reason: 'JobSuspended', lastTransitionTime: this.now() }];
      this.deletePods(job);
    });
  }

  /** The Job controller fails the Job on activeDeadlineSeconds. */
  exceedDeadline(name: string, namespace = 'aevo-jobs'): void {
    this.mutateJob(name, namespace, (job) => {
      job.status.active = 0;
      job.status.conditions = [...(job.status.conditions ?? []), { type: 'Failed', status: 'True', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline', lastTransitionTime: this.now() }];
      this.deletePods(job);
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
    for (const w of this.watches) w.res.end();
    this.watches.clear();
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
    this.requests.push({ method: req.method ?? 'GET', path: url.pathname, query, body, authorization: req.headers.authorization });
    const send = (code: number, obj: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(obj));
    };
    let m: RegExpExecArray | null;
    if ((m = /^\/apis\/batch\/v1\/namespaces\/([^/]+)\/jobs$/.exec(url.pathname))) {
      const ns = decodeURIComponent(m[1]);
      if (req.method === 'POST') return this.createJob(ns, body as Json, send);
      if (req.method === 'GET' && query.watch === 'true') return this.watch(ns, query, res);
      if (req.method === 'GET') {
        const sel = parseSelector(query.labelSelector);
        const items = [...this.jobs.values()].filter((j) => j.metadata.namespace === ns && matches(j, sel));
        return send(200, { kind: 'JobList', apiVersion: 'batch/v1', metadata: { resourceVersion: String(this.rv) }, items });
      }
    }
    if ((m = /^\/apis\/batch\/v1\/namespaces\/([^/]+)\/jobs\/([^/]+)$/.exec(url.pathname))) {
      const key = `${decodeURIComponent(m[1])}/${decodeURIComponent(m[2])}`;
      const job = this.jobs.get(key);
      if (!job) return send(404, status(404, 'NotFound', `jobs.batch "${m[2]}" not found`));
      if (req.method === 'GET') return send(200, job);
      if (req.method === 'DELETE') {
        const policy = query.propagationPolicy ?? (body as Json | undefined)?.propagationPolicy ?? 'Orphan';
        this.removeJob(job, policy);
        return send(200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name: m[2], group: 'batch', kind: 'jobs', uid: job.metadata.uid } });
      }
    }
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/pods$/.exec(url.pathname)) && req.method === 'GET') {
      const ns = decodeURIComponent(m[1]);
      const sel = parseSelector(query.labelSelector);
      const items = [...this.pods.values()].map((p) => p.obj).filter((p) => p.metadata.namespace === ns && matches(p, sel));
      return send(200, { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: String(this.rv) }, items });
    }
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/log$/.exec(url.pathname)) && req.method === 'GET') {
      const pod = this.pods.get(`${decodeURIComponent(m[1])}/${decodeURIComponent(m[2])}`);
      if (!pod) return send(404, status(404, 'NotFound', `pods "${m[2]}" not found`));
      if (query.container && query.container !== 'job') return send(400, status(400, 'BadRequest', `container ${query.container} is not valid for pod ${m[2]}`));
      const timestamps = query.timestamps === 'true';
      const since = query.sinceTime ? BigInt(Date.parse(query.sinceTime)) * 1_000_000n : null;
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.flushHeaders();
      for (const l of pod.lines) if (since == null || l.ns >= since) res.write(`${timestamps ? `${l.ts} ` : ''}${l.text}\n`);
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

  private createJob(ns: string, body: Json, send: (code: number, obj: unknown) => void): void {
    const name = body?.metadata?.name;
    if (!name || body.kind !== 'Job') return send(422, status(422, 'Invalid', 'Job.batch is invalid: metadata.name: Required value'));
    if (name.length > 63) return send(422, status(422, 'Invalid', `Job.batch "${name}" is invalid: metadata.name: must be no more than 63 characters`));
    const invalid = invalidPodTemplate(body.spec?.template?.spec);
    if (invalid) return send(422, status(422, 'Invalid', `Job.batch "${name}" is invalid: ${invalid}`));
    const key = `${ns}/${name}`;
    if (this.jobs.has(key)) return send(409, status(409, 'AlreadyExists', `jobs.batch "${name}" already exists`));
    const job: Json = JSON.parse(JSON.stringify(body));
    job.metadata.namespace = ns;
    job.metadata.uid = `uid-${name}`;
    job.metadata.creationTimestamp = this.now();
    // Kueue's webhook suspends every Job that names a queue until the ClusterQueue admits it.
    job.spec.suspend = job.metadata.labels?.['kueue.x-k8s.io/queue-name'] ? true : (job.spec.suspend ?? false);
    job.status = job.spec.suspend ? { conditions: [{ type: 'Suspended', status: 'True', reason: 'JobSuspended', lastTransitionTime: this.now() }] } : {};
    this.jobs.set(key, job);
    this.record('ADDED', job);
    send(201, job);
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
    const conn: WatchConn = { res, namespace: ns, selector: sel };
    if (from != null)
      for (const h of this.history) if (h.rv > from && h.object.metadata.namespace === ns && matches(h.object, sel)) res.write(`${JSON.stringify({ type: h.type, object: h.object })}\n`);
    this.watches.add(conn);
    res.on('close', () => this.watches.delete(conn));
  }

  // ------------------------------------------------------------------ internals

  private tick(): number {
    this.clock += 1000;
    return this.clock;
  }

  private now(): string {
    return new Date(this.tick()).toISOString().replace(/\.\d+Z$/, 'Z');
  }

  private bump(): number {
    this.rv += 1;
    return this.rv;
  }

  private record(type: string, obj: Json): void {
    obj.metadata.resourceVersion = String(this.bump());
    const snapshot = JSON.parse(JSON.stringify(obj));
    this.history.push({ rv: this.rv, type, object: snapshot });
    for (const w of this.watches)
      if (snapshot.metadata.namespace === w.namespace && matches(snapshot, w.selector)) w.res.write(`${JSON.stringify({ type, object: snapshot })}\n`);
  }

  private mutateJob<T>(name: string, ns: string, f: (job: Json) => T): T {
    const job = this.jobs.get(`${ns}/${name}`);
    if (!job) throw new Error(`no job ${ns}/${name}`);
    const out = f(job);
    this.record('MODIFIED', job);
    return out;
  }

  private createPod(job: Json): string {
    const ns = job.metadata.namespace;
    const name = `${job.metadata.name}-${Math.random().toString(36).slice(2, 7)}`;
    const obj = {
      kind: 'Pod',
      apiVersion: 'v1',
      metadata: {
        name,
        namespace: ns,
        creationTimestamp: this.now(),
        labels: { ...(job.spec.template?.metadata?.labels ?? {}), 'batch.kubernetes.io/job-name': job.metadata.name, 'job-name': job.metadata.name },
      },
      spec: job.spec.template?.spec,
      status: { phase: 'Running', containerStatuses: [{ name: 'job', state: { running: { startedAt: this.now() } } }] },
    };
    this.pods.set(`${ns}/${name}`, { obj, lines: [], followers: new Set() });
    return name;
  }

  private currentPod(jobName: string, ns: string): PodState | undefined {
    const mine = [...this.pods.values()].filter((p) => p.obj.metadata.namespace === ns && p.obj.metadata.labels['batch.kubernetes.io/job-name'] === jobName);
    return mine[mine.length - 1];
  }

  private deletePods(job: Json): void {
    for (const [key, p] of this.pods)
      if (p.obj.metadata.namespace === job.metadata.namespace && p.obj.metadata.labels['batch.kubernetes.io/job-name'] === job.metadata.name) {
        for (const f of p.followers) f.res.end();
        this.pods.delete(key);
      }
  }

  private removeJob(job: Json, propagationPolicy = 'Background'): void {
    this.jobs.delete(`${job.metadata.namespace}/${job.metadata.name}`);
    if (propagationPolicy !== 'Orphan') this.deletePods(job);
    this.record('DELETED', job);
  }
}

/** The part of the API server's pod validation that volume mounts depend on (what a wrong manifest would hit first). */
function invalidPodTemplate(pod: Json | undefined): string | null {
  const volumes = new Set<string>(((pod?.volumes ?? []) as Json[]).map((v) => v.name));
  for (const [i, c] of ((pod?.containers ?? []) as Json[]).entries()) {
    const seen = new Set<string>();
    for (const [j, m] of ((c.volumeMounts ?? []) as Json[]).entries()) {
      const at = `spec.template.spec.containers[${i}].volumeMounts[${j}]`;
      if (!volumes.has(m.name)) return `${at}.name: Not found: "${m.name}"`;
      if (seen.has(m.mountPath)) return `${at}.mountPath: Invalid value: "${m.mountPath}": must be unique`;
      seen.add(m.mountPath);
      if (m.subPath !== undefined && (m.subPath.startsWith('/') || m.subPath.split('/').includes('..')))
        return `${at}.subPath: Invalid value: "${m.subPath}": must be a relative path without '..'`;
    }
  }
  return null;
}

function nsToRfc3339(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const base = new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d+Z$/, '');
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return `${base}${frac ? `.${frac}` : ''}Z`;
}
