import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';

import { BAD_REQUEST, REQUEST_FIELDS, SERVICE, checkFields, omitDefaults, readBody, send } from './loopback-wire';
import type { LoopbackCall, LoopbackKaggleOptions, StoredSubmission, Verdict } from './loopback-options';

/**
 * A loopback HTTP server for the part of competitions.CompetitionApiService that aevo uses, built from kagglesdk's
 * definitions (see the README of this library for the files and commits) for tests that cannot reach api.kaggle.com:
 *
 * - routes: `POST /v1/competitions.CompetitionApiService/<Method>` for the service's own method names only; any other
 *   name (the `Api`-prefixed ones included) answers 404;
 * - requests: the field names of each Api*Request; an unknown field or a value of the wrong type answers 400 the way a
 *   protobuf JSON parser does ("Unknown name …: Cannot find field.");
 * - responses: lowerCamelCase, fields at their default left out (a PENDING submission has no `status`, a count of 0
 *   no field, a last page no `nextPageToken`), int64 refs as strings, scores as strings, dates as ISO with ms and Z;
 * - pages: ListSubmissions and GetLeaderboard answer at most `maxPageSize` items and an opaque `nextPageToken`;
 * - errors: `{code, message}` with the status (what kagglesdk's client reads); 429 as Google's
 *   `{error: {code, message, status: "RESOURCE_EXHAUSTED"}}` with a Retry-After header; CreateSubmission answers 400
 *   for a used-up allowance, a competition not joined, an unknown competition, a description with `/` and an unknown
 *   upload token, each with its own message, or all as a bare "Bad Request" (`bareErrors`).
 * What is ours, not upstream's: the message texts (modelled on answers quoted in Kaggle's issue tracker), the page
 * size, the Retry-After values, and the refusal of `/` in descriptions (reported, not documented).
 */
export class LoopbackKaggleServer {
  readonly calls: LoopbackCall[] = [];
  readonly uploads = new Map<string, { fileName: string; contentLength: number; content?: Buffer }>();
  /** Oldest first. */
  readonly submissions: StoredSubmission[] = [];
  private server?: Server;
  private nextRef = 40_000_001;
  /** Makes page tokens of this server instance unguessable from another's. */
  private readonly tokenSalt = randomBytes(4).toString('hex');
  baseUrl = '';

  constructor(private readonly opts: LoopbackKaggleOptions = {}) {
    const past = Date.parse('2026-01-01T00:00:00.000Z');
    (opts.preexisting ?? []).forEach((p, i) => {
      this.submissions.push({
        ref: String(30_000_001 + i),
        fileName: p.fileName ?? 'submission.csv',
        description: p.description,
        content: Buffer.from('preexisting\n'),
        reads: Number.MAX_SAFE_INTEGER,
        date: new Date(p.today ? this.now() - (opts.preexisting!.length - i) * 1000 : past + i * 60_000).toISOString(),
        verdict: p.verdict ?? { status: 'COMPLETE', publicScore: 0.5 },
      });
    });
  }

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

  /** The methods this server routes: the service's own names, nothing else. */
  static readonly routedMethods: readonly string[] = Object.keys(REQUEST_FIELDS);

