import type { z } from 'zod';
import { authorizationHeader, type KaggleCredentials } from './credentials';
import {
  KaggleApiError,
  KaggleAuthError,
  KaggleCompetitionNotFoundError,
  KaggleConfigError,
  KaggleNetworkError,
  KaggleNotJoinedError,
  KaggleProtocolError,
} from './errors';
import { readRefusal } from './refusal';
import { DEFAULT_RETRY_POLICY, RETRYABLE_STATUSES, nextRetryDelayMs, parseRetryAfter, type RetryPolicy } from './retry';
import { Methods, methodPath, parseErrorBody, type MethodName } from './wire';

export const DEFAULT_KAGGLE_BASE_URL = 'https://api.kaggle.com';

export interface RetryEvent {
  method: string;
  status: number;
  /** The try that was refused (1 = the first). */
  attempt: number;
  delayMs: number;
  retryAfterMs: number | null;
}

export interface KaggleClientOptions {
  credentials: KaggleCredentials;
  /** Without the `/v1/...` suffix. Default https://api.kaggle.com (env AEVO_KAGGLE_BASE_URL in the services). */
  baseUrl?: string;
  /** Per-request deadline. Default 60 s. */
  requestTimeoutMs?: number;
  userAgent?: string;
  fetch?: typeof fetch;
  /** Retries of 429/503 answers (see retry.ts); partial values override the defaults. */
  retry?: Partial<RetryPolicy>;
  /** Injected for tests that must not sleep for real; default setTimeout. Used for retries, not for polling. */
  sleep?: (ms: number) => Promise<void>;
  /** Jitter source in [0, 1); default Math.random. */
  random?: () => number;
  /** Called before each retry wait. */
  onRetry?: (e: RetryEvent) => void;
  /** pageSize asked for in list calls (the server may send fewer). Default 50. */
  pageSize?: number;
  /** Most pages one listing reads before it fails rather than act on a partial list. Default 200. */
  maxPages?: number;
}

export interface Page<T> {
  items: T[];
  nextPageToken: string | null;
}

export const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Methods whose request names a competition: a 404 there means the competition, not some other object. */
const COMPETITION_SCOPED: ReadonlySet<string> = new Set([
  Methods.createSubmission,
  Methods.listSubmissions,
  Methods.getLeaderboard,
  Methods.getCompetition,
  Methods.getSubmissionLimits,
]);

/**
 * The CompetitionApiService's transport: authenticated JSON POSTs with a deadline, 429/503 retried under the retry
 * policy (Retry-After honoured, bounded), errors mapped to the Kaggle error classes, listings read page by page.
 * KaggleCompetitionClient adds the API's methods on top.
 */
export class KaggleTransport {
  protected readonly baseUrl: string;
  protected readonly fetchFn: typeof fetch;
  protected readonly timeoutMs: number;
  protected readonly userAgent: string;
  protected readonly retryPolicy: RetryPolicy;
  protected readonly sleep: (ms: number) => Promise<void>;
  protected readonly random: () => number;
  protected readonly pageSize: number;
  protected readonly maxPages: number;

  constructor(protected readonly opts: KaggleClientOptions) {
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
    this.userAgent = opts.userAgent ?? 'aevo-kaggle/0.2';
    this.retryPolicy = { ...DEFAULT_RETRY_POLICY, ...opts.retry };
    for (const [k, v] of Object.entries(this.retryPolicy))
      if (!Number.isFinite(v) || v < (k === 'maxAttempts' ? 1 : 0))
        throw new KaggleConfigError(`retry.${k}: expected a non-negative number (maxAttempts ≥ 1), got ${v}`);
    this.sleep = opts.sleep ?? defaultSleep;
    this.random = opts.random ?? Math.random;
    this.pageSize = opts.pageSize ?? 50;
    this.maxPages = opts.maxPages ?? 200;
    if (!Number.isInteger(this.pageSize) || this.pageSize < 1)
      throw new KaggleConfigError(`pageSize: expected a positive integer, got ${this.pageSize}`);
    if (!Number.isInteger(this.maxPages) || this.maxPages < 1)
      throw new KaggleConfigError(`maxPages: expected a positive integer, got ${this.maxPages}`);
  }

  /** Yields page after page until the service sends no nextPageToken; bounded, and a repeated token is an error. */
  protected async *pages<T>(
    method: string,
    fetchPage: (token: string | null) => Promise<Page<T>>,
  ): AsyncGenerator<T[]> {
    const seen = new Set<string>();
    let token: string | null = null;
    for (let n = 1; ; n++) {
      if (n > this.maxPages)
        throw new KaggleProtocolError(
          method,
          'nextPageToken',
          `still more pages after ${this.maxPages} (maxPages); refusing to act on a partial list`,
        );
      const page = await fetchPage(token);
      yield page.items;
      if (!page.nextPageToken) return;
      if (seen.has(page.nextPageToken))
        throw new KaggleProtocolError(
          method,
          'nextPageToken',
          `token ${JSON.stringify(page.nextPageToken)} came back twice; the listing would never end`,
        );
      seen.add(page.nextPageToken);
      token = page.nextPageToken;
    }
  }

  protected async call<S extends z.ZodType>(
    method: MethodName,
    body: unknown,
    schema: S,
    opts: { retryOn?: readonly number[]; competitionName?: string } = {},
  ): Promise<z.output<S>> {
    const url = `${this.baseUrl}${methodPath(method)}`;
    const res = await this.send(
      method,
      () =>
        this.fetchFn(url, {
          method: 'POST',
          headers: {
            Authorization: authorizationHeader(this.opts.credentials),
            'Content-Type': 'application/json',
            Accept: 'application/json',
            'User-Agent': this.userAgent,
          },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(this.timeoutMs),
        }),
      opts,
    );
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

  /**
   * Sends until the answer is 2xx, retrying the statuses in `retryOn` under the retry policy; else throws the mapped
   * error.
   */
  protected async send(
    method: string,
    request: () => Promise<Response>,
    opts: { retryOn?: readonly number[]; competitionName?: string } = {},
  ): Promise<Response> {
    const retryOn = opts.retryOn ?? RETRYABLE_STATUSES;
    let waited = 0;
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      try {
        res = await request();
      } catch (err) {
        throw new KaggleNetworkError(method, err);
      }
      if (res.ok) return res;
      const text = await res.text().catch(() => '');
      const { message } = parseErrorBody(text, res.statusText || `HTTP ${res.status}`);
      const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
      if (retryOn.includes(res.status)) {
        const delay = nextRetryDelayMs(attempt, retryAfterMs, waited, this.retryPolicy, this.random);
        if (delay !== null) {
          this.opts.onRetry?.({ method, status: res.status, attempt, delayMs: delay, retryAfterMs });
          await this.sleep(delay);
          waited += delay;
          continue;
        }
      }
      throw toApiError(method, res.status, message, retryAfterMs, opts.competitionName);
    }
  }
}

function toApiError(
  method: string,
  status: number,
  message: string,
  retryAfterMs: number | null,
  competitionName: string | undefined,
): KaggleApiError {
  if (status === 401) return new KaggleAuthError(method, status, message, retryAfterMs);
  if (status === 403) {
    if (competitionName !== undefined && readRefusal(message) === 'not-joined')
      return new KaggleNotJoinedError(method, status, message, competitionName);
    return new KaggleAuthError(method, status, message, retryAfterMs);
  }
  if (status === 404 && competitionName !== undefined && COMPETITION_SCOPED.has(method))
    return new KaggleCompetitionNotFoundError(method, status, message, competitionName);
  return new KaggleApiError(method, status, message, retryAfterMs);
}
