/** The ResultManifest a heuristic worker would submit for one simulated candidate. */
import { ResultManifest, type Axis, type RecipeChange, type ScoreVector } from '@aevo/contracts';

export interface CheckpointRun {
  checkpoint: string;
  step: number;
  seed: number;
  dev: ScoreVector;
  dir: string;
}

export interface SimCandidate {
  candidateId: string;
  axis: Axis;
  isAnchor: boolean;
  seeds: number[];
  prescribed?: { hypothesis: string };
}

export function candidateManifest(a: {
  campaignId: string;
  round: number;
  candidate: SimCandidate;
  changes: RecipeChange[];
  recipeFile: string;
  checkpoints: CheckpointRun[];
  chosen: CheckpointRun | null;
  criterion: string;
  failures: ResultManifest['failureModes'];
  gpuSeconds: number;
}): ResultManifest {
  const { candidate: c, changes, chosen } = a;
  return ResultManifest.parse({
    campaignId: a.campaignId,
    round: a.round,
    candidateId: c.candidateId,
    axis: c.axis,
    isAnchor: c.isAnchor,
    status: chosen ? 'completed' : 'failed',
    hypothesis: c.isAnchor
      ? 'standing recipe, several seeds'
      : c.prescribed
        ? c.prescribed.hypothesis
        : changes.length > 0
          ? `change ${changes.map((x) => x.path).join(', ')}`
          : 'no admissible change',
    recipeChanges: changes,
    recipeDiff: changes
      .map(
        (x) =>
          `--- a/recipe.yaml\n+++ b/recipe.yaml\n` +
          `-${x.path}: ${JSON.stringify(x.from)}\n+${x.path}: ${JSON.stringify(x.to)}`,
      )
      .join('\n'),
    filesChanged: changes.length > 0 ? [a.recipeFile] : [],
    seeds: c.seeds,
    checkpoints: a.checkpoints.map(({ checkpoint, step, seed, dev }) => ({ checkpoint, step, seed, dev })),
    chosenCheckpoint: chosen
      ? {
          checkpoint: chosen.checkpoint,
          seed: chosen.seed,
          criterion: a.criterion,
          reason: 'best by the policy criterion',
          dev: chosen.dev,
        }
      : null,
    failureModes: a.failures,
    cost: {
      gpuSeconds: Math.round(a.gpuSeconds * 1000) / 1000,
      inputTokens: 0,
      outputTokens: 0,
      toolCalls: 0,
      jobs: 1 + c.seeds.length,
    },
    traceLength: 0,
  });
}
