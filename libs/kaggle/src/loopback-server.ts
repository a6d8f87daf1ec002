import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';

/**
 * A loopback HTTP server that speaks the subset of competitions.CompetitionApiService that aevo uses, for tests
 * that cannot reach api.kaggle.com. It serialises like the real service: lowerCamelCase JSON, int64 refs as
 * strings, a PENDING submission without `status` (proto3 default), scores as strings; errors as
 * `{code, message}` with the HTTP status.
 */
export interface LoopbackKaggleOptions {
  /** Accepted Bearer token. */
  token?: string;
  /** Accepted legacy Basic credentials. */
  basic?: { username: string; key: string };
  competitionName?: string;
  /** CreateSubmission calls allowed before it answers 400 (the daily allowance). Default 5. */
  allowance?: number;
  /** Reads of a submission that still answer PENDING before it resolves. Default 2. */
  pendingReads?: number;
  /** How an uploaded file scores; default: COMPLETE with 0.5. */
  judge?: (content: Buffer, fileName: string) => { status: 'COMPLETE'; publicScore: number } | { status: 'ERROR'; errorDescription: string };
  /** Answer 404 to GetSubmission, so clients must fall back to ListSubmissions. */
  withoutGetSubmission?: boolean;
  /** Answer the next N calls of these methods with HTTP 503 (transient failures). */
  failNext?: Record<string, number>;
}

export interface LoopbackCall {
  method: string;
  authorization: string | undefined;
  body: unknown;
}

interface StoredSubmission {
  ref: string;
  fileName: string;
  description: string;
  content: Buffer;
  reads: number;
  date: string;
}

export class LoopbackKaggleServer {
  readonly calls: LoopbackCall[] = [];
  readonly uploads = new Map<string, { fileName: string; contentLength: number; content?: Buffer }>();
  readonly submissions: StoredSubmission[] = [];
  private server?: Server;
  private nextRef = 40_000_001;
  private created = 0;
  baseUrl = '';

