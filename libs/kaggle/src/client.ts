import type { z } from 'zod';
import { authorizationHeader, type KaggleCredentials } from './credentials';
import {
  KaggleApiError,
  KaggleAuthError,
  KaggleConfigError,
  KaggleNetworkError,
  KagglePollTimeoutError,
  KaggleProtocolError,
  KaggleQuotaExceededError,
} from './errors';
import {
  ApiSubmission,
  CreateSubmissionResponse,
  GetLeaderboardResponse,
  ListSubmissionsResponse,
  Methods,
  SERVICE,
  StartSubmissionUploadResponse,
  type KaggleLeaderboardEntry,
  type KaggleSubmission,
} from './wire';

export const DEFAULT_KAGGLE_BASE_URL = 'https://api.kaggle.com';

export interface KaggleClientOptions {
  credentials: KaggleCredentials;
  /** Without the `/v1/...` suffix. Default https://api.kaggle.com (env AEVO_KAGGLE_BASE_URL in the services). */
  baseUrl?: string;
  /** Per-request deadline. Default 60 s. */
  requestTimeoutMs?: number;
  userAgent?: string;
  fetch?: typeof fetch;
}

export interface PollOptions {
  /** First wait before re-reading the status. Default 2 s. */
  initialDelayMs?: number;
  /** Cap of one wait. Default 60 s. */
  maxDelayMs?: number;
  /** Growth of the wait after each poll. Default 2. */
  factor?: number;
  /** Total time after which polling gives up with KagglePollTimeoutError. Default 30 min. */
  maxWaitMs?: number;
  /** Injected for tests that must not sleep for real; default setTimeout. */
  sleep?: (ms: number) => Promise<void>;
  /** Called after each poll (status seen, next wait). */
  onPoll?: (s: KaggleSubmission, nextDelayMs: number) => void;
}

export interface SubmitFileInput {
  competitionName: string;
  fileName: string;
  content: Buffer;
  description: string;
  /** Seconds since the epoch; default now. */
  lastModifiedEpochSeconds?: number;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Client for Kaggle's competitions.CompetitionApiService (`POST <base>/v1/competitions.CompetitionApiService/<Method>`,
 * JSON in and out). Submitting is three calls: StartSubmissionUpload → PUT the bytes to `createUrl` →
 * CreateSubmission with the upload token; the score then appears on GetSubmission / ListSubmissions.
 */
export class KaggleCompetitionClient {
  private readonly baseUrl: string;
  private readonly fetchFn: typeof fetch;
  private readonly timeoutMs: number;
  private readonly userAgent: string;

  constructor(private readonly opts: KaggleClientOptions) {
    const base = opts.baseUrl ?? DEFAULT_KAGGLE_BASE_URL;
    let parsed: URL;
    try {
      parsed = new URL(base);
    } catch {
      throw new KaggleConfigError(`baseUrl: expected an absolute http(s) URL, got ${JSON.stringify(base)}`);
    }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')
      throw new KaggleConfigError(`baseUrl: expected http or https, got ${parsed.protocol}`);
    this.baseUrl = base.replace(/\/+$/, '');
    this.fetchFn = opts.fetch ?? fetch;
    this.timeoutMs = opts.requestTimeoutMs ?? 60_000;
    this.userAgent = opts.userAgent ?? 'aevo-kaggle/0.1';
  }

  async startSubmissionUpload(req: { competitionName: string; fileName: string; contentLength: number; lastModifiedEpochSeconds: number }) {
    return this.call(Methods.startSubmissionUpload, req, StartSubmissionUploadResponse);
  }

