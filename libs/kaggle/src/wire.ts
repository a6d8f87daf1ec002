import { z } from 'zod';

/**
 * The wire protocol of competitions.CompetitionApiService, as kagglesdk defines it
 * (kagglesdk/competitions/services/competition_api_service.py for the method names,
 * kagglesdk/competitions/types/competition_api_service.py for the field names, kagglesdk/kaggle_http_client.py for the
 * URL: `POST <endpoint>/v1/<service>/<Method>` with a JSON body).
 *
 * How values travel (kagglesdk/kaggle_object.py): lowerCamelCase field names; a field at its default value is left out
 * (so a PENDING submission has no `status`, a count of 0 has no field, a last page has no `nextPageToken`); enums by
 * name; int64 as a JSON number or a decimal string; scores are strings such as "0.85000".
 */
export const SERVICE = 'competitions.CompetitionApiService';

/** The service's method names, exactly as kagglesdk's CompetitionApiClient sends them (no `Api` prefix). */
export const Methods = {
  startSubmissionUpload: 'StartSubmissionUpload',
  createSubmission: 'CreateSubmission',
  getSubmission: 'GetSubmission',
  listSubmissions: 'ListSubmissions',
  getLeaderboard: 'GetLeaderboard',
  getCompetition: 'GetCompetition',
  /** Added in kagglesdk 0.1.35 (July 2026): the team's allowance, `ApiGetSubmissionLimitsRequest{competitionName}`. */
  getSubmissionLimits: 'GetSubmissionLimits',
} as const;
export type MethodName = (typeof Methods)[keyof typeof Methods];

/** The URL path of one method, relative to the endpoint (https://api.kaggle.com in production). */
export function methodPath(method: MethodName): string {
  return `/v1/${SERVICE}/${method}`;
}

const Ref = z.union([z.number().int(), z.string().regex(/^\d+$/, 'expected decimal digits')]).transform(String);

/** An int32/int64 field; absent means its default, 0. */
const Count = z
  .union([
    z.number().int(),
    z
      .string()
      .regex(/^-?\d+$/, 'expected an integer')
      .transform(Number),
  ])
  .optional()
  .transform((n) => n ?? 0);
/** A bool field; absent means false. */
const Flag = z
  .boolean()
  .optional()
  .transform((b) => b ?? false);
/** A page token; absent or "" means this was the last page. */
const PageToken = z
  .string()
  .optional()
  .transform((t) => (t ? t : null));

export const StartSubmissionUploadResponse = z.object({
  token: z.string().min(1, 'expected a non-empty upload token'),
  createUrl: z.string().url('expected the URL to PUT the file to'),
});

export const CreateSubmissionResponse = z.object({
  ref: Ref,
  message: z.string().optional(),
});

export const SubmissionStatus = z.enum(['PENDING', 'COMPLETE', 'ERROR']);
export type SubmissionStatus = z.infer<typeof SubmissionStatus>;

/** "COMPLETE", "complete", "SUBMISSION_STATUS_COMPLETE" all mean COMPLETE; absent means the default, PENDING. */
const Status = z
  .string()
  .optional()
  .transform((s) => (s ?? 'PENDING').toUpperCase().replace(/^SUBMISSION_STATUS_/, ''))
  .pipe(SubmissionStatus);

const Score = z
  .union([z.string(), z.number(), z.null()])
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v === null || v === '') return null;
    const n = typeof v === 'number' ? v : Number(v);
    if (!Number.isFinite(n)) {
      ctx.addIssue({ code: 'custom', message: `expected a numeric score, got ${JSON.stringify(v)}` });
      return z.NEVER;
    }
    return n;
  });

export const ApiSubmission = z.object({
  ref: Ref,
  status: Status,
  publicScore: Score,
  privateScore: Score,
  description: z.string().optional(),
  errorDescription: z.string().optional(),
  fileName: z.string().optional(),
  date: z.string().optional(),
  totalBytes: z.union([z.number(), z.string()]).optional(),
});
export type KaggleSubmission = z.output<typeof ApiSubmission>;

/** ApiListSubmissionsResponse{submissions, nextPageToken}. */
export const ListSubmissionsResponse = z.object({
  submissions: z
    .array(ApiSubmission)
    .optional()
    .transform((s) => s ?? []),
  nextPageToken: PageToken,
});

/** ApiLeaderboardSubmission{teamId, teamName, submissionDate, score}. */
export const LeaderboardEntry = z.object({
  teamId: z.union([z.number(), z.string()]).optional(),
  teamName: z.string().optional(),
  submissionDate: z.string().optional(),
  score: z.string().optional(),
});
export type KaggleLeaderboardEntry = z.output<typeof LeaderboardEntry>;

/** ApiGetLeaderboardResponse{submissions, nextPageToken}. */
export const GetLeaderboardResponse = z.object({
  submissions: z
    .array(LeaderboardEntry)
    .optional()
    .transform((s) => s ?? []),
  nextPageToken: PageToken,
});

/** The part of ApiCompetition that tells whether this account may submit. */
export const ApiCompetition = z.object({
  ref: z.string().optional(),
  title: z.string().optional(),
  userHasEntered: Flag,
  maxDailySubmissions: Count,
  submissionsDisabled: Flag,
  deadline: z.string().optional(),
});
export type KaggleCompetition = z.output<typeof ApiCompetition>;

/** ApiGetSubmissionLimitsResponse: what the team has used and may still submit now. */
export const GetSubmissionLimitsResponse = z.object({
  numToday: Count,
  numTotal: Count,
  numAllowedNow: Count,
  /** The lifetime cap, not the daily one, is what limits numAllowedNow. */
  limitedByTotal: Flag,
});
export type KaggleSubmissionLimits = z.output<typeof GetSubmissionLimitsResponse>;

/**
 * The body of an error answer. kagglesdk's client reads `{code, message}` (kaggle_http_client.py, _prepare_response);
 * rate limits have been seen as Google's `{error: {code, message, status}}`; anything else is kept as text.
 */
export interface KaggleErrorBody {
  code: number | null;
  message: string;
  /** Google-style status name such as RESOURCE_EXHAUSTED, where the body has one. */
  status: string | null;
}

export function parseErrorBody(text: string, fallback: string): KaggleErrorBody {
  try {
    const j = JSON.parse(text) as {
      code?: unknown;
      message?: unknown;
      status?: unknown;
      error?: { code?: unknown; message?: unknown; status?: unknown };
    };
    const src = j && typeof j === 'object' && j.error && typeof j.error === 'object' ? j.error : j;
    if (src && typeof src === 'object' && typeof src.message === 'string' && src.message)
      return {
        code: typeof src.code === 'number' ? src.code : null,
        message: src.message,
        status: typeof src.status === 'string' ? src.status : null,
      };
  } catch {
    /* not JSON: the raw text below */
  }
  return { code: null, message: text.trim().slice(0, 500) || fallback, status: null };
}
