import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakeKubeIndexed } from './fake-kube-indexed';
import {
  applyJsonPatchOp,
  DEFAULT_BACKOFF_LIMIT,
  matches,
  mergePatch,
  parseSelector,
  status,
  type Cause,
  type Json,
} from './fake-kube-json';
import { schemaErrors, stripUnknownFields, validateJob } from './fake-kube-validation';
import type { RecordedRequest, WatchConn } from './fake-kube-state';

export type { FakeKubeApiOptions } from './fake-kube-state';

/**
 * A loopback Kubernetes API server for tests: speaks the JSON wire protocol of batch/v1 Jobs (create, get, list,
 * delete, watch as newline-delimited JSON with resourceVersion, BOOKMARKs, server-side timeouts, 410 Gone for
 * compacted history), core/v1 Pods (list, log with follow/timestamps/sinceTime), Services and NetworkPolicies
 * (create, get, list, delete; deleted with their owner Job), for @kubernetes/client-node to
 * talk to over http. A created Job is checked against the official OpenAPI schema of batch/v1 Job (the compiled
 * validators of `kubernetes-models`), unknown fields against client-node's generated models, and the name rules of
 * the API server's own validation. The controllers that a real cluster runs are the test's methods: Kueue (`admit`,
 * `resume`, `suspend`), the Job controller (`backoffLimit` retries, `podFailurePolicy`, interim `FailureTarget`),
 * the kubelet (`startPod`, `log`, `write`, `exit`). Its clock moves only through `advance`.
 */

export class FakeKubeApiServer extends FakeKubeIndexed {
  private server: Server | null = null;
  readonly requests: RecordedRequest[] = [];
  /** How an expired resourceVersion is reported: an ERROR event in a 200 stream (usual), or an HTTP 410. */
  expiredAs: 'event' | 'http' = 'event';
  url = '';

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
    if (this.serveOwnedObjects(req.method ?? 'GET', url.pathname, body, send)) return;
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
          `the API version in the data (${body.apiVersion}) or kind (${body.kind}) does not match the ` +
            `expected batch/v1 Job`,
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
          `Job in version "v1" cannot be handled as a Job: ` +
            `${decodeErrors.map((e) => `${e.field}: ${e.message}`).join('; ')}`,
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
            `the body of the request was in an unknown format - accepted media types include: ` +
              `application/json-patch+json, application/merge-patch+json`,
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
}
