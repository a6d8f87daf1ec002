import { candidateIdOf, deriveSeed, DomainError, seededRandom, shuffled, type Axis, type RollingPolicy } from '@aevo/contracts';
import type { z } from 'zod';
import type { PlannedCandidate } from '@aevo/contracts';

export type Candidate = z.infer<typeof PlannedCandidate>;

/** The seed of a round: a function of the campaign seed and the round number only. */
export const roundSeed = (campaignSeed: number, round: number): number => deriveSeed('aevo-round', campaignSeed, round);

/**
 * Plans a round: candidate 0 is the baseline anchor (standing recipe unchanged, `policy.anchorSeeds` distinct
 * seeds, to measure seed noise); candidates 1..n-1 take the policy's active axes round-robin in an order shuffled
 * by the round seed, one training seed each. Everything follows from (campaignId, round, seed, n, policy).
 */
export function planRound(campaignId: string, round: number, seed: number, workers: number, policy: RollingPolicy): Candidate[] {
  const rnd = seededRandom(seed);
  const nextSeed = () => Math.floor(rnd() * 0x7fffffff);
  const anchorSeeds = new Set<number>();
  while (anchorSeeds.size < policy.anchorSeeds) anchorSeeds.add(nextSeed());
  const candidates: Candidate[] = [{ candidateId: candidateIdOf(campaignId, round, 0), index: 0, axis: 'baseline', isAnchor: true, seeds: [...anchorSeeds] }];
  if (workers <= 1) return candidates;
  const axes: Axis[] = shuffled(
    policy.activeAxes.filter((a) => a !== 'baseline'),
    rnd,
  );
  if (axes.length === 0)
    throw new DomainError('POLICY_HAS_NO_AXES', `policy revision ${policy.revision} has no active search axis for ${workers - 1} worker(s)`, [
      { path: 'policy.activeAxes', message: 'expected at least one axis other than "baseline"' },
    ]);
  for (let i = 1; i < workers; i++) {
    candidates.push({ candidateId: candidateIdOf(campaignId, round, i), index: i, axis: axes[(i - 1) % axes.length], isAnchor: false, seeds: [nextSeed()] });
  }
  return candidates;
}