  /** PUTs the file to the signed upload URL. No Authorization header: the URL itself is the credential. */
  async uploadBlob(createUrl: string, content: Buffer): Promise<void> {
    let res: Response;
    try {
      res = await this.fetchFn(createUrl, {
        method: 'PUT',
        headers: { 'Content-Type': 'application/octet-stream', 'User-Agent': this.userAgent },
        body: content,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new KaggleNetworkError('upload PUT', err);
    }
    if (!res.ok) throw new KaggleApiError('upload PUT', res.status, await serverMessage(res));
    await res.arrayBuffer();
  }

  /** HTTP 400 here means the submission allowance is used up (KaggleQuotaExceededError). */
  async createSubmission(req: { competitionName: string; blobFileTokens: string; submissionDescription: string }) {
    return this.call(Methods.createSubmission, req, CreateSubmissionResponse, (status, msg) =>
      status === 400 ? new KaggleQuotaExceededError(Methods.createSubmission, status, msg) : undefined,
    );
  }

  async getSubmission(ref: string): Promise<KaggleSubmission> {
    return this.call(Methods.getSubmission, { ref: refOnWire(ref) }, ApiSubmission);
  }

  async listSubmissions(req: { competitionName: string; page?: number }): Promise<KaggleSubmission[]> {
    const body: Record<string, unknown> = { competitionName: req.competitionName };
    if (req.page !== undefined) body.page = req.page;
    return (await this.call(Methods.listSubmissions, body, ListSubmissionsResponse)).submissions;
  }

  async getLeaderboard(competitionName: string, overridePublic = true): Promise<KaggleLeaderboardEntry[]> {
    return (await this.call(Methods.getLeaderboard, { competitionName, overridePublic }, GetLeaderboardResponse)).submissions;
  }

  /** StartSubmissionUpload → PUT → CreateSubmission; returns the submission's ref. */
  async submitFile(input: SubmitFileInput): Promise<{ ref: string; message: string | undefined }> {
    const upload = await this.startSubmissionUpload({
      competitionName: input.competitionName,
      fileName: input.fileName,
      contentLength: input.content.length,
      lastModifiedEpochSeconds: input.lastModifiedEpochSeconds ?? Math.floor(Date.now() / 1000),
    });
    await this.uploadBlob(upload.createUrl, input.content);
    const created = await this.createSubmission({
      competitionName: input.competitionName,
      blobFileTokens: upload.token,
      submissionDescription: input.description,
    });
    return { ref: created.ref, message: created.message };
  }

  /**
   * Reads the submission until it is COMPLETE or ERROR, waiting initialDelayMs·factor^k (capped) between reads,
   * at most maxWaitMs in all. Uses GetSubmission; where that method answers 404/501 it reads ListSubmissions
   * instead. Server errors (5xx) and dropped connections count as one more pending poll; auth errors end it.
   */
  async waitForSubmission(ref: string, competitionName: string, poll: PollOptions = {}): Promise<KaggleSubmission> {
    const initial = poll.initialDelayMs ?? 2000;
    const maxDelay = poll.maxDelayMs ?? 60_000;
    const factor = poll.factor ?? 2;
    const maxWait = poll.maxWaitMs ?? 30 * 60_000;
    const sleep = poll.sleep ?? defaultSleep;
    let delay = initial;
    let waited = 0;
    let polls = 0;
    let lastStatus = 'PENDING';
    let useList = false;
    for (;;) {
      polls++;
      let current: KaggleSubmission | undefined;
      try {
        current = useList ? await this.findInList(ref, competitionName) : await this.getSubmission(ref);
      } catch (err) {
        if (!useList && err instanceof KaggleApiError && (err.status === 404 || err.status === 501)) {
          useList = true;
          current = await this.findInList(ref, competitionName).catch((e) => (isTransient(e) ? undefined : Promise.reject(e)));
        } else if (!isTransient(err)) throw err;
      }
      if (current) {
        lastStatus = current.status;
        if (current.status !== 'PENDING') return current;
      }
      if (waited + delay > maxWait) throw new KagglePollTimeoutError(ref, lastStatus, waited, polls);
      if (current) poll.onPoll?.(current, delay);
      await sleep(delay);
      waited += delay;
      delay = Math.min(maxDelay, Math.ceil(delay * factor));
    }
  }

  private async findInList(ref: string, competitionName: string): Promise<KaggleSubmission> {
    const all = await this.listSubmissions({ competitionName });
    const found = all.find((s) => s.ref === ref);
    if (!found) throw new KaggleProtocolError(Methods.listSubmissions, 'submissions', `no submission with ref ${ref}`);
    return found;
  }

  private async call<S extends z.ZodType>(
    method: string,
    body: unknown,
    schema: S,
    mapError?: (status: number, message: string) => KaggleApiError | undefined,
  ): Promise<z.output<S>> {
    const url = `${this.baseUrl}/v1/${SERVICE}/${method}`;
    let res: Response;
    try {
      res = await this.fetchFn(url, {
        method: 'POST',
        headers: {
          Authorization: authorizationHeader(this.opts.credentials),
          'Content-Type': 'application/json',
          Accept: 'application/json',
          'User-Agent': this.userAgent,
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new KaggleNetworkError(method, err);
    }
    if (!res.ok) {
      const msg = await serverMessage(res);
      if (res.status === 401 || res.status === 403) throw new KaggleAuthError(method, res.status, msg);
      throw mapError?.(res.status, msg) ?? new KaggleApiError(method, res.status, msg);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text.trim() === '' ? {} : JSON.parse(text);
    } catch {
      throw new KaggleProtocolError(method, '(body)', `expected JSON, got ${JSON.stringify(text.slice(0, 120))}`);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new KaggleProtocolError(method, issue.path.map(String).join('.') || '(body)', issue.message);
    }
    return parsed.data;
  }
}

/** int64 refs travel as JSON numbers where they fit, else as decimal strings (protobuf JSON accepts both). */
function refOnWire(ref: string): number | string {
  const n = Number(ref);
  return Number.isSafeInteger(n) ? n : ref;
}

function isTransient(err: unknown): boolean {
  return err instanceof KaggleNetworkError || (err instanceof KaggleApiError && !(err instanceof KaggleAuthError) && err.status >= 500);
}

async function serverMessage(res: Response): Promise<string> {
  const text = await res.text().catch(() => '');
  try {
    const j = JSON.parse(text) as { message?: unknown; error?: { message?: unknown } };
    if (typeof j.message === 'string' && j.message) return j.message;
    if (j.error && typeof j.error.message === 'string') return j.error.message;
  } catch {
    /* not JSON: fall through to the raw text */
  }
  return text.trim().slice(0, 500) || res.statusText || `HTTP ${res.status}`;
}
