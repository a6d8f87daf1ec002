import { sanitizeSubmissionDescription } from './description';
import {
  KaggleApiError,
  KaggleAuthError,
  KaggleCompetitionNotFoundError,
  KaggleError,
  KaggleNetworkError,
  KaggleNotJoinedError,
  KagglePollTimeoutError,
  KaggleProtocolError,
  KaggleQuotaExceededError,
  KaggleSubmissionRefusedError,
} from './errors';
import { readRefusal } from './refusal';
import { nextRetryDelayMs } from './retry';
import {
  ApiCompetition,
  ApiSubmission,
  CreateSubmissionResponse,
  GetLeaderboardResponse,
  GetSubmissionLimitsResponse,
  ListSubmissionsResponse,
  Methods,
  StartSubmissionUploadResponse,
  type KaggleCompetition,
  type KaggleLeaderboardEntry,
  type KaggleSubmission,
  type KaggleSubmissionLimits,
} from './wire';

import { KaggleTransport, defaultSleep, type Page } from './transport';

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
  /** Sanitised before it is sent (sanitizeSubmissionDescription); the result is returned as `description`. */
  description: string;
  /** Seconds since the epoch; default now. */
  lastModifiedEpochSeconds?: number;
}

/**
 * Client for Kaggle's competitions.CompetitionApiService (`POST <base>/v1/competitions.CompetitionApiService/<Method>`,
 * JSON in and out). Submitting is three calls: StartSubmissionUpload → PUT the bytes to `createUrl` →
 * CreateSubmission with the upload token; the score then appears on GetSubmission / ListSubmissions.
 * Every call retries 429 and 503 (Retry-After honoured, bounded); lists are read through every page.
 */
export class KaggleCompetitionClient extends KaggleTransport {
  async startSubmissionUpload(req: {
    competitionName: string;
    fileName: string;
    contentLength: number;
    lastModifiedEpochSeconds: number;
  }) {
    return this.call(Methods.startSubmissionUpload, req, StartSubmissionUploadResponse);
  }

  /** PUTs the file to the signed upload URL (retrying 429/503). No Authorization header: the URL is the credential. */
  async uploadBlob(createUrl: string, content: Buffer): Promise<void> {
    const res = await this.send('upload PUT', () =>
      this.fetchFn(createUrl, {
        method: 'PUT',
        headers: { 'Content-Type': 'application/octet-stream', 'User-Agent': this.userAgent },
        body: content,
        signal: AbortSignal.timeout(this.timeoutMs),
      }),
    );
    await res.arrayBuffer();
  }

  /**
   * One CreateSubmission call. Only 429 is retried here: after a 503 or a dropped connection the submission may exist,
   * which submitFile checks before trying again. Refusals come back as they were answered; submitFile explains them.
   */
  async createSubmission(req: { competitionName: string; blobFileTokens: string; submissionDescription: string }) {
    return this.call(Methods.createSubmission, req, CreateSubmissionResponse, {
      retryOn: [429],
      competitionName: req.competitionName,
    });
  }

  async getSubmission(ref: string): Promise<KaggleSubmission> {
    return this.call(Methods.getSubmission, { ref: refOnWire(ref) }, ApiSubmission);
  }

  async getCompetition(competitionName: string): Promise<KaggleCompetition> {
    return this.call(Methods.getCompetition, { competitionName }, ApiCompetition, { competitionName });
  }

  async getSubmissionLimits(competitionName: string): Promise<KaggleSubmissionLimits> {
    return this.call(Methods.getSubmissionLimits, { competitionName }, GetSubmissionLimitsResponse, {
      competitionName,
    });
  }

  /** One page of ListSubmissions (newest first, the service's default order). */
  async listSubmissionsPage(competitionName: string, pageToken: string | null = null): Promise<Page<KaggleSubmission>> {
    const body: Record<string, unknown> = { competitionName, pageSize: this.pageSize };
    if (pageToken) body.pageToken = pageToken;
    const r = await this.call(Methods.listSubmissions, body, ListSubmissionsResponse, { competitionName });
    return { items: r.submissions, nextPageToken: r.nextPageToken };
  }

  /** Every submission of the team, through every page. */
  async listSubmissions(competitionName: string): Promise<KaggleSubmission[]> {
    const all: KaggleSubmission[] = [];
    for await (const page of this.pages(Methods.listSubmissions, (t) => this.listSubmissionsPage(competitionName, t)))
      all.push(...page);
    return all;
  }

  /** The first submission (newest first) that matches, reading further pages only while none has. */
  async findSubmission(
    competitionName: string,
    matches: (s: KaggleSubmission) => boolean,
  ): Promise<KaggleSubmission | undefined> {
    for await (const page of this.pages(Methods.listSubmissions, (t) => this.listSubmissionsPage(competitionName, t))) {
      const found = page.find(matches);
      if (found) return found;
    }
    return undefined;
  }

