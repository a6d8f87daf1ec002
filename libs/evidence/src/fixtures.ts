import {
  CampaignStarted,
  FrozenPathViolated,
  LeaderboardScored,
  ManifestSubmitted,
  ResultManifest,
  RollingPolicy,
  RoundStarted,
  SubmissionAccepted,
  SubmissionRequested,
  contentHash,
  createEvent,
  sha256Hex,
  type Axis,
  type Constitution,
  type EventEnvelope,
  type FailureMode,
  type PrescribedRun,
  type RecipeChange,
  type RecipeDocument,
} from '@aevo/contracts';
import type { RoundEvidenceInputs } from './collect';

/**
 * Builders of collector inputs for tests (here and in the services): a round described candidate by candidate
 * in a few numbers. Pure; no test framework inside.
 */
export interface CandidateSpec {
  axis: Axis;
  /** Dev overall of the chosen checkpoint (the anchor's first seed). */
  dev?: number;
  /** Per-domain dev; defaults to every domain at `dev`. */
  domains?: Record<string, number>;
  /** Public LB; undefined: not submitted. */
  lb?: number;
  lbDomains?: Record<string, number>;
  changes?: RecipeChange[];
  filesChanged?: string[];
  status?: 'completed' | 'failed' | 'missing';
  failureModes?: FailureMode[];
  /** Anchor only: dev overall of further seeds (same step), to measure the noise band. */
  extraSeedDevs?: number[];
  /** Anchor only: public LB of further submissions (one per further seed), to measure LB seed noise. */
  extraSeedLbs?: number[];
  gpuSeconds?: number;
  tokens?: number;
  /** A confirmation run or decoupling probe (the plan's prescribed change; `changes` should repeat it). */
  prescribed?: PrescribedRun;
}

export const DOMAINS = ['bit_manipulation', 'cipher', 'equation', 'gravity', 'numeral', 'unit_conversion'];

/**
 * A hand-set revision 0 (not policy-engine's `initialPolicy`, which this library cannot use: policy-engine's tests
 * use this one): three optimisation axes active, a promotion bar of 0.01, no noise band yet; then `over`, validated.
 * testkit's `policies.plain` is this policy narrowed to one axis.
 */
