/** One hand-written round of a campaign for the view builders' tests (views.spec.ts). */
import {
  CampaignStarted,
  contentHash,
  createEvent,
  DecouplingSuspected,
  JobFailed,
  JobRequested,
  JobSucceeded,
  LeaderboardScored,
  ManifestSubmitted,
  PolicyRevised,
  RoundStarted,
  SubmissionRequested,
  TraceStepRecorded,
  type EventDefinition,
  type EventEnvelope,
  type RollingPolicy,
  type ServiceName,
} from '@aevo/contracts';
import { initialPolicy } from '@aevo/policy-engine';
import type { z } from 'zod';

export const C = 'views';
export const ev = <D extends EventDefinition>(def: D, data: z.input<D['data']>, source: ServiceName = 'orchestrator') =>
  createEvent(def, data, { campaignId: C, streamId: `s-${C}`, source }) as EventEnvelope;

// Revision 0 as the orchestrator records it, with both axes active and a promotion bar already set.
const policy0: RollingPolicy = {
  ...initialPolicy({
    standingRecipe: { train: { lr: 0.001 } },
    axes: ['learning-rate', 'synthetic-data'],
    anchorSeeds: 2,
  }),
  activeAxes: ['learning-rate', 'synthetic-data'],
  promotionThreshold: 0.01,
  rationale: 'initial',
};

export const manifest = (
  candidateId: string,
  axis: 'baseline' | 'learning-rate' | 'synthetic-data',
  dev: number,
  changes: Array<{ path: string; from: unknown; to: unknown }>,
) => ({
  candidateId,
  round: 1,
  manifest: {
    campaignId: C,
    round: 1,
    candidateId,
    axis,
    isAnchor: axis === 'baseline',
    status: 'completed' as const,
    hypothesis: `h ${candidateId}`,
    recipeChanges: changes,
    recipeDiff: '',
    filesChanged: changes.length ? ['recipe.yaml'] : [],
    seeds: [1],
    checkpoints: [{ checkpoint: 'ck', step: 100, seed: 1, dev: { overall: dev, domains: { equation: dev } } }],
    chosenCheckpoint: {
      checkpoint: 'ck',
      seed: 1,
      criterion: 'mean',
      reason: 'best',
      dev: { overall: dev, domains: { equation: dev } },
    },
    failureModes: [],
    cost: { gpuSeconds: 0, inputTokens: 100, outputTokens: 20, toolCalls: 1, jobs: 1 },
    traceLength: 2,
  },
});

export const job = (jobId: string, candidateId: string) => ({
  spec: {
    jobId,
    candidateId,
    round: 1,
    entrypoint: 'train' as const,
    sandboxPath: '/s',
    argv: ['train'],
    resources: { cpu: 1, memoryMiB: 512, gpu: 1 },
    timeoutSeconds: 60,
    isolation: { snapshotId: contentHash('s'), outputs: ['runs'], inputs: [] },
  },
});
export const terminal = (jobId: string, candidateId: string, gpuSeconds: number) => ({
  jobId,
  candidateId,
  round: 1,
  gpuSeconds,
  wallSeconds: gpuSeconds,
  logPath: null,
  executor: 'local' as const,
  gpuCount: 1,
  budgetUnit: 'gpu-seconds' as const,
});
export const sub = (submissionId: string, candidateId: string) => ({
  round: 1,
  submissionId,
  candidateId,
  checkpoint: 'ck',
  sandboxPath: '/s',
  reason: 'test',
});
export const scored = (submissionId: string, candidateId: string, publicScore: number) => ({
  submissionId,
  candidateId,
  round: 1,
  publicScore,
  publicDomains: null,
});

/**
 * One round: anchor c0 (two LB replicates 0.50 and 0.52), c1 raises lr (dev 0.65, LB 0.56), c2 adds synthetic data (dev
 * 0.70, LB 0.50).
 */
