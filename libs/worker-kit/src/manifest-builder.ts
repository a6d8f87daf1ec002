import {
  DomainError,
  ResultManifest,
  selectByScore,
  zodIssues,
  type FailureMode,
  type ScoreVector,
} from '@aevo/contracts';
import { diffRecipe, parseRecipeYaml } from './recipe-doc';
import { unifiedDiff } from './unified-diff';
import type { WorkerConfig, WorkerInputs, EvaluatedCheckpoint } from './ports';
import type { CandidateSummary } from './summary';

export interface Submission {
  status: 'completed' | 'failed';
  hypothesis: string;
  chosenCheckpoint?: string;
  reason: string;
}

/** Unified diffs of every file that differs from the candidate's starting point, in path order. */
export function filesDiff(
  baseline: Map<string, string>,
  files: Map<string, string>,
): { diff: string; changed: string[] } {
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
 *
 * The chosen checkpoint is the agent's explicit choice, or else the evaluation service's selection
 * (CheckpointSelected, recorded in the evaluate_checkpoints outcome), never a re-selection: one evaluation (one
 * seed) yields one selection; over several seeds the candidate takes the selection with the highest recorded
 * score (ties: the later step, then the later seed), all under one criterion. The anchor takes its first seed's
 * selection. A completed candidate whose evaluations recorded no selection is invalid.
 */
export function buildManifest(
  inputs: WorkerInputs,
  config: WorkerConfig,
  summary: CandidateSummary,
  trace: { length: number; jobsRequested: number },
  sub: Submission,
): ResultManifest {
  const { fork, policy } = inputs;
  const checkpoints: EvaluatedCheckpoint[] = [...summary.evaluations.values()]
    .flatMap((e) => e.checkpoints)
    .sort((a, b) => a.seed - b.seed || a.step - b.step || a.checkpoint.localeCompare(b.checkpoint));

  let chosen: { checkpoint: string; seed: number; dev: ScoreVector; criterion: string; reason: string } | null = null;
  let chosenJob: string | null = null;
  if (sub.status === 'completed') {
    let pick: EvaluatedCheckpoint | undefined;
    let criterion = 'agent-choice';
    let why = sub.reason;
    if (sub.chosenCheckpoint) {
      pick = checkpoints.find((c) => c.checkpoint === sub.chosenCheckpoint);
      if (!pick)
        throw new DomainError('INVALID_MANIFEST', `chosen checkpoint ${sub.chosenCheckpoint} was never evaluated`, [
          {
            path: 'chosenCheckpoint',
            message:
              `expected one of: ` +
              `${checkpoints.map((c) => c.checkpoint).join(', ') || '(no evaluated checkpoints)'}`,
          },
        ]);
    } else {
      const selections = [...summary.evaluations.values()]
        .flatMap((e) => {
          const item = e.selected ? checkpoints.find((c) => c.checkpoint === e.selected!.checkpoint) : undefined;
          return e.selected && item ? [{ ...item, score: e.selected.score, criterion: e.selected.criterion }] : [];
        })
        .sort((a, b) => a.seed - b.seed);
      if (selections.length === 0)
        throw new DomainError(
          'INVALID_MANIFEST',
          'the evaluation service recorded no checkpoint selection for this candidate',
          [
            {
              path: 'chosenCheckpoint',
              message: 'expected a CheckpointSelected of an evaluate_checkpoints call, or an explicit chosenCheckpoint',
            },
          ],
        );
      const criteria = [...new Set(selections.map((s) => s.criterion))];
      if (criteria.length > 1)
        throw new DomainError(
          'INVALID_MANIFEST',
          'the evaluations were selected under different criteria; their scores do not compare',
          [{ path: 'chosenCheckpoint', message: `criteria: ${criteria.join(', ')}; name the checkpoint explicitly` }],
        );
      // The anchor measures noise: its pick is its first seed's selection, so it is not a max over seeds.
      const first = selections.filter((s) => s.seed === fork.seeds[0]);
      const best = selectByScore(fork.isAnchor && first.length > 0 ? first : selections, (s) => s.score)!;
      pick = best.chosen;
      criterion = best.chosen.criterion;
      why = `${sub.reason} (selected by the evaluation service, ${criterion}: ${best.score.toFixed(4)})`;
    }
    if (pick) {
      chosen = { checkpoint: pick.checkpoint, seed: pick.seed, dev: pick.dev, criterion, reason: why };
      for (const [jobId, e] of summary.evaluations)
        if (e.checkpoints.some((c) => c.checkpoint === pick!.checkpoint)) chosenJob = jobId;
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
  if (!parsed.success)
    throw new DomainError('INVALID_MANIFEST', 'the result manifest does not validate', zodIssues(parsed.error));
  return parsed.data;
}
