import { z } from 'zod';

/**
 * JSON shapes of competitions.CompetitionApiService as kagglesdk serialises them: lowerCamelCase field names,
 * fields at their default value omitted (so a PENDING submission may carry no `status`), int64 refs as
 * numbers or strings, scores as strings such as "0.85000", enums by name.
 */
export const SERVICE = 'competitions.CompetitionApiService';

/** Request method names as kagglesdk sends them (the URL's last segment). */
export const Methods = {
  startSubmissionUpload: 'ApiStartSubmissionUpload',
  createSubmission: 'ApiCreateSubmission',
  getSubmission: 'ApiGetSubmission',
  listSubmissions: 'ApiListSubmissions',
  getLeaderboard: 'ApiGetLeaderboard',
} as const;

const Ref = z.union([z.number().int(), z.string().regex(/^\d+$/, 'expected decimal digits')]).transform(String);

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

export const ListSubmissionsResponse = z.object({
  submissions: z.array(ApiSubmission).optional().transform((s) => s ?? []),
});

export const LeaderboardEntry = z.object({
  teamId: z.union([z.number(), z.string()]).optional(),
  teamName: z.string().optional(),
  submissionDate: z.string().optional(),
  score: z.string().optional(),
});
export const GetLeaderboardResponse = z.object({
  submissions: z.array(LeaderboardEntry).optional().transform((s) => s ?? []),
});
export type KaggleLeaderboardEntry = z.output<typeof LeaderboardEntry>;