  private get competition() {
    return this.opts.competitionName ?? 'wonderland-reasoning';
  }
  private get allowance() {
    return this.opts.allowance ?? 5;
  }
  private now(): number {
    return (this.opts.now ?? Date.now)();
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
    if (req.method === 'PUT' && url.pathname.startsWith('/upload/'))
      return this.upload(url.pathname.slice('/upload/'.length), raw, req, res);
    const prefix = `/v1/${SERVICE}/`;
    const name = url.pathname.startsWith(prefix) ? url.pathname.slice(prefix.length) : null;
    const method = name !== null && LoopbackKaggleServer.routedMethods.includes(name) ? name : null;
    const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      this.calls.push({
        method: name ?? url.pathname,
        authorization: req.headers.authorization,
        body: parsedBody,
        status,
      });
      send(res, status, body, headers);
    };
    let parsedBody: unknown = undefined;
    if (req.method !== 'POST' || !method)
      return answer(404, { code: 404, message: `No method ${req.method} ${url.pathname}` });
    try {
      parsedBody = raw.length ? JSON.parse(raw.toString('utf8')) : {};
    } catch {
      return answer(400, { code: 400, message: 'Invalid JSON payload received.' });
    }
    if (!this.authorized(req.headers.authorization))
      return answer(401, { code: 401, message: 'Unauthenticated: invalid or missing credentials' });
    const invalid = checkFields(parsedBody, REQUEST_FIELDS[method]);
    if (invalid) return answer(400, { code: 400, message: invalid });
    if (this.takeScripted('rateLimitNext', method))
      return answer(
        429,
        { error: { code: 429, message: 'Too many requests', status: 'RESOURCE_EXHAUSTED' } },
        { 'Retry-After': String(this.opts.retryAfterSeconds ?? 1) },
      );
    if (this.takeScripted('failNext', method))
      return answer(503, { code: 503, message: 'The service is currently unavailable.' });
    const [status, body] = this.dispatch(method, parsedBody as Record<string, unknown>);
    return answer(status, body);
  }

  private takeScripted(kind: 'rateLimitNext' | 'failNext', key: string): boolean {
    const script = this.opts[kind];
    if (!script || !(script[key] > 0)) return false;
    script[key]--;
    return true;
  }

  private dispatch(method: string, body: Record<string, unknown>): [number, unknown] {
    const notFound: [number, unknown] = [404, { code: 404, message: 'NotFound' }];
    switch (method) {
      case 'StartSubmissionUpload':
        return this.startUpload(body);
      case 'CreateSubmission':
        return this.create(body);
      case 'GetSubmission': {
        if (this.opts.withoutGetSubmission)
          return [404, { code: 404, message: `No method POST /v1/${SERVICE}/${method}` }];
        const s = this.submissions.find((x) => x.ref === String(body.ref ?? ''));
        return s ? [200, this.view(s)] : notFound;
      }
      case 'ListSubmissions': {
        if (body.competitionName !== this.competition) return notFound;
        let list = [...this.submissions].reverse(); // SUBMISSION_SORT_BY_DATE, newest first, is the only order served
        if (body.group === 'SUBMISSION_GROUP_SUCCESSFUL')
          list = list.filter((s) => this.resolved(s)?.status === 'COMPLETE');
        return this.page(`submissions:${this.competition}`, list, body, 'submissions', (s) => this.view(s));
      }
      case 'GetLeaderboard':
        if (body.competitionName !== this.competition) return notFound;
        return this.page(`leaderboard:${this.competition}`, this.opts.leaderboard ?? [], body, 'submissions', (e) =>
          omitDefaults({ ...e }),
        );
      case 'GetCompetition':
        if (body.competitionName !== this.competition) return notFound;
        return [
          200,
          omitDefaults({
            ref: this.competition,
            title: this.competition,
            userHasEntered: this.opts.joined ?? true,
            maxDailySubmissions: this.allowance,
            submissionsDisabled: false,
          }),
        ];
      case 'GetSubmissionLimits': {
        if (this.opts.withoutSubmissionLimits)
          return [404, { code: 404, message: `No method POST /v1/${SERVICE}/${method}` }];
        if (body.competitionName !== this.competition) return notFound;
        const today = this.submittedToday();
        return [
          200,
          omitDefaults({
            numToday: today,
            numTotal: this.submissions.length,
            numAllowedNow: Math.max(0, this.allowance - today),
            limitedByTotal: false,
          }),
        ];
      }
      default:
        return [404, { code: 404, message: `No method POST /v1/${SERVICE}/${method}` }];
    }
  }

  /** One page of `items` after the position the token names; tokens are opaque and bound to one listing. */
  private page<T>(
    listing: string,
    items: T[],
    body: Record<string, unknown>,
    field: string,
    render: (t: T) => unknown,
  ): [number, unknown] {
    const max = this.opts.maxPageSize ?? 20;
    const asked = typeof body.pageSize === 'number' && body.pageSize > 0 ? body.pageSize : max;
    const size = Math.min(asked, max);
    let offset = 0;
    if (typeof body.pageToken === 'string' && body.pageToken) {
      const decoded = Buffer.from(body.pageToken, 'base64url').toString('utf8').split('|');
      if (decoded.length !== 3 || decoded[0] !== this.tokenSalt || decoded[1] !== listing || !/^\d+$/.test(decoded[2]))
        return [400, { code: 400, message: 'Invalid page token.' }];
      offset = Number(decoded[2]);
    }
    const slice = items.slice(offset, offset + size);
    const next =
      offset + size < items.length
        ? Buffer.from(`${this.tokenSalt}|${listing}|${offset + size}`).toString('base64url')
        : '';
    return [200, omitDefaults({ [field]: slice.map(render), nextPageToken: next })];
  }

  private startUpload(body: Record<string, unknown>): [number, unknown] {
    // competitionName is optional in ApiStartSubmissionUploadRequest: the upload does not depend on it, so a wrong
    // name is first refused by CreateSubmission, as here.
    if (typeof body.fileName !== 'string' || !body.fileName)
      return [400, { code: 400, message: 'fileName is required' }];
    if (typeof body.contentLength !== 'number' || body.contentLength <= 0)
      return [400, { code: 400, message: 'contentLength must be positive' }];
    if (typeof body.lastModifiedEpochSeconds !== 'number' || body.lastModifiedEpochSeconds <= 0)
      return [400, { code: 400, message: 'lastModifiedEpochSeconds is required' }];
    const token = randomBytes(12).toString('hex');
    this.uploads.set(token, { fileName: body.fileName, contentLength: body.contentLength });
    return [200, { token, createUrl: `${this.baseUrl}/upload/${token}` }];
  }

  private upload(token: string, content: Buffer, req: IncomingMessage, res: ServerResponse) {
    const record = (status: number) =>
      this.calls.push({
        method: 'upload',
        authorization: req.headers.authorization,
        body: { bytes: content.length },
        status,
      });
    if (this.takeScripted('rateLimitNext', 'upload')) {
      record(429);
      return send(
        res,
        429,
        { error: { code: 429, message: 'Too many requests', status: 'RESOURCE_EXHAUSTED' } },
        { 'Retry-After': String(this.opts.retryAfterSeconds ?? 1) },
      );
    }
    if (this.takeScripted('failNext', 'upload')) {
      record(503);
      return send(res, 503, { code: 503, message: 'The service is currently unavailable.' });
    }
    const u = this.uploads.get(token);
    const fail = (status: number, message: string) => {
      record(status);
      send(res, status, { code: status, message });
    };
    if (!u) return fail(404, 'unknown upload token');
    if (req.headers.authorization) return fail(400, 'signed upload URLs take no Authorization header');
    if (content.length !== u.contentLength)
      return fail(400, `expected ${u.contentLength} bytes, got ${content.length}`);
    u.content = content;
    record(200);
    res.writeHead(200).end();
  }

  private create(body: Record<string, unknown>): [number, unknown] {
    const refuse = (message: string): [number, unknown] => [
      400,
      { code: 400, message: this.opts.bareErrors ? BAD_REQUEST : message },
    ];
    if (body.competitionName !== this.competition)
      return refuse(`Competition '${String(body.competitionName ?? '')}' not found.`);
    if (!(this.opts.joined ?? true))
      return refuse("You must accept this competition's rules before you can make submissions.");
    const token = typeof body.blobFileTokens === 'string' ? body.blobFileTokens : '';
    const u = this.uploads.get(token);
    if (!u || !u.content) return refuse('blobFileTokens does not name a completed upload.');
    const description = typeof body.submissionDescription === 'string' ? body.submissionDescription : '';
    if ((this.opts.rejectSlashInDescription ?? true) && description.includes('/'))
      return refuse('Invalid submission description.');
    if (description.length > (this.opts.maxDescriptionLength ?? 255))
      return refuse(`Submission description is longer than ${this.opts.maxDescriptionLength ?? 255} characters.`);
    if (this.submittedToday() >= this.allowance)
      return refuse(
        `Submission not allowed:  Your team has used its daily Submission allowance (${this.allowance}) ` +
          `today, please try again tomorrow UTC.`,
      );
    const ref = String(this.nextRef++);
    this.submissions.push({
      ref,
      fileName: u.fileName,
      description,
      content: u.content,
      reads: 0,
      date: new Date(this.now()).toISOString(),
    });
    this.uploads.delete(token);
    return [200, { message: 'Successfully submitted', ref }];
  }

  private submittedToday(): number {
    const day = new Date(this.now()).toISOString().slice(0, 10);
    return this.submissions.filter((s) => s.date.slice(0, 10) === day).length;
  }

  /** The verdict once the submission has been read more than `pendingReads` times; undefined while PENDING. */
  private resolved(s: StoredSubmission): Verdict | undefined {
    if (s.verdict) return s.verdict;
    if (s.reads <= (this.opts.pendingReads ?? 2)) return undefined;
    s.verdict = (this.opts.judge ?? (() => ({ status: 'COMPLETE' as const, publicScore: 0.5 })))(s.content, s.fileName);
    return s.verdict;
  }

  /** ApiSubmission as the service serialises it; each view counts as one read of the submission. */
  private view(s: StoredSubmission): Record<string, unknown> {
    s.reads++;
    const base = {
      ref: s.ref,
      date: s.date,
      description: s.description,
      fileName: s.fileName,
      totalBytes: s.content.length,
    };
    const v = this.resolved(s);
    if (!v) return omitDefaults(base); // PENDING is the proto3 default: no `status` on the wire
    if (v.status === 'ERROR') return omitDefaults({ ...base, status: 'ERROR', errorDescription: v.errorDescription });
    return omitDefaults({
      ...base,
      status: 'COMPLETE',
      publicScore: v.publicScore.toFixed(5),
      privateScore: v.privateScore?.toFixed(5),
    });
  }
}
