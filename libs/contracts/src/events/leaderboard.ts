import { z } from 'zod';
import { defineEvent } from '../envelope';
import { Slug } from '../ids';

export const SubmissionAccepted = defineEvent(
  'SubmissionAccepted',
  { owners: ['leaderboard'], description: 'The leaderboard took a submission and is scoring it.' },
  z
    .object({
      submissionId: Slug,
      candidateId: Slug,
      round: z.number().int().min(1),
      board: z.enum(['local', 'kaggle']),
      externalRef: z.string().nullable(),
      quotaUsed: z.number().int().min(1),
      quotaLimit: z.number().int().min(1),
    })
    .strict(),
);

export const LeaderboardScored = defineEvent(
  'LeaderboardScored',
  { owners: ['leaderboard'], description: 'A submission’s public score is known (the private score stays sealed).' },
  z
    .object({
      submissionId: Slug,
      candidateId: Slug,
      round: z.number().int().min(1),
      publicScore: z.number().min(0).max(1),
      /** Per-domain public scores where the board reveals them (local board does; Kaggle does not). */
      publicDomains: z.record(z.string(), z.number().min(0).max(1)).nullable(),
    })
    .strict(),
);

export const SubmissionRejected = defineEvent(
  'SubmissionRejected',
  { owners: ['leaderboard'], description: 'A submission was refused (quota, invalid predictions, board error).' },
  z
    .object({
      submissionId: Slug,
      candidateId: Slug,
      round: z.number().int().min(1),
      reason: z.enum(['quota-exceeded', 'invalid-predictions', 'board-error', 'candidate-invalidated']),
      message: z.string(),
    })
    .strict(),
);

export const PrivateLeaderboardUnsealed = defineEvent(
  'PrivateLeaderboardUnsealed',
  { owners: ['leaderboard'], description: 'The final audit revealed the private scores of every submission.' },
  z
    .object({
      scores: z.array(
        z
          .object({ submissionId: Slug, candidateId: Slug, round: z.number().int().min(1), publicScore: z.number(), privateScore: z.number() })
          .strict(),
      ),
    })
    .strict(),
);
