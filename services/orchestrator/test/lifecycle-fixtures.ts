/** The campaign decider's lifecycle specs' shared inputs: a config, its constitution, round 1 and the facts. */
import { CampaignConfig, contentHash, DomainError, type Constitution, type RollingPolicy } from '@aevo/contracts';
import { DeciderSpecification } from '@aevo/testkit';
import { factsFor } from './fixtures';
import {
  campaignDecider,
  evolve,
  initialCampaignState,
  type CampaignEvent,
  type CampaignState,
} from '../src/domain/campaign';
import { type CampaignFacts } from '../src/domain/facts';
import { planRound, roundSeed } from '../src/domain/planning';

export const config = CampaignConfig.parse({
  campaignId: 'c1',
  substratePath: 'substrate/simulated',
  constitutionPath: 'constitutions/default.yaml',
  rounds: 2,
  workersPerRound: 4,
  axes: ['learning-rate', 'schedule', 'data-mix'],
  seed: 42,
  budgets: { gpuSeconds: 1000, llmTokens: 0, submissionsPerRound: 2 },
});
export const constitution: Constitution = {
  name: 'default',
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
};
export const spec = DeciderSpecification(campaignDecider);
export const code = (c: string) => (err: unknown) => err instanceof DomainError && err.code === c;

export const startedWith = (cfg: CampaignConfig): CampaignEvent =>
  spec
    .given([])
    .when({
      type: 'StartCampaign',
      config: cfg,
      constitution,
      constitutionSha256: 'a'.repeat(64),
      standingRecipe: { lr: 0.001 },
      receivedAt: new Date('2026-12-07T08:00:00Z'),
    })
    .then(() => undefined)[0];
export const started = startedWith(config);
export const policy0 = (started.type === 'CampaignStarted' ? started.data.initialPolicy : null) as RollingPolicy;
export const revised = (round: number, patch: Partial<RollingPolicy> = {}): RollingPolicy => ({
  ...policy0,
  revision: round,
  forRound: round + 1,
  ...patch,
});
export const round1: CampaignEvent = {
  type: 'RoundStarted',
  data: {
    round: 1,
    policyRevision: 0,
    policySha256: contentHash(policy0),
    seed: roundSeed(42, 1),
    candidates: planRound('c1', 1, roundSeed(42, 1), 4, policy0),
  },
};
export const advance = (facts: CampaignFacts) => ({ type: 'Advance' as const, campaignId: 'c1', facts });
export const fold = (events: CampaignEvent[]): CampaignState => events.reduce(evolve, initialCampaignState());

export const {
  forked,
  manifest,
  workerFailed,
  violated,
  policyRevised,
  evidence,
  scored,
  jobDone,
  jobFailed,
  unsealed,
} = factsFor('c1');
export const round1Done = (devs = [0.5, 0.6, 0.7, 0.4]) => [
  ...[0, 1, 2, 3].map((i) => forked(1, i)),
  ...devs.map((d, i) => manifest(1, i, d)),
];
