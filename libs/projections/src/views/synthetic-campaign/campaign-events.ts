import {
  CampaignCompleted,
  CampaignStarted,
  contentHash,
  FinalAuditStarted,
  PrivateLeaderboardUnsealed,
  type RollingPolicy,
} from '@aevo/contracts';
import type { CampaignProgress, SyntheticContext } from './context';
import { AXES } from './surface';

/** The campaign's start: its configuration (budgets scaled to its size), constitution and initial policy. */
export function startCampaign(ctx: SyntheticContext, n: number, policy: RollingPolicy): void {
  const { ev, campaignId, rounds, seed, campaignStream } = ctx;
  ev(
    CampaignStarted,
    {
      config: {
        campaignId,
        name: `synthetic ${rounds}×${n}`,
        substratePath: 'substrate/simulated',
        constitutionPath: 'deploy/constitutions/default.yaml',
        size: 'tiny',
        rounds,
        workersPerRound: n,
        axes: AXES,
        anchorSeeds: 2,
        seed,
        workerKind: 'heuristic',
        metaKind: 'rules',
        leaderboard: 'local',
        executor: 'local',
        budgets: { gpuSeconds: 400 * rounds * n, llmTokens: 2000 * rounds * n, submissionsPerRound: 4 },
      },
      constitutionSha256: contentHash('synthetic constitution'),
      constitution: {
        name: 'synthetic',
        version: '1',
        text: 'The leaderboard is authoritative.',
        rules: {
          leaderboardAuthoritative: true,
          plateauRoundsBeforeRotation: 2,
          deadEndRegistryOnlyGrows: true,
          promotionRequiresLbGain: true,
          minThresholdNoiseMultiple: 2,
          decouplingNoiseMultiple: 2,
          noiseStdFloor: 0.005,
        },
      },
      initialPolicy: policy,
    },
    campaignStream,
    'orchestrator',
  );
}

/** The campaign's end once its rounds are exhausted: final audit, private leaderboard unsealed, best submission. */
export function completeCampaign(ctx: SyntheticContext, progress: CampaignProgress): void {
  const { ev, campaignId, rounds, campaignStream } = ctx;
  const { spent, unsealed, best } = progress;
  ev(FinalAuditStarted, { reason: 'rounds-exhausted', rounds, spent, exhausted: [] }, campaignStream, 'orchestrator');
  ev(
    PrivateLeaderboardUnsealed,
    { scores: unsealed.map((s) => ({ ...s, privateDomains: null })) },
    `leaderboard-${campaignId}`,
    'leaderboard',
  );
  ev(
    CampaignCompleted,
    {
      rounds,
      reason: 'rounds-exhausted',
      bestCandidateId: best?.candidateId ?? null,
      bestPublicLb: best?.publicLb ?? null,
      bestPrivateLb: best?.privateLb ?? null,
      bestRound: best?.round ?? null,
      bestSubmissionId: best?.submissionId ?? null,
      submissions: unsealed.length,
    },
    campaignStream,
    'orchestrator',
  );
}