export function testPolicy(over: Partial<RollingPolicy> = {}): RollingPolicy {
  return RollingPolicy.parse({
    revision: 0,
    forRound: 1,
    standingRecipe: { optim: { lr: 0.001, steps: 400 }, mix: { equation: 1, gravity: 1 } } satisfies RecipeDocument,
    activeCategory: 'optimisation',
    activeAxes: ['learning-rate', 'schedule', 'steps'],
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

const vec = (overall: number, domains?: Record<string, number>) => ({
  overall,
  domains: domains ?? Object.fromEntries(DOMAINS.map((d) => [d, overall])),
});

export function testManifest(
  campaignId: string,
  round: number,
  candidateId: string,
  isAnchor: boolean,
  spec: CandidateSpec,
): ResultManifest {
  const status = spec.status === 'failed' ? 'failed' : 'completed';
  const dev = vec(spec.dev ?? 0.5, spec.domains);
  const seeds = [1, ...(spec.extraSeedDevs ?? []).map((_, k) => k + 2)];
  const changes = spec.changes ?? [];
  const checkpoints =
    status === 'completed'
      ? [
          { checkpoint: 'runs/seed-1/step-000400', step: 400, seed: 1, dev },
          ...(spec.extraSeedDevs ?? []).map((d, k) => ({
            checkpoint: `runs/seed-${k + 2}/step-000400`,
            step: 400,
            seed: k + 2,
            dev: vec(d),
          })),
        ]
      : [];
  return ResultManifest.parse({
    campaignId,
    round,
    candidateId,
    axis: spec.axis,
    isAnchor,
    status,
    hypothesis: `explore ${spec.axis}`,
    recipeChanges: changes,
    recipeDiff: changes
      .map(
        (c) =>
          `--- a/recipe.yaml\n+++ b/recipe.yaml\n-${c.path}: ${JSON.stringify(c.from)}\n+${c.path}: ` +
          `${JSON.stringify(c.to)}`,
      )
      .join('\n'),
    filesChanged: spec.filesChanged ?? (changes.length > 0 ? ['recipe.yaml'] : []),
    seeds,
    checkpoints,
    chosenCheckpoint:
      status === 'completed'
        ? { checkpoint: 'runs/seed-1/step-000400', seed: 1, criterion: 'mean', reason: 'best dev', dev }
        : null,
    failureModes:
      spec.failureModes ?? (status === 'failed' ? [{ kind: 'diverged', detail: 'loss became NaN at step 120' }] : []),
    cost: { gpuSeconds: spec.gpuSeconds ?? 60, inputTokens: spec.tokens ?? 0, outputTokens: 0, toolCalls: 3, jobs: 2 },
    traceLength: 6,
  });
}

/** Collector inputs for one round: candidate 0 is the anchor. */
export function testRound(
  specs: CandidateSpec[],
  opts: { campaignId?: string; round?: number; policy?: RollingPolicy; multiple?: number; floor?: number } = {},
): RoundEvidenceInputs {
  const campaignId = opts.campaignId ?? 'c1';
  const round = opts.round ?? 1;
  const planned = specs.map((s, index) => ({
    candidateId: `${campaignId}-r${round}-c${index}`,
    index,
    axis: s.axis,
    isAnchor: index === 0,
    seeds: [1, ...(s.extraSeedDevs ?? []).map((_, k) => k + 2)],
    ...(s.prescribed ? { prescribed: s.prescribed } : {}),
  }));
  const manifests = specs
    .map((s, i) =>
      s.status === 'missing' ? null : testManifest(campaignId, round, planned[i].candidateId, i === 0, s),
    )
    .filter((m): m is ResultManifest => m !== null);
  const submitted = specs.map((s, i) => ({ s, id: planned[i].candidateId })).filter(({ s }) => s.lb !== undefined);
  const scores = submitted.flatMap(({ s, id }) => [
    { submissionId: `sub-${id}`, candidateId: id, publicScore: s.lb as number, publicDomains: s.lbDomains ?? null },
    ...(s.extraSeedLbs ?? []).map((lb, k) => ({
      submissionId: `sub-${id}-s${k + 2}`,
      candidateId: id,
      publicScore: lb,
      publicDomains: null,
    })),
  ]);
  return {
    campaignId,
    round,
    policy: opts.policy ?? testPolicy({ forRound: round }),
    rules: { decouplingNoiseMultiple: opts.multiple ?? 2, noiseStdFloor: opts.floor ?? 0.005 },
    planned,
    manifests,
    submissions: scores.map((x) => ({ submissionId: x.submissionId, candidateId: x.candidateId })),
    scores,
    rejections: [],
    violations: [],
    budgets: { gpuSeconds: 10_000, llmTokens: 0, submissionsPerRound: 4 },
    previousUse: { gpuSeconds: 0, tokens: 0 },
  };
}

const HEX = (s: string) => sha256Hex(s);

export const TEST_CONSTITUTION: Constitution = {
  name: 'test',
  version: '1',
  text: 'test constitution',
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

/** CampaignStarted for tests, with the campaign's budgets and axes. */
export function testCampaignStarted(
  campaignId: string,
  policy: RollingPolicy,
  opts: { constitutionSha256?: string; constitution?: Constitution; axes?: Axis[]; submissionsPerRound?: number } = {},
): EventEnvelope {
  return createEvent(
    CampaignStarted,
    {
      config: {
        campaignId,
        substratePath: 'substrate/simulated',
        constitutionPath: 'deploy/constitutions/default.yaml',
        size: 'tiny',
        rounds: 6,
        workersPerRound: 4,
        axes: opts.axes ?? ['learning-rate', 'schedule', 'steps', 'data-mix', 'synthetic-data'],
        anchorSeeds: 2,
        seed: 7,
        workerKind: 'heuristic',
        metaKind: 'rules',
        leaderboard: 'local',
        executor: 'local',
        budgets: { gpuSeconds: 10_000, llmTokens: 0, submissionsPerRound: opts.submissionsPerRound ?? 4 },
      },
      constitutionSha256: opts.constitutionSha256 ?? HEX('constitution'),
      constitution: opts.constitution ?? TEST_CONSTITUTION,
      initialPolicy: policy,
    },
    { campaignId, streamId: `campaign-${campaignId}`, source: 'orchestrator' },
  );
}

/** The log of one round as the other services would write it, from collector inputs built by testRound. */
export function testRoundEvents(inputs: RoundEvidenceInputs): EventEnvelope[] {
  const { campaignId, round } = inputs;
  const ctx = (source: 'orchestrator' | 'worker' | 'leaderboard' | 'substrate', streamId: string) => ({
    campaignId,
    streamId,
    source,
  });
  const out: EventEnvelope[] = [
    createEvent(
      RoundStarted,
      {
        round,
        policyRevision: inputs.policy.revision,
        policySha256: contentHash(inputs.policy),
        candidates: inputs.planned.map((p) => ({
          candidateId: p.candidateId,
          index: p.index,
          axis: p.axis,
          isAnchor: p.isAnchor,
          seeds: p.seeds,
        })),
        seed: 100 + round,
      },
      ctx('orchestrator', `campaign-${campaignId}`),
    ),
  ];
  for (const m of inputs.manifests)
    out.push(
      createEvent(
        ManifestSubmitted,
        { candidateId: m.candidateId, round, manifest: m },
        ctx('worker', `candidate-${m.candidateId}`),
      ),
    );
  for (const v of inputs.violations)
    out.push(
      createEvent(
        FrozenPathViolated,
        {
          round,
          candidateId: v.candidateId,
          path: v.path,
          kind: v.kind as 'frozen-modified',
          detail: v.detail,
          checkedAt: 'before-evaluation',
        },
        ctx('substrate', `candidate-${v.candidateId}`),
      ),
    );
  for (const s of inputs.submissions) {
    out.push(
      createEvent(
        SubmissionRequested,
        {
          round,
          submissionId: s.submissionId,
          candidateId: s.candidateId,
          checkpoint: 'runs/seed-1/step-000400',
          sandboxPath: `/tmp/${s.candidateId}`,
          reason: 'top dev',
        },
        ctx('orchestrator', `campaign-${campaignId}`),
      ),
    );
    out.push(
      createEvent(
        SubmissionAccepted,
        {
          submissionId: s.submissionId,
          candidateId: s.candidateId,
          round,
          board: 'local',
          externalRef: null,
          quotaUsed: 1,
          quotaLimit: 4,
        },
        ctx('leaderboard', `submission-${s.submissionId}`),
      ),
    );
  }
  for (const s of inputs.scores)
    out.push(
      createEvent(
        LeaderboardScored,
        {
          submissionId: s.submissionId,
          candidateId: s.candidateId,
          round,
          publicScore: s.publicScore,
          publicDomains: s.publicDomains,
        },
        ctx('leaderboard', `submission-${s.submissionId}`),
      ),
    );
  return out;
}
