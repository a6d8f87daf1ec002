import {
  DomainError,
  ResultManifest,
  zodIssues,
  type FailureMode,
  type ScoreVector,
  type SelectionCriterion,
} from '@aevo/contracts';
import { diffRecipe, parseRecipeYaml } from './recipe-doc';
import { unifiedDiff } from './unified-diff';
import { describeCriterion, selectBest } from './selection';
import type { WorkerConfig, WorkerInputs, EvaluatedCheckpoint } from './ports';
import type { CandidateSummary } from './summary';

export interface Submission {
  status: 'completed' | 'failed';
  hypothesis: string;
  chosenCheckpoint?: string;
  reason: string;
  /** A selection rule of the worker's own (checkpoint-selection axis); default the policy's. */
  criterion?: SelectionCriterion;
}

/** Unified diffs of every file that differs from the candidate's starting point, in path order. */
export function filesDiff(baseline: Map<string, string>, files: Map<string, string>): { diff: string; changed: string[] } {
  const paths = [...new Set([...baseline.keys(), ...files.keys()])].sort();
  const changed: string[] = [];
  let diff = '';
  for (const p of paths) {
    const a = baseline.get(p) ?? null;
    const b = files.get(p) ?? null;
    if (a === b) continue;
    changed.push(p);
    diff += unifiedDiff(p, a, b);
  }
  return { diff, changed };
}

/**
 * Assembles the result manifest from what the trace proves (scores, edits, jobs, tokens), plus the agent's own
 * words (hypothesis, choice, reason). Throws a DomainError naming every invalid field.
 */
export function buildManifest(inputs: WorkerInputs, config: WorkerConfig, summary: CandidateSummary, trace: { length: number; jobsRequested: number }, sub: Submission): ResultManifest {
  const { fork, policy } = inputs;
  const checkpoints: EvaluatedCheckpoint[] = [...summary.evaluations.values()]
    .flatMap((e) => e.checkpoints)
    .sort((a, b) => a.seed - b.seed || a.step - b.step || a.checkpoint.localeCompare(b.checkpoint));

  let chosen: { checkpoint: string; seed: number; dev: ScoreVector; criterion: string; reason: string } | null = null;
  let chosenJob: string | null = null;
  if (sub.status === 'completed') {
    const criterion = sub.criterion ?? policy.selectionCriterion;
    let pick: EvaluatedCheckpoint | undefined;
    let why = sub.reason;
    if (sub.chosenCheckpoint) {
      pick = checkpoints.find((c) => c.checkpoint === sub.chosenCheckpoint);
      if (!pick)
        throw new DomainError('INVALID_MANIFEST', `chosen checkpoint ${sub.chosenCheckpoint} was never evaluated`, [
          { path: 'chosenCheckpoint', message: `expected one of: ${checkpoints.map((c) => c.checkpoint).join(', ') || '(no evaluated checkpoints)'}` },
        ]);
    } else {
      // The anchor measures noise: its pick comes from the first seed only, so it is not a max over seeds.
      const pool = fork.isAnchor ? checkpoints.filter((c) => c.seed === fork.seeds[0]) : checkpoints;
      const best = selectBest(pool.length > 0 ? pool : checkpoints, criterion);
      pick = best?.item;
      if (best) why = `${sub.reason} (best by ${describeCriterion(criterion)}: ${best.score.toFixed(4)})`;
    }
    if (pick) {
      chosen = { checkpoint: pick.checkpoint, seed: pick.seed, dev: pick.dev, criterion: sub.chosenCheckpoint && !sub.criterion ? 'agent-choice' : describeCriterion(criterion), reason: why };
      for (const [jobId, e] of summary.evaluations) if (e.checkpoints.some((c) => c.checkpoint === pick!.checkpoint)) chosenJob = jobId;
    }
  }

  // The diff is the one the chosen checkpoint was trained with (later edits that trained nothing do not count).
  const files = (chosenJob && summary.runs.get(chosenJob)?.filesAtLaunch) || summary.current;
  const { diff, changed } = filesDiff(summary.baseline, files);
  let recipeChanges: ResultManifest['recipeChanges'] = [];
  const rp = summary.recipePath;
  if (rp && summary.baseline.has(rp) && files.has(rp)) {
    try {
      recipeChanges = diffRecipe(parseRecipeYaml(summary.baseline.get(rp)!), parseRecipeYaml(files.get(rp)!));
    } catch {
      recipeChanges = [];
    }
  }

  const failureModes: FailureMode[] = summary.failureModes;
  const gpuSeconds = [...summary.jobs.values()].reduce((t, j) => t + (j.gpuSeconds || 0), 0);
  const raw = {
    campaignId: config.campaignId,
    round: fork.round,
    candidateId: fork.candidateId,
    axis: fork.axis,
    isAnchor: fork.isAnchor,
    status: sub.status,
    hypothesis: sub.hypothesis,
    recipeChanges,
    recipeDiff: diff,
    filesChanged: changed,
    seeds: fork.seeds,
    checkpoints: checkpoints.map((c) => ({ checkpoint: c.checkpoint, step: c.step, seed: c.seed, dev: c.dev })),
    chosenCheckpoint: chosen,
    failureModes,
    cost: {
      gpuSeconds: Math.round(gpuSeconds * 1000) / 1000,
      inputTokens: summary.inputTokens,
      outputTokens: summary.outputTokens,
      toolCalls: summary.toolCalls,
      jobs: trace.jobsRequested,
    },
    traceLength: trace.length,
    policyRevision: policy.revision,
    agentKind: config.agentKind,
  };
  const parsed = ResultManifest.safeParse(raw);
  if (!parsed.success) throw new DomainError('INVALID_MANIFEST', 'the result manifest does not validate', zodIssues(parsed.error));
  return parsed.data;
}
