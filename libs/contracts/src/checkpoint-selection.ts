import type { ScoreVector } from './manifest';
import type { SelectionCriterion } from './policy';

/**
 * Checkpoint scoring and selection by a `SelectionCriterion`: the one rule every service uses (the evaluation
 * service's CheckpointSelected, which is the fact of record; the worker's manifest; the orchestrator's ranking of
 * submissions; the simulated campaigns of the tests). Pure.
 *
 * Score of a checkpoint:
 * - `mean`: the overall dev score.
 * - `reweighted`: Σ w_d·score_d / Σ w_d over the domains with a positive weight.
 *
 * Fallback (the only one): a weighted domain missing from the scores is left out, the weights of the domains
 * present are renormalised; when no domain with a positive weight is present (or none has one), the score is the
 * overall dev score. The evaluation service never reaches the fallback: it fails a request whose criterion weighs
 * nothing and scores that lack a weighted domain before selecting (`missingWeightedDomains`).
 *
 * Tie-break (the evaluation service's): among equal scores, the later training step; among equal steps, the one
 * later in the input order (the evaluation service passes the request's checkpoint order).
 */

/** Domains a reweighted criterion actually weighs (weight > 0), sorted; none for `mean`. */
export function weightedDomains(criterion: SelectionCriterion): string[] {
  return criterion.kind === 'reweighted'
    ? Object.keys(criterion.weights)
        .filter((d) => criterion.weights[d] > 0)
        .sort()
    : [];
}

/** Weighted domains the scores lack (what makes the fallback apply), sorted. */
export function missingWeightedDomains(dev: ScoreVector, criterion: SelectionCriterion): string[] {
  return weightedDomains(criterion).filter((d) => dev.domains[d] === undefined);
}

/** The criterion's value of one checkpoint's dev scores (see the module comment for the fallback). */
export function criterionScore(dev: ScoreVector, criterion: SelectionCriterion): number {
  if (criterion.kind === 'mean') return dev.overall;
  let num = 0;
  let den = 0;
  for (const d of weightedDomains(criterion)) {
    const s = dev.domains[d];
    if (s === undefined) continue;
    num += criterion.weights[d] * s;
    den += criterion.weights[d];
  }
  return den > 0 ? num / den : dev.overall;
}

/** A criterion as text, stable under key order: `mean`, `reweighted(cipher=0,gravity=1)`. */
export function describeCriterion(criterion: SelectionCriterion): string {
  if (criterion.kind === 'mean') return 'mean';
  const weights = Object.entries(criterion.weights)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([d, w]) => `${d}=${w}`)
    .join(',');
  return `reweighted(${weights})`;
}

export interface Selected<T> {
  chosen: T;
  /** Position of `chosen` in the input. */
  index: number;
  score: number;
  considered: number;
}

/**
 * The best of `items` by an already computed score, with the selection tie-break: higher score, then the later
 * step, then the later position in the input. Null for no items.
 */
export function selectByScore<T extends { step: number }>(
  items: readonly T[],
  scoreOf: (item: T) => number,
): Selected<T> | null {
  let best: Selected<T> | null = null;
  items.forEach((item, index) => {
    const score = scoreOf(item);
    if (!best || score > best.score || (score === best.score && item.step >= best.chosen.step))
      best = { chosen: item, index, score, considered: items.length };
  });
  return best;
}

/** The best checkpoint by the criterion (score, then tie-break as in the module comment). Null for no checkpoints. */
export function selectCheckpoint<T extends { step: number; dev: ScoreVector }>(
  items: readonly T[],
  criterion: SelectionCriterion,
): Selected<T> | null {
  return selectByScore(items, (item) => criterionScore(item.dev, criterion));
}