  async getLeaderboardPage(
    competitionName: string,
    pageToken: string | null = null,
    overridePublic = true,
  ): Promise<Page<KaggleLeaderboardEntry>> {
    const body: Record<string, unknown> = { competitionName, overridePublic, pageSize: this.pageSize };
    if (pageToken) body.pageToken = pageToken;
    const r = await this.call(Methods.getLeaderboard, body, GetLeaderboardResponse, { competitionName });
    return { items: r.submissions, nextPageToken: r.nextPageToken };
  }

  /** The whole leaderboard, through every page (public by default: `overridePublic`). */
  async getLeaderboard(competitionName: string, overridePublic = true): Promise<KaggleLeaderboardEntry[]> {
    const all: KaggleLeaderboardEntry[] = [];
    for await (const page of this.pages(Methods.getLeaderboard, (t) =>
      this.getLeaderboardPage(competitionName, t, overridePublic),
    ))
      all.push(...page);
    return all;
  }

  /**
   * StartSubmissionUpload → PUT → CreateSubmission; returns the submission's ref and the description sent.
   * A refusal is explained (explainSubmissionRefusal). After a 503 or a lost connection on CreateSubmission the
   * submission may exist: it is looked up by its description before another try, so the allowance is spent once.
   */
  async submitFile(
    input: SubmitFileInput,
  ): Promise<{ ref: string; message: string | undefined; description: string; reused: boolean }> {
    const description = sanitizeSubmissionDescription(input.description);
    const upload = await this.startSubmissionUpload({
      competitionName: input.competitionName,
      fileName: input.fileName,
      contentLength: input.content.length,
      lastModifiedEpochSeconds: input.lastModifiedEpochSeconds ?? Math.floor(Date.now() / 1000),
    });
    await this.uploadBlob(upload.createUrl, input.content);
    let waited = 0;
    for (let attempt = 1; ; attempt++) {
      try {
        const created = await this.createSubmission({
          competitionName: input.competitionName,
          blobFileTokens: upload.token,
          submissionDescription: description,
        });
        return { ref: created.ref, message: created.message, description, reused: false };
      } catch (err) {
        if (
          err instanceof KaggleApiError &&
          (err.status === 400 || err.status === 403) &&
          err.constructor === KaggleApiError
        )
          throw await this.explainSubmissionRefusal(err, input.competitionName);
        if (err instanceof KaggleAuthError && err.status === 403)
          throw await this.explainSubmissionRefusal(err, input.competitionName);
        const ambiguous = err instanceof KaggleNetworkError || (err instanceof KaggleApiError && err.status === 503);
        if (!ambiguous) throw err;
        const existing = await this.findSubmission(input.competitionName, (s) => s.description === description);
        if (existing) return { ref: existing.ref, message: undefined, description, reused: true };
        const delay = nextRetryDelayMs(
          attempt,
          err instanceof KaggleApiError ? err.retryAfterMs : null,
          waited,
          this.retryPolicy,
          this.random,
        );
        if (delay === null) throw err;
        this.opts.onRetry?.({
          method: Methods.createSubmission,
          status: err instanceof KaggleApiError ? err.status : 0,
          attempt,
          delayMs: delay,
          retryAfterMs: null,
        });
        await this.sleep(delay);
        waited += delay;
      }
    }
  }

