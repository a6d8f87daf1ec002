import {
  CandidateForked,
  candidateIdOf,
  ManifestSubmitted,
  RecipeChanged,
  TraceStepRecorded,
  WorkerStarted,
  type Axis,
  type DecouplingHypothesis,
  type PrescribedRun,
  type RecipeChange,
  type RollingPolicy,
} from '@aevo/contracts';
import type {
  CampaignProgress,
  CandidateResult,
  PlannedCandidate,
  SyntheticCheckpoint,
  SyntheticContext,
} from './context';
import { emitJob, evaluateCandidate, type JobOwner } from './jobs';
import { axisEffect, clamp01, DOMAINS, proposeChange, r3 } from './surface';

/**
 * The round's candidates: the anchor first, then explorers rotating over the active axes; in a probing round the
 * first two explorers run the hypothesis' prescribed probes.
 */
export function planRound(
  ctx: SyntheticContext,
  round: number,
  n: number,
  policy: RollingPolicy,
  hypothesis: DecouplingHypothesis | null,
  probing: boolean,
): PlannedCandidate[] {
  const { campaignId, seed } = ctx;
  return Array.from({ length: n }, (_, index) => {
    const candidateId = candidateIdOf(campaignId, round, index);
    if (index === 0)
      return {
        candidateId,
        index,
        axis: 'baseline' as Axis,
        isAnchor: true,
        seeds: [seed * 100 + round, seed * 100 + round + 1],
      };
    let prescribed: PrescribedRun | undefined;
    if (probing && hypothesis && index <= 2)
      prescribed = {
        kind: 'probe',
        of: hypothesis.id,
        role: index === 1 ? 'pro-proxy' : 'down-weight',
        changes: index === 1 ? hypothesis.suspectChanges : [{ path: 'data.mix.equation', from: 1, to: 0.5 }],
        hypothesis:
          index === 1
            ? 'repeating the suspect move raises dev, not the leaderboard'
            : 'down-weighting equation lowers dev, not the leaderboard',
      };
    const axis: Axis = prescribed
      ? index === 1
        ? 'synthetic-data'
        : 'data-mix'
      : policy.activeAxes[(index - 1 + round) % policy.activeAxes.length];
    return {
      candidateId,
      index,
      axis,
      isAnchor: false,
      seeds: [seed * 100 + round + index],
      ...(prescribed ? { prescribed } : {}),
    };
  });
}

/**
 * One candidate's whole run — fork, worker, trace, recipe change, training (which may diverge), evaluation and
 * manifest — adding its GPU seconds to `progress.spent`. Returns its result when it reached a chosen checkpoint.
 */
export function runCandidate(
  ctx: SyntheticContext,
  progress: CampaignProgress,
  round: number,
  c: PlannedCandidate,
): CandidateResult | null {
  const { ev, rnd, snapshotId } = ctx;
  const { policy, base } = progress;
  const stream = `candidate-${c.candidateId}`;
  const sandboxPath = `/sandboxes/${c.candidateId}`;
  ev(
    CandidateForked,
    {
      round,
      candidateId: c.candidateId,
      index: c.index,
      axis: c.axis,
      isAnchor: c.isAnchor,
      seeds: c.seeds,
      snapshotId,
      sandboxPath,
      policyRevision: policy.revision,
      ...(c.prescribed ? { prescribed: c.prescribed } : {}),
    },
    `fork-${c.candidateId}`,
    'substrate',
  );
  ev(
    WorkerStarted,
    {
      candidateId: c.candidateId,
      round,
      workerId: `worker-${c.index % 4}`,
      agentKind: 'heuristic',
      resumedFromStep: null,
    },
    stream,
    'worker',
  );
  const changes: RecipeChange[] = c.isAnchor
    ? []
    : c.prescribed
      ? c.prescribed.changes
      : proposeChange(c.axis, policy, rnd);
  // The toy surface: each axis has an effect on dev and on the leaderboard; synthetic data lifts equation dev only.
  const effect = axisEffect(c.axis, changes);
  const noise = () => (rnd() - 0.5) * 0.01;
  const steps = [100, 200];
  const checkpoints: SyntheticCheckpoint[] = c.seeds.flatMap((s) =>
    steps.map((step) => {
      const overall = r3(clamp01(base.dev + effect.dev + noise() - (step === 100 ? 0.01 : 0)));
      const domains = Object.fromEntries(
        DOMAINS.map((d) => [d, r3(clamp01(overall + (d === 'equation' ? effect.equation : 0) + (rnd() - 0.5) * 0.04))]),
      );
      return {
        checkpoint: `runs/seed-${s}/ckpt/step-${String(step).padStart(6, '0')}`,
        step,
        seed: s,
        dev: { overall, domains },
      };
    }),
  );
  const failing = !c.isAnchor && !c.prescribed && rnd() < 0.08;
  emitTrace(ctx, c, changes, failing);
  if (changes.length > 0)
    ev(
      RecipeChanged,
      {
        candidateId: c.candidateId,
        file: 'recipe.yaml',
        changes,
        diff: changes.map(changeLines).join('\n'),
      },
      stream,
      'worker',
    );
  const owner: JobOwner = { candidateId: c.candidateId, round, sandboxPath, seeds: c.seeds };
  let gpuSeconds = emitJob(ctx, owner, `${c.candidateId}-train`, 'train', !failing, stream);
  let chosen: SyntheticCheckpoint | null = null;
  if (!failing) {
    const evaluated = evaluateCandidate(ctx, owner, checkpoints, policy);
    chosen = evaluated.chosen;
    gpuSeconds += evaluated.gpuSeconds;
  }
  progress.spent = { gpuSeconds: progress.spent.gpuSeconds + gpuSeconds, llmTokens: progress.spent.llmTokens };
  emitManifest(ctx, round, c, changes, policy, { checkpoints, chosen, gpuSeconds });
  if (!chosen) return null;
  return {
    candidateId: c.candidateId,
    axis: c.axis,
    isAnchor: c.isAnchor,
    dev: chosen.dev.overall,
    lb: r3(clamp01(base.lb + effect.lb + noise())),
    domains: chosen.dev.domains,
    changes,
    checkpoint: chosen.checkpoint,
  };
}

