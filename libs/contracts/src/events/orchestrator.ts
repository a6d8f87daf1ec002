import { z } from 'zod';
import { defineEvent } from '../envelope';
import { Axis } from '../recipe';
import { Sha256, Slug } from '../ids';
import { Constitution, RollingPolicy } from '../policy';

export const AgentKind = z.enum(['heuristic', 'claude']);
export const MetaKind = z.enum(['rules', 'claude']);

export const CampaignConfig = z
  .object({
    campaignId: Slug,
    name: z.string().min(1).max(200).optional(),
    substratePath: z.string().min(1),
    constitutionPath: z.string().min(1),
    size: z.string().min(1).default('tiny'),
    rounds: z.number().int().min(1).max(1000),
    workersPerRound: z.number().int().min(1).max(512),
    axes: z.array(Axis).min(1),
    anchorSeeds: z.number().int().min(1).max(16).default(1),
    seed: z.number().int().min(0),
    workerKind: AgentKind.default('heuristic'),
    metaKind: MetaKind.default('rules'),
    leaderboard: z.enum(['local', 'kaggle']).default('local'),
    executor: z.enum(['local', 'kubernetes']).default('local'),
    budgets: z
      .object({
        gpuSeconds: z.number().positive(),
        llmTokens: z.number().int().min(0),
        submissionsPerRound: z.number().int().min(1),
      })
      .strict(),
  })
  .strict();
export type CampaignConfig = z.infer<typeof CampaignConfig>;

export const CampaignStarted = defineEvent(
  'CampaignStarted',
  { owners: ['orchestrator'], description: 'A campaign was accepted; its constitution hash is pinned here.' },
  z
    .object({
      config: CampaignConfig,
      /** sha256 of the constitution file's bytes, as read at campaign start. */
      constitutionSha256: Sha256,
      /** The parsed constitution, so the log alone tells what the meta-policy was bound by. */
      constitution: Constitution,
      initialPolicy: RollingPolicy,
    })
    .strict(),
);

export const PlannedCandidate = z
  .object({
    candidateId: Slug,
    index: z.number().int().min(0),
    axis: Axis,
    isAnchor: z.boolean(),
    seeds: z.array(z.number().int()).min(1),
  })
  .strict();

export const RoundStarted = defineEvent(
  'RoundStarted',
  { owners: ['orchestrator'], description: 'A round began under a policy revision, with its planned candidates.' },
  z
    .object({
      round: z.number().int().min(1),
      policyRevision: z.number().int().min(0),
      policySha256: Sha256,
      candidates: z.array(PlannedCandidate).min(1),
      seed: z.number().int(),
    })
    .strict(),
);

export const SubmissionRequested = defineEvent(
  'SubmissionRequested',
  { owners: ['orchestrator'], description: 'The orchestrator chose a candidate checkpoint for the leaderboard.' },
  z
    .object({
      round: z.number().int().min(1),
      submissionId: Slug,
      candidateId: Slug,
      checkpoint: z.string().min(1),
      sandboxPath: z.string().min(1),
      reason: z.string(),
    })
    .strict(),
);

export const RoundClosed = defineEvent(
  'RoundClosed',
  { owners: ['orchestrator'], description: 'All of a round’s evidence and its policy revision are recorded.' },
  z.object({ round: z.number().int().min(1), policyRevision: z.number().int().min(0), bestPublicLb: z.number().nullable() }).strict(),
);

export const CampaignPaused = defineEvent(
  'CampaignPaused',
  { owners: ['orchestrator'], description: 'No new work is started until resumed.' },
  z.object({ reason: z.string() }).strict(),
);
export const CampaignResumed = defineEvent('CampaignResumed', { owners: ['orchestrator'], description: 'Work continues.' }, z.object({}).strict());
export const CampaignAborted = defineEvent(
  'CampaignAborted',
  { owners: ['orchestrator'], description: 'The campaign was stopped for good.' },
  z.object({ reason: z.string() }).strict(),
);
export const CampaignCompleted = defineEvent(
  'CampaignCompleted',
  { owners: ['orchestrator'], description: 'The final audit is recorded; the campaign is over.' },
  z
    .object({
      rounds: z.number().int().min(0),
      reason: z.enum(['rounds-exhausted', 'budget-exhausted']),
      bestCandidateId: z.string().nullable(),
      bestPublicLb: z.number().nullable(),
      bestPrivateLb: z.number().nullable(),
    })
    .strict(),
);
