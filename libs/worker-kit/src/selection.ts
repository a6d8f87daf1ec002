import type { ScoreVector, SelectionCriterion } from '@aevo/contracts';

/** The policy's checkpoint-selection criterion applied to one dev score vector. */
export function criterionScore(dev: ScoreVector, criterion: SelectionCriterion): number {
  if (criterion.kind === 'mean') return dev.overall;
  let num = 0;
  let den = 0;
  for (const [domain, w] of Object.entries(criterion.weights)) {
    const s = dev.domains[domain];
    if (s === undefined || w <= 0) continue;
    num += w * s;
    den += w;
  }
  return den > 0 ? num / den : dev.overall;
}

export const describeCriterion = (c: SelectionCriterion): string =>
  c.kind === 'mean'
    ? 'mean'
    : `reweighted(${Object.entries(c.weights)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([d, w]) => `${d}=${w}`)
        .join(',')})`;

/** Best checkpoint by the criterion; ties go to the later training step (deterministic). */
export function selectBest<T extends { dev: ScoreVector; step: number; checkpoint: string }>(
  items: readonly T[],
  criterion: SelectionCriterion,
): { item: T; score: number } | null {
  let best: { item: T; score: number } | null = null;
  for (const item of items) {
    const score = criterionScore(item.dev, criterion);
    if (
      !best ||
      score > best.score ||
      (score === best.score && (item.step > best.item.step || (item.step === best.item.step && item.checkpoint > best.item.checkpoint)))
    )
      best = { item, score };
  }
  return best;
}
