import { z } from 'zod';
import { defineEvent } from '../envelope';
import { Sha256, Slug } from '../ids';

/**
 * The leaderboard keeps one stream per campaign, `leaderboard:<campaignId>`. Per submission:
 *   local:  SubmissionAccepted + JobRequested(predict) → LeaderboardScored | SubmissionRejected
 * kaggle: JobRequested(predict) → SubmissionAccepted{externalRef: Kaggle ref} → LeaderboardScored | SubmissionRejected
 * or SubmissionRejected{quota-exceeded} alone. Private scores are never in an event before PrivateLeaderboardUnsealed.
 */
export const LeaderboardOpened = defineEvent(
  'LeaderboardOpened',
  {
    owners: ['leaderboard'],
    description: 'The campaign’s leaderboard is ready (local: hidden split generated outside every sandbox).',
  },
  z
    .object({
      board: z.enum(['local', 'kaggle']),
      submissionsPerRound: z.number().int().min(1),
      /** Kaggle competition name (kaggle board only). */
      competition: z.string().min(1).nullable(),
      /** Number of prompts a submission must answer (public + private halves on the local board). */
      prompts: z.number().int().min(0).nullable(),
      /** sha256 of the hidden split files, so an audit can tell the split never changed; reveals nothing. */
      splitSha256: Sha256.nullable(),
    })
    .strict(),
);

export const LeaderboardUnavailable = defineEvent(
  'LeaderboardUnavailable',
  {
    owners: ['leaderboard'],
    description: 'The campaign’s leaderboard could not be set up; every submission will be rejected with this reason.',
  },
  z.object({ board: z.enum(['local', 'kaggle']), reason: z.string().min(1) }).strict(),
);

export const SubmissionAccepted = defineEvent(
  'SubmissionAccepted',
  { owners: ['leaderboard'], description: 'The leaderboard took a submission and is scoring it.' },
  z
    .object({
      submissionId: Slug,
      candidateId: Slug,
      round: z.number().int().min(1),
      board: z.enum(['local', 'kaggle']),
      /** Kaggle submission ref; null on the local board. */
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
          .object({
            submissionId: Slug,
            candidateId: Slug,
            round: z.number().int().min(1),
            publicScore: z.number(),
            privateScore: z.number(),
            /** Per-domain private scores where the board has them (local board). */
            privateDomains: z.record(z.string(), z.number().min(0).max(1)).nullable().default(null),
          })
          .strict(),
      ),
    })
    .strict(),
);
