/** The loopback Kaggle server's settings and the records it keeps (see LoopbackKaggleServer). */
export interface LoopbackKaggleOptions {
  /** Accepted Bearer token. */
  token?: string;
  /** Accepted legacy Basic credentials. */
  basic?: { username: string; key: string };
  /** The one competition that exists. Default wonderland-reasoning. */
  competitionName?: string;
  /** Whether the account has joined (accepted the rules of) the competition. Default true. */
  joined?: boolean;
  /** Submissions a day (UTC) before CreateSubmission answers 400. Default 5. */
  allowance?: number;
  /** Reads of a submission that still answer PENDING before it resolves. Default 2. */
  pendingReads?: number;
  /** How an uploaded file scores; default: COMPLETE with 0.5. */
  judge?: (content: Buffer, fileName: string) => Verdict;
  /** Answer 404 to GetSubmission, so clients must fall back to ListSubmissions. */
  withoutGetSubmission?: boolean;
  /** Answer 404 to GetSubmissionLimits, as a service from before kagglesdk 0.1.35 would. */
  withoutSubmissionLimits?: boolean;
  /** Answer the next N calls of these methods (or `upload` for the PUT) with HTTP 503. */
  failNext?: Record<string, number>;
  /** Answer the next N calls of these methods (or `upload`) with HTTP 429 and Retry-After. */
  rateLimitNext?: Record<string, number>;
  /** Retry-After of a 429, in seconds. Default 1. */
  retryAfterSeconds?: number;
  /** Most items one page holds, whatever pageSize asks for. Default 20. */
  maxPageSize?: number;
  /** Refusals carry no reason: `{"code":400,"message":"Bad Request"}`. */
  bareErrors?: boolean;
  /** Answer 400 to a description holding `/` (reported of the real service). Default true. */
  rejectSlashInDescription?: boolean;
  /** Longest description accepted. Default 255. */
  maxDescriptionLength?: number;
  /** The leaderboard's entries, best first. Default none. */
  leaderboard?: Array<{ teamId: number; teamName: string; score: string; submissionDate?: string }>;
  /**
   * Submissions made before the test (oldest first), already scored; they count against today's allowance only if
   * `today`.
   */
  preexisting?: Array<{ description: string; fileName?: string; verdict?: Verdict; today?: boolean }>;
  /** The server's clock. Default Date.now. */
  now?: () => number;
}

export type Verdict =
  { status: 'COMPLETE'; publicScore: number; privateScore?: number } | { status: 'ERROR'; errorDescription: string };

export interface LoopbackCall {
  method: string;
  authorization: string | undefined;
  body: unknown;
  /** The HTTP status answered. */
  status: number;
}

export interface StoredSubmission {
  ref: string;
  fileName: string;
  description: string;
  content: Buffer;
  reads: number;
  date: string;
  /** Decided when the submission resolves; fixed for pre-existing ones. */
  verdict?: Verdict;
}
