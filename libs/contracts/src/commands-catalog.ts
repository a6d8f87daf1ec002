import { z } from 'zod';
import { defineCommand } from './commands';
import { CampaignConfig } from './events/orchestrator';
import { NewCampaignId, Slug } from './ids';

export const StartCampaign = defineCommand(
  'StartCampaign',
  {
    handler: 'orchestrator',
    description: 'Start a campaign with a substrate, a constitution, rounds, workers, axes and budgets.',
  },
  // Only a new campaign's id is capped: the ids derived from it must fit their schemas (ids.ts, DERIVED_IDS).
  CampaignConfig.extend({ campaignId: NewCampaignId }),
);
export const StartRound = defineCommand(
  'StartRound',
  { handler: 'orchestrator', description: 'Start the next round of a campaign (normally automatic).' },
  z.object({ campaignId: Slug, round: z.number().int().min(1) }).strict(),
);
export const PauseCampaign = defineCommand(
  'PauseCampaign',
  { handler: 'orchestrator', description: 'Stop starting new work; running jobs finish.' },
  z.object({ campaignId: Slug, reason: z.string().max(500).default('paused by operator') }).strict(),
);
export const ResumeCampaign = defineCommand(
  'ResumeCampaign',
  { handler: 'orchestrator', description: 'Resume a paused campaign.' },
  z.object({ campaignId: Slug }).strict(),
);
export const AbortCampaign = defineCommand(
  'AbortCampaign',
  { handler: 'orchestrator', description: 'Stop a campaign for good.' },
  z.object({ campaignId: Slug, reason: z.string().min(1).max(500) }).strict(),
);
export const CancelJob = defineCommand(
  'CancelJob',
  { handler: 'dispatch', description: 'Cancel a queued or running job.' },
  z.object({ campaignId: Slug, jobId: Slug, reason: z.string().min(1).max(500) }).strict(),
);
export const UnsealPrivateLeaderboard = defineCommand(
  'UnsealPrivateLeaderboard',
  {
    handler: 'leaderboard',
    description:
      'Final audit: reveal the sealed private scores of every scored submission ' +
      '(PrivateLeaderboardUnsealed); idempotent.',
  },
  z.object({ campaignId: Slug }).strict(),
);

/**
 * A path inside a sandbox as a caller may name it: relative, no `..` segment, no NUL. An escaping path is the
 * caller's mistake (or attack), refused before anything is checked or recorded, never judged as the candidate's.
 */
export const SandboxRelativePath = z
  .string()
  .min(1)
  .max(1000)
  .refine((p) => !p.includes('\0'), 'must not contain NUL')
  .refine((p) => !p.startsWith('/') && !p.startsWith('\\'), 'must be relative to the sandbox (no leading "/")')
  .refine((p) => !p.split(/[\\/]/).includes('..'), 'must not contain ".." segments');

export const VerifySandbox = defineCommand(
  'VerifySandbox',
  {
    handler: 'substrate',
    description:
      'Check a candidate sandbox against its snapshot (frozen hashes, symlinks, escaping paths) before ' +
      'evaluating it; records FrozenPathViolated; result: SandboxVerification.',
  },
  z
    .object({
      campaignId: Slug,
      candidateId: Slug,
      checkedAt: z.enum(['before-evaluation', 'round-close', 'on-demand']).default('before-evaluation'),
      /** Sandbox-relative paths about to be used (e.g. checkpoints to evaluate); each must stay inside the sandbox. */
      paths: z.array(SandboxRelativePath).max(1000).default([]),
    })
    .strict(),
);