/** One recipe change as the removed and added lines of a diff. */
const changeLines = (ch: RecipeChange) =>
  `-${ch.path}: ${JSON.stringify(ch.from)}\n+${ch.path}: ${JSON.stringify(ch.to)}`;

/** The worker's trace: an intent and an outcome per tool call; a failing candidate's training step errs. */
function emitTrace(ctx: SyntheticContext, c: PlannedCandidate, changes: RecipeChange[], failing: boolean): void {
  const { ev, traceSteps } = ctx;
  const stream = `candidate-${c.candidateId}`;
  for (let step = 0; step < traceSteps; step++) {
    const tool =
      step === 0 ? 'edit_recipe' : step === 1 ? 'train' : step === traceSteps - 1 ? 'submit_manifest' : 'evaluate';
    ev(
      TraceStepRecorded,
      {
        candidateId: c.candidateId,
        step,
        phase: 'intent',
        tool,
        input: step === 0 ? { changes } : { seed: c.seeds[0] },
      },
      stream,
      'worker',
    );
    ev(
      TraceStepRecorded,
      {
        candidateId: c.candidateId,
        step,
        phase: 'outcome',
        tool,
        input: null,
        output: failing && step === 1 ? { error: 'loss diverged' } : { ok: true },
        ok: !(failing && step === 1),
      },
      stream,
      'worker',
    );
  }
}

function emitManifest(
  ctx: SyntheticContext,
  round: number,
  c: PlannedCandidate,
  changes: RecipeChange[],
  policy: RollingPolicy,
  run: { checkpoints: SyntheticCheckpoint[]; chosen: SyntheticCheckpoint | null; gpuSeconds: number },
): void {
  const { ev, campaignId, traceSteps } = ctx;
  const { checkpoints, chosen, gpuSeconds } = run;
  ev(
    ManifestSubmitted,
    {
      candidateId: c.candidateId,
      round,
      manifest: {
        campaignId,
        round,
        candidateId: c.candidateId,
        axis: c.axis,
        isAnchor: c.isAnchor,
        status: chosen ? 'completed' : 'failed',
        hypothesis: c.isAnchor
          ? 'standing recipe, several seeds'
          : c.prescribed
            ? c.prescribed.hypothesis
            : `change ${changes.map((x) => x.path).join(', ') || 'nothing'}`,
        recipeChanges: changes,
        recipeDiff: changes.map((ch) => `--- a/recipe.yaml\n+++ b/recipe.yaml\n${changeLines(ch)}`).join('\n'),
        filesChanged: changes.length ? ['recipe.yaml'] : [],
        seeds: c.seeds,
        checkpoints: chosen ? checkpoints : [],
        chosenCheckpoint: chosen
          ? {
              checkpoint: chosen.checkpoint,
              seed: chosen.seed,
              criterion: policy.selectionCriterion.kind,
              reason: 'best dev overall of its seed',
              dev: chosen.dev,
            }
          : null,
        failureModes: chosen ? [] : [{ kind: 'diverged', detail: 'loss became NaN at step 140', step: 1 }],
        cost: {
          gpuSeconds: r3(gpuSeconds),
          inputTokens: 0,
          outputTokens: 0,
          toolCalls: traceSteps,
          jobs: chosen ? 2 : 1,
        },
        traceLength: traceSteps * 2,
        policyRevision: policy.revision,
        agentKind: 'heuristic',
      },
    },
    `candidate-${c.candidateId}`,
    'worker',
  );
}