export function oneRound(): EventEnvelope[] {
  const policy1: RollingPolicy = {
    ...policy0,
    revision: 1,
    forRound: 2,
    standingRecipe: { train: { lr: 0.002 } },
    noiseBand: { devStd: 0.01, lbStd: 0.02, seeds: 2, round: 1 },
  };
  return [
    ev(CampaignStarted, {
      config: {
        campaignId: C,
        substratePath: 's',
        constitutionPath: 'c',
        rounds: 2,
        workersPerRound: 3,
        axes: ['learning-rate', 'synthetic-data'],
        seed: 1,
        budgets: { gpuSeconds: 100, llmTokens: 1000, submissionsPerRound: 4 },
      },
      constitutionSha256: contentHash('c'),
      constitution: {
        name: 'c',
        version: '1',
        text: 't',
        rules: {
          leaderboardAuthoritative: true,
          plateauRoundsBeforeRotation: 2,
          deadEndRegistryOnlyGrows: true,
          promotionRequiresLbGain: true,
          minThresholdNoiseMultiple: 2,
          decouplingNoiseMultiple: 2,
        },
      },
      initialPolicy: policy0,
    }),
    ev(RoundStarted, {
      round: 1,
      policyRevision: 0,
      policySha256: contentHash(policy0),
      seed: 1,
      candidates: [
        { candidateId: 'views-r1-c0', index: 0, axis: 'baseline', isAnchor: true, seeds: [1, 2] },
        { candidateId: 'views-r1-c1', index: 1, axis: 'learning-rate', isAnchor: false, seeds: [1] },
        { candidateId: 'views-r1-c2', index: 2, axis: 'synthetic-data', isAnchor: false, seeds: [1] },
      ],
    }),
    ev(
      TraceStepRecorded,
      { candidateId: 'views-r1-c1', step: 0, phase: 'intent', tool: 'edit_recipe', input: { lr: 0.002 } },
      'worker',
    ),
    ev(
      TraceStepRecorded,
      {
        candidateId: 'views-r1-c1',
        step: 0,
        phase: 'outcome',
        tool: 'edit_recipe',
        input: null,
        output: 'done',
        ok: true,
      },
      'worker',
    ),
    ev(TraceStepRecorded, { candidateId: 'views-r1-c1', step: 1, phase: 'intent', tool: 'train', input: {} }, 'worker'),
    ev(JobRequested, job('j1', 'views-r1-c1'), 'worker'),
    ev(
      JobSucceeded,
      { ...terminal('j1', 'views-r1-c1', 30), exitCode: 0, logTail: 'x'.repeat(2500) + 'END' },
      'dispatch',
    ),
    ev(JobRequested, job('j2', 'views-r1-c2'), 'worker'),
    ev(
      JobFailed,
      { ...terminal('j2', 'views-r1-c2', 12.5), exitCode: 1, reason: 'diverged', message: 'NaN', logTail: 'nan' },
      'dispatch',
    ),
    ev(ManifestSubmitted, manifest('views-r1-c0', 'baseline', 0.6, []), 'worker'),
    ev(
      ManifestSubmitted,
      manifest('views-r1-c1', 'learning-rate', 0.65, [{ path: 'train.lr', from: 0.001, to: 0.002 }]),
      'worker',
    ),
    ev(
      ManifestSubmitted,
      manifest('views-r1-c2', 'synthetic-data', 0.7, [{ path: 'data.synthetic.count', from: 0, to: 4000 }]),
      'worker',
    ),
    ev(SubmissionRequested, sub('s0a', 'views-r1-c0')),
    ev(SubmissionRequested, sub('s0b', 'views-r1-c0')),
    ev(SubmissionRequested, sub('s1', 'views-r1-c1')),
    ev(SubmissionRequested, sub('s2', 'views-r1-c2')),
    ev(LeaderboardScored, scored('s0a', 'views-r1-c0', 0.5), 'leaderboard'),
    ev(LeaderboardScored, scored('s0b', 'views-r1-c0', 0.52), 'leaderboard'),
    ev(LeaderboardScored, scored('s1', 'views-r1-c1', 0.56), 'leaderboard'),
    ev(LeaderboardScored, scored('s2', 'views-r1-c2', 0.5), 'leaderboard'),
    ev(
      DecouplingSuspected,
      {
        round: 1,
        hypothesis: {
          id: 'h1',
          domain: 'equation',
          status: 'suspected',
          suspectedRound: 1,
          suspectCandidateId: 'views-r1-c2',
          suspectAxis: 'synthetic-data',
          suspectChanges: [],
          suspectDevDelta: 0.1,
          suspectLbDelta: -0.01,
          probes: [],
          decidedRound: null,
          evidence: ['dev up, LB not'],
        },
      },
      'meta-policy',
    ),
    ev(
      PolicyRevised,
      {
        round: 1,
        policy: policy1,
        policySha256: contentHash(policy1),
        previousRevision: 0,
        evidenceSha256: contentHash('e1'),
        constitutionSha256: contentHash('c'),
        proposer: 'claude',
        changes: ['standing recipe: train.lr 0.001 → 0.002'],
        llm: {
          model: 'm',
          inputTokens: 300,
          outputTokens: 50,
          cacheReadTokens: 0,
          stopReason: 'end_turn',
          proposal: {},
          refused: false,
        },
      },
      'meta-policy',
    ),
  ];
}
