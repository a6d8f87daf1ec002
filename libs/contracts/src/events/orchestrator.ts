import { z } from 'zod';
import { defineEvent } from '../envelope';
import { Axis } from '../recipe';
import { Sha256, Slug } from '../ids';
import { Constitution, RollingPolicy } from '../policy';
import { PrescribedRun } from '../research';

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
    /**
     * The Claude model of the campaign's Claude worker, meta agent and collector prose pass. Optional on the wire:
     * StartCampaign refuses an id the installed SDK does not know or has retired (claudeModelProblem) and fills in
     * DEFAULT_CLAUDE_MODEL when absent, so every CampaignStarted since carries one; a campaign started before has
     * none, and the services use their configured model for it.
     */
    claudeModel: z.string().min(1).max(100).optional(),
    leaderboard: z.enum(['local', 'kaggle']).default('local'),
    executor: z.enum(['local', 'kubernetes']).default('local'),
    /**
     * `auto` (also when absent): the orchestrator starts round 1 and every next round itself; `manual`: each round
     * waits for a StartRound command (`aevo round start`). Submissions, round close and the final audit are
     * automatic either way.
     */
    roundStart: z.enum(['auto', 'manual']).optional(),
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
    /** A confirmation run or decoupling probe: its recipe change is the policy's, not a worker's. */
    prescribed: PrescribedRun.optional(),
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

/** Budget spent so far: GPU-seconds from job terminal events, LLM tokens from manifests and meta/collector turns. */
export const BudgetSpent = z.object({ gpuSeconds: z.number().min(0), llmTokens: z.number().int().min(0) }).strict();
export type BudgetSpent = z.infer<typeof BudgetSpent>;

export const RoundClosed = defineEvent(
  'RoundClosed',
  { owners: ['orchestrator'], description: 'All of a round’s evidence and its policy revision are recorded.' },
  z
    .object({
      round: z.number().int().min(1),
      /** The revision the meta-policy derived from this round's evidence (the next round's policy). */
      policyRevision: z.number().int().min(0),
      /** Best public LB score of this round's submissions (null when none was scored). */
      bestPublicLb: z.number().nullable(),
      /**
       * The round's RoundEvidenceRecorded.evidenceSha256 and the revised policy's sha256, as the orchestrator read
       * them.
       */
      evidenceSha256: Sha256.nullable().optional(),
      policySha256: Sha256.optional(),
      /** Campaign budget spent when the round closed. */
      spent: BudgetSpent.optional(),
    })
    .strict(),
);

export const BudgetExhausted = defineEvent(
  'BudgetExhausted',
  {
    owners: ['orchestrator'],
    description:
      'A campaign budget ran out in the middle of a round: its open jobs are cancelled, its workers stop ' +
      'before their next step, and the round closes with what it has (then the final audit).',
  },
  z
    .object({
      round: z.number().int().min(1),
      spent: BudgetSpent,
      exhausted: z.array(z.enum(['gpuSeconds', 'llmTokens'])).min(1),
    })
    .strict(),
);

/** The one wording of why work stops after BudgetExhausted (cancelled jobs, stopped candidates, the CLI's status). */
export const budgetExhaustedReason = (d: { round: number; exhausted: readonly string[] }): string =>
  `budget exhausted in round ${d.round}: ${d.exhausted.join(', ')}`;

export const FinalAuditStarted = defineEvent(
  'FinalAuditStarted',
  {
    owners: ['orchestrator'],
    description:
      'No round is left to run (rounds or budget exhausted); the orchestrator asks the leaderboard to ' +
      'unseal the private scores.',
  },
  z
    .object({
      reason: z.enum(['rounds-exhausted', 'budget-exhausted']),
      /** Rounds closed when the audit started. */
      rounds: z.number().int().min(0),
      spent: BudgetSpent,
      /** Which budget ran out (budget-exhausted only). */
      exhausted: z.array(z.enum(['gpuSeconds', 'llmTokens'])).default([]),
    })
    .strict(),
);

export const CampaignPaused = defineEvent(
  'CampaignPaused',
  { owners: ['orchestrator'], description: 'No new work is started until resumed.' },
  z.object({ reason: z.string() }).strict(),
);
export const CampaignResumed = defineEvent(
  'CampaignResumed',
  { owners: ['orchestrator'], description: 'Work continues.' },
  z.object({}).strict(),
);
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
      /** Private LB score of the best-public candidate's submission, revealed by the final audit. */
      bestPrivateLb: z.number().nullable(),
      bestRound: z.number().int().min(1).nullable().optional(),
      bestSubmissionId: z.string().nullable().optional(),
      /** Scored submissions the unseal revealed. */
      submissions: z.number().int().min(0).optional(),
    })
    .strict(),
);
