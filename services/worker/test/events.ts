import {
  CampaignStarted,
  CandidateForked,
  PolicyRevised,
  RollingPolicy,
  contentHash,
  createEvent,
  type Axis,
  type EventDefinition,
  type EventEnvelope,
  type RecipeDocument,
  type ServiceName,
} from '@aevo/contracts';
import type { z } from 'zod';

/** Events of the other services, as they would append them, for driving the worker service in tests. */

const SHA = 'c'.repeat(64);
const ev = <D extends EventDefinition>(
  def: D,
  campaignId: string,
  source: ServiceName,
  streamId: string,
  data: z.input<D['data']>,
): EventEnvelope => createEvent(def, data, { campaignId, streamId, source });

export function policy(
  revision: number,
  standingRecipe: RecipeDocument,
  over: Partial<RollingPolicy> = {},
): RollingPolicy {
  return RollingPolicy.parse({
    revision,
    forRound: revision + 1,
    standingRecipe,
    activeCategory: 'optimisation',
    activeAxes: ['learning-rate'],
    retiredAxes: [],
    deadEnds: [],
    promotionThreshold: 0.01,
    noiseBand: { devStd: 0, lbStd: 0, seeds: 0, round: 0 },
    anchorSeeds: 2,
    selectionCriterion: { kind: 'mean' },
    objective: 'raise-dev-and-lb',
    evidenceRules: [],
    bestPublicLb: null,
    plateauRounds: 0,
    rationale: 'test',
    ...over,
  });
}

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
      rules: {
        leaderboardAuthoritative: true,
        plateauRoundsBeforeRotation: 2,
        deadEndRegistryOnlyGrows: true,
        promotionRequiresLbGain: true,
        minThresholdNoiseMultiple: 1,
        decouplingNoiseMultiple: 2,
      },
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
