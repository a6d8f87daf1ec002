import type { ScoreVector, SelectionCriterion } from '@aevo/contracts';

export interface EvaluatedCheckpoint {
  index: number;
  checkpoint: string;
  step: number;
  dev: ScoreVector;
}

export interface Selection {
  chosen: EvaluatedCheckpoint;
  score: number;
  considered: number;
}

/** Domains a reweighted criterion actually weighs (weight > 0). */
export function weightedDomains(criterion: SelectionCriterion): string[] {
  return criterion.kind === 'reweighted' ? Object.keys(criterion.weights).filter((d) => criterion.weights[d] > 0).sort() : [];
}

/**
 * The criterion's value of one checkpoint: `mean` is the overall dev score; `reweighted` is
 * Σ w_d·score_d / Σ w_d over the domains with positive weight. A weighted domain missing from the scores is an
 * error (callers validate scores against the criterion first).
 */
export function criterionScore(dev: ScoreVector, criterion: SelectionCriterion): number {
  if (criterion.kind === 'mean') return dev.overall;
  const domains = weightedDomains(criterion);
  if (domains.length === 0) throw new Error('criterion.weights: expected at least one domain with a positive weight');
  let num = 0;
  let den = 0;
  for (const d of domains) {
    const s = dev.domains[d];
    if (s === undefined) throw new Error(`domains.${d}: missing, but the criterion weights it`);
    num += criterion.weights[d] * s;
    den += criterion.weights[d];
  }
  return num / den;
}

/** Best checkpoint by the criterion; ties go to the later step (then the later checkpoint in the request). */
export function selectCheckpoint(evaluated: readonly EvaluatedCheckpoint[], criterion: SelectionCriterion): Selection {
  if (evaluated.length === 0) throw new Error('no evaluated checkpoint to select from');
  let best = evaluated[0];
  let bestScore = criterionScore(best.dev, criterion);
  for (const e of evaluated.slice(1)) {
    const s = criterionScore(e.dev, criterion);
    const later = e.step > best.step || (e.step === best.step && e.index > best.index);
    if (s > bestScore || (s === bestScore && later)) {
      best = e;
      bestScore = s;
    }
  }
  return { chosen: best, score: bestScore, considered: evaluated.length };
}