  /**
   * Turns a 400/403 from CreateSubmission into what it means. Kaggle's words decide where they are specific; a quota
   * reading is confirmed with GetSubmissionLimits (not taken where it reports submissions allowed now); an unspecific
   * answer is explained by GetCompetition (unknown name → not found, not entered → not joined, submissions disabled)
   * and then GetSubmissionLimits (nothing allowed now → quota). Anything else stays a refusal of unknown reason with
   * Kaggle's message, never "quota".
   */
  async explainSubmissionRefusal(err: KaggleApiError, competitionName: string): Promise<KaggleApiError> {
    const M = Methods.createSubmission;
    const { status, serverMessage: msg } = err;
    switch (readRefusal(msg)) {
      case 'not-joined':
        return new KaggleNotJoinedError(M, status, msg, competitionName);
      case 'competition-not-found':
        return new KaggleCompetitionNotFoundError(M, status, msg, competitionName);
      case 'invalid-description':
        return new KaggleSubmissionRefusedError(
          M,
          status,
          msg,
          'invalid-description',
          null,
          'Kaggle did not accept the submission description',
        );
      case 'submissions-disabled':
        return new KaggleSubmissionRefusedError(
          M,
          status,
          msg,
          'submissions-disabled',
          null,
          'the competition does not accept submissions now',
        );
      case 'quota-exceeded': {
        const limits = await this.limitsIfServed(competitionName);
        if (limits && limits.numAllowedNow > 0)
          return new KaggleSubmissionRefusedError(
            M,
            status,
            msg,
            'unknown',
            limits,
            `the message reads as a used-up allowance, but GetSubmissionLimits reports ` +
              `${limits.numAllowedNow} allowed now`,
          );
        return new KaggleQuotaExceededError(
          M,
          status,
          msg,
          'quota-exceeded',
          limits,
          limits ? describeLimits(limits) : 'allowance used up (GetSubmissionLimits not served, so unconfirmed)',
        );
      }
      case 'unspecific': {
        let competition: KaggleCompetition | null = null;
        try {
          competition = await this.getCompetition(competitionName);
        } catch (probe) {
          if (probe instanceof KaggleCompetitionNotFoundError)
            return new KaggleCompetitionNotFoundError(M, status, msg, competitionName);
          if (probe instanceof KaggleAuthError) return err;
          if (!(probe instanceof KaggleError)) throw probe;
        }
        if (competition && !competition.userHasEntered)
          return new KaggleNotJoinedError(M, status, msg, competitionName);
        if (competition?.submissionsDisabled)
          return new KaggleSubmissionRefusedError(
            M,
            status,
            msg,
            'submissions-disabled',
            null,
            'GetCompetition reports submissions disabled',
          );
        const limits = await this.limitsIfServed(competitionName);
        if (limits && limits.numAllowedNow === 0)
          return new KaggleQuotaExceededError(M, status, msg, 'quota-exceeded', limits, describeLimits(limits));
        return new KaggleSubmissionRefusedError(
          M,
          status,
          msg,
          'unknown',
          limits,
          `Kaggle gave no specific reason${competition ? '; the account has joined the competition' : ''}` +
            `${limits ? `; GetSubmissionLimits reports ${limits.numAllowedNow} allowed now` : ''}`,
        );
      }
    }
  }

  /**
   * Reads the submission until it is COMPLETE or ERROR, waiting initialDelayMs·factor^k (capped) between reads,
   * at most maxWaitMs in all. Uses GetSubmission; where that method answers 404/501 it searches ListSubmissions (every
   * page) instead. A 429/503 that outlasted the call's own retries, another 5xx, or a dropped connection counts as one
   * more pending poll (a Retry-After longer than the next wait lengthens it); auth errors end it.
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
      let askedToWaitMs = 0;
      const transient = (e: unknown) => {
        if (!isTransient(e)) return false;
        if (e instanceof KaggleApiError && e.retryAfterMs) askedToWaitMs = e.retryAfterMs;
        return true;
      };
      try {
        current = useList ? await this.findInList(ref, competitionName) : await this.getSubmission(ref);
      } catch (err) {
        if (!useList && err instanceof KaggleApiError && (err.status === 404 || err.status === 501)) {
          useList = true;
          current = await this.findInList(ref, competitionName).catch((e) =>
            transient(e) ? undefined : Promise.reject(e),
          );
        } else if (!transient(err)) throw err;
      }
      if (current) {
        lastStatus = current.status;
        if (current.status !== 'PENDING') return current;
      }
      const wait = Math.max(delay, askedToWaitMs);
      if (waited + wait > maxWait) throw new KagglePollTimeoutError(ref, lastStatus, waited, polls);
      if (current) poll.onPoll?.(current, wait);
      await sleep(wait);
      waited += wait;
      delay = Math.min(maxDelay, Math.ceil(delay * factor));
    }
  }

  private async findInList(ref: string, competitionName: string): Promise<KaggleSubmission> {
    const found = await this.findSubmission(competitionName, (s) => s.ref === ref);
    if (!found)
      throw new KaggleProtocolError(
        Methods.listSubmissions,
        'submissions',
        `no submission with ref ${ref} on any page`,
      );
    return found;
  }

  private async limitsIfServed(competitionName: string): Promise<KaggleSubmissionLimits | null> {
    try {
      return await this.getSubmissionLimits(competitionName);
    } catch (err) {
      if (err instanceof KaggleError) return null;
      throw err;
    }
  }
}

function describeLimits(l: KaggleSubmissionLimits): string {
  const cap = l.limitedByTotal ? ' (the lifetime cap is reached)' : '';
  return `GetSubmissionLimits: ${l.numToday} submitted today, ${l.numAllowedNow} allowed now${cap}`;
}

/** int64 refs travel as JSON numbers where they fit, else as decimal strings (protobuf JSON accepts both). */
function refOnWire(ref: string): number | string {
  const n = Number(ref);
  return Number.isSafeInteger(n) ? n : ref;
}

/** Worth another poll: the service was busy or unreachable, not the request wrong. */
function isTransient(err: unknown): boolean {
  if (err instanceof KaggleNetworkError) return true;
  return (
    err instanceof KaggleApiError && !(err instanceof KaggleAuthError) && (err.status === 429 || err.status >= 500)
  );
}
