import {
  CampaignStarted,
  JobRequested,
  JobStarted,
  JobSucceeded,
  ManifestSubmitted,
  PolicyRevised,
  type RollingPolicy,
  RoundClosed,
  RoundStarted,
  SubmissionRequested,
  contentHash,
  type RecipeDocument,
} from '@aevo/contracts';
import { eventAs as ev, policies, TEST_CONSTITUTION_RULES } from '@aevo/testkit';

/** Events of the other services, as they would append them, for driving the substrate service in tests. */

const SHA = 'a'.repeat(64);

/** The policy the substrate service reads (its standing recipe): testkit's plain policy, one anchor seed. */
export const policy = (revision: number, standingRecipe: RecipeDocument): RollingPolicy =>
  policies.plain(revision, standingRecipe, { anchorSeeds: 1 });

export const campaignStarted = (campaignId: string, substratePath: string, standingRecipe: RecipeDocument = {}) =>
  ev(CampaignStarted, campaignId, 'orchestrator', `campaign-${campaignId}`, {
    config: {
      campaignId,
      substratePath,
      constitutionPath: 'constitutions/default.yaml',
      rounds: 3,
      workersPerRound: 3,
      axes: ['learning-rate'],
      seed: 1,
      budgets: { gpuSeconds: 1000, llmTokens: 0, submissionsPerRound: 1 },
    },
    constitutionSha256: SHA,
    constitution: {
      name: 'test',
      version: '1',
      text: 'be careful',
      rules: TEST_CONSTITUTION_RULES,
    },
    initialPolicy: policy(0, standingRecipe),
  });

export const policyRevised = (campaignId: string, round: number, revision: number, standingRecipe: RecipeDocument) => {
  const p = policy(revision, standingRecipe);
  return ev(PolicyRevised, campaignId, 'meta-policy', `policy-${campaignId}`, {
    round,
    policy: p,
    policySha256: contentHash(p),
    previousRevision: revision - 1,
    evidenceSha256: SHA,
    constitutionSha256: SHA,
    proposer: 'rules',
    changes: [],
    llm: null,
  });
};

export const candidateIds = (round: number, n: number) => Array.from({ length: n }, (_, i) => `r${round}-c${i}`);

export const roundStarted = (campaignId: string, round: number, ids: string[], policyRevision = 0) =>
  ev(RoundStarted, campaignId, 'orchestrator', `campaign-${campaignId}`, {
    round,
    policyRevision,
    policySha256: SHA,
    candidates: ids.map((candidateId, index) => ({
      candidateId,
      index,
      axis: index === 0 ? ('baseline' as const) : ('learning-rate' as const),
      isAnchor: index === 0,
      seeds: [index + 1],
    })),
    seed: round,
  });

export const roundClosed = (campaignId: string, round: number) =>
  ev(RoundClosed, campaignId, 'orchestrator', `campaign-${campaignId}`, {
    round,
    policyRevision: 0,
    bestPublicLb: null,
  });

export const jobRequested = (
  campaignId: string,
  jobId: string,
  candidateId: string,
  round: number,
  sandboxPath: string,
) =>
  ev(JobRequested, campaignId, 'worker', `job:${jobId}`, {
    spec: {
      jobId,
      candidateId,
      round,
      entrypoint: 'train',
      sandboxPath,
      argv: ['python3', 'harness/train.py'],
      env: {},
      resources: { cpu: 1, memoryMiB: 256, gpu: 0 },
      timeoutSeconds: 60,
      priority: 'normal',
      isolation: { snapshotId: 'a'.repeat(64), outputs: ['runs/r1/ckpt'], inputs: [] },
    },
  });

export const jobStarted = (campaignId: string, jobId: string, candidateId: string) =>
  ev(JobStarted, campaignId, 'dispatch', `job:${jobId}`, {
    jobId,
    candidateId,
    executor: 'local',
    slot: '0',
    handle: '123',
    attempt: 1,
    isolation: 'bubblewrap',
  });

export const jobSucceeded = (campaignId: string, jobId: string, candidateId: string, round: number) =>
  ev(JobSucceeded, campaignId, 'dispatch', `job:${jobId}`, {
    jobId,
    candidateId,
    round,
    gpuSeconds: 0,
    wallSeconds: 1,
    logTail: '',
    logPath: null,
    executor: 'local',
    gpuCount: 0,
    budgetUnit: 'cpu-slot-seconds',
    exitCode: 0,
  });

export const submissionRequested = (campaignId: string, round: number, candidateId: string, sandboxPath: string) =>
  ev(SubmissionRequested, campaignId, 'orchestrator', `campaign-${campaignId}`, {
    round,
    submissionId: `sub-${candidateId}`,
    candidateId,
    checkpoint: 'runs/seed-1/step-000100',
    sandboxPath,
    reason: 'best dev',
  });

export const manifestSubmitted = (campaignId: string, round: number, candidateId: string) =>
  ev(ManifestSubmitted, campaignId, 'worker', `candidate-${candidateId}`, {
    candidateId,
    round,
    manifest: {
      campaignId,
      round,
      candidateId,
      axis: 'learning-rate',
      isAnchor: false,
      status: 'failed',
      hypothesis: 'test',
      recipeChanges: [],
      recipeDiff: '',
      filesChanged: [],
      seeds: [1],
      checkpoints: [],
      chosenCheckpoint: null,
      failureModes: [],
      cost: { gpuSeconds: 0, inputTokens: 0, outputTokens: 0, toolCalls: 0, jobs: 0 },
      traceLength: 0,
    },
  });
