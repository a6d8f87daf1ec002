import {
  CampaignStarted,
  CandidateForked,
  PolicyRevised,
  type RollingPolicy,
  contentHash,
  type Axis,
  type RecipeDocument,
} from '@aevo/contracts';
import { eventAs as ev, policies, TEST_CONSTITUTION_RULES } from '@aevo/testkit';

/** Events of the other services, as they would append them, for driving the worker service in tests. */

const SHA = 'c'.repeat(64);

/** The policy the worker reads: testkit's plain policy (learning-rate, two anchor seeds), then the overrides. */
export const policy = (revision: number, standingRecipe: RecipeDocument, over: Partial<RollingPolicy> = {}) =>
  policies.plain(revision, standingRecipe, over);

export const campaignStarted = (
  campaignId: string,
  initialPolicy: RollingPolicy,
  over: {
    workersPerRound?: number;
    rounds?: number;
    workerKind?: 'heuristic' | 'claude';
    constitutionSha256?: string;
    llmTokens?: number;
  } = {},
) =>
  ev(CampaignStarted, campaignId, 'orchestrator', `campaign-${campaignId}`, {
    config: {
      campaignId,
      substratePath: 'substrate/fixture',
      constitutionPath: 'constitutions/default.yaml',
      rounds: over.rounds ?? 3,
      workersPerRound: over.workersPerRound ?? 8,
      axes: ['learning-rate'],
      seed: 1,
      workerKind: over.workerKind ?? 'heuristic',
      budgets: { gpuSeconds: 100000, llmTokens: over.llmTokens ?? 0, submissionsPerRound: 1 },
    },
    constitutionSha256: over.constitutionSha256 ?? SHA,
    constitution: {
      name: 'test-constitution',
      version: '1',
      text: 'The leaderboard is authoritative. The dead-end registry only grows.',
      rules: TEST_CONSTITUTION_RULES,
    },
    initialPolicy,
  });

export const policyRevised = (campaignId: string, round: number, p: RollingPolicy) =>
  ev(PolicyRevised, campaignId, 'meta-policy', `policy-${campaignId}`, {
    round,
    policy: p,
    policySha256: contentHash(p),
    previousRevision: p.revision - 1,
    evidenceSha256: SHA,
    constitutionSha256: SHA,
    proposer: 'rules',
    changes: ['test revision'],
    llm: null,
  });

/** The snapshot every fork here names (tests place a substrate copy at `<AEVO_HOME>/snapshots/<SNAPSHOT_ID>`). */
export const SNAPSHOT_ID = 'd'.repeat(64);

export const candidateForked = (
  campaignId: string,
  data: {
    round: number;
    candidateId: string;
    index: number;
    axis: Axis;
    isAnchor: boolean;
    seeds: number[];
    sandboxPath: string;
    policyRevision: number;
  },
) => ev(CandidateForked, campaignId, 'substrate', `substrate-${campaignId}`, { ...data, snapshotId: SNAPSHOT_ID });