  constructor(private readonly opts: LoopbackKaggleOptions = {}) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err) => send(res, 500, { code: 500, message: String(err) }));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    this.baseUrl = `http://127.0.0.1:${port}`;
    return this;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  private get competition() {
    return this.opts.competitionName ?? 'wonderland-reasoning';
  }

  private authorized(header: string | undefined): boolean {
    if (!header) return false;
    if (this.opts.token && header === `Bearer ${this.opts.token}`) return true;
    const b = this.opts.basic;
    return !!b && header === `Basic ${Buffer.from(`${b.username}:${b.key}`).toString('base64')}`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.baseUrl);
    const raw = await readBody(req);
    if (req.method === 'PUT' && url.pathname.startsWith('/upload/')) return this.upload(url.pathname.slice('/upload/'.length), raw, req, res);
    const m = /^\/v1\/competitions\.CompetitionApiService\/([A-Za-z]+)$/.exec(url.pathname);
    if (req.method !== 'POST' || !m) return send(res, 404, { code: 404, message: `no route ${req.method} ${url.pathname}` });
    const method = m[1];
    let body: Record<string, unknown>;
    try {
      body = raw.length ? (JSON.parse(raw.toString('utf8')) as Record<string, unknown>) : {};
    } catch {
      return send(res, 400, { code: 400, message: 'request body is not JSON' });
    }
    this.calls.push({ method, authorization: req.headers.authorization, body });
    if (!this.authorized(req.headers.authorization)) return send(res, 401, { code: 401, message: 'Unauthenticated: invalid or missing credentials' });
    const failNext = this.opts.failNext ?? {};
    if ((failNext[method] ?? 0) > 0) {
      failNext[method]--;
      return send(res, 503, { code: 503, message: 'backend unavailable, try again' });
    }
    switch (method) {
      case 'ApiStartSubmissionUpload':
        return this.startUpload(body, res);
      case 'ApiCreateSubmission':
        return this.create(body, res);
      case 'ApiGetSubmission':
        if (this.opts.withoutGetSubmission) return send(res, 404, { code: 404, message: 'method not found' });
        return this.get(body, res);
      case 'ApiListSubmissions':
        if (body.competitionName !== this.competition) return send(res, 404, { code: 404, message: `competition ${String(body.competitionName)} not found` });
        return send(res, 200, { submissions: [...this.submissions].reverse().map((s) => this.view(s, true)) });
      default:
        return send(res, 404, { code: 404, message: `unknown method ${method}` });
    }
  }

  private startUpload(body: Record<string, unknown>, res: ServerResponse) {
    if (body.competitionName !== this.competition) return send(res, 404, { code: 404, message: `competition ${String(body.competitionName)} not found` });
    if (typeof body.fileName !== 'string' || !body.fileName) return send(res, 400, { code: 400, message: 'fileName is required' });
    if (typeof body.contentLength !== 'number' || body.contentLength <= 0) return send(res, 400, { code: 400, message: 'contentLength must be positive' });
    if (typeof body.lastModifiedEpochSeconds !== 'number') return send(res, 400, { code: 400, message: 'lastModifiedEpochSeconds is required' });
    const token = randomBytes(12).toString('hex');
    this.uploads.set(token, { fileName: body.fileName, contentLength: body.contentLength });
    return send(res, 200, { token, createUrl: `${this.baseUrl}/upload/${token}` });
  }

  private upload(token: string, content: Buffer, req: IncomingMessage, res: ServerResponse) {
    const u = this.uploads.get(token);
    if (!u) return send(res, 404, { code: 404, message: 'unknown upload token' });
    if (req.headers.authorization) return send(res, 400, { code: 400, message: 'signed upload URLs take no Authorization header' });
    if (content.length !== u.contentLength) return send(res, 400, { code: 400, message: `expected ${u.contentLength} bytes, got ${content.length}` });
    u.content = content;
    res.writeHead(200).end();
  }

  private create(body: Record<string, unknown>, res: ServerResponse) {
    if (body.competitionName !== this.competition) return send(res, 404, { code: 404, message: `competition ${String(body.competitionName)} not found` });
    const u = typeof body.blobFileTokens === 'string' ? this.uploads.get(body.blobFileTokens) : undefined;
    if (!u || !u.content) return send(res, 400, { code: 400, message: 'blobFileTokens does not name a completed upload' });
    if (this.created >= (this.opts.allowance ?? 5))
      return send(res, 400, {
        code: 400,
        message: `Submission not allowed:  Your team has used its daily Submission allowance (${this.opts.allowance ?? 5}) today, please try again tomorrow UTC.`,
      });
    this.created++;
    const ref = String(this.nextRef++);
    this.submissions.push({
      ref,
      fileName: u.fileName,
      description: typeof body.submissionDescription === 'string' ? body.submissionDescription : '',
      content: u.content,
      reads: 0,
      date: new Date().toISOString(),
    });
    this.uploads.delete(body.blobFileTokens as string);
    return send(res, 200, { message: 'Successfully submitted', ref });
  }

  private get(body: Record<string, unknown>, res: ServerResponse) {
    const ref = String(body.ref ?? '');
    const s = this.submissions.find((x) => x.ref === ref);
    if (!s) return send(res, 404, { code: 404, message: `submission ${ref} not found` });
    return send(res, 200, this.view(s, true));
  }

  private view(s: StoredSubmission, countRead: boolean): Record<string, unknown> {
    if (countRead) s.reads++;
    const base: Record<string, unknown> = { ref: s.ref, date: s.date, description: s.description, fileName: s.fileName, totalBytes: s.content.length };
    if (s.reads <= (this.opts.pendingReads ?? 2)) return base; // PENDING is the proto3 default: no `status` on the wire
    const verdict = (this.opts.judge ?? (() => ({ status: 'COMPLETE' as const, publicScore: 0.5 })))(s.content, s.fileName);
    if (verdict.status === 'ERROR') return { ...base, status: 'ERROR', errorDescription: verdict.errorDescription };
    return { ...base, status: 'COMPLETE', publicScore: verdict.publicScore.toFixed(5) };
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) }).end(text);
}
