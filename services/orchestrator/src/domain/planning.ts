import {
  candidateIdOf,
  deriveSeed,
  DomainError,
  seededRandom,
  shuffled,
  type Axis,
  type RollingPolicy,
} from '@aevo/contracts';
import { prescribedRuns } from '@aevo/policy-engine';
import type { z } from 'zod';
import type { PlannedCandidate } from '@aevo/contracts';

export type Candidate = z.infer<typeof PlannedCandidate>;

/** The seed of a round: a function of the campaign seed and the round number only. */
export const roundSeed = (campaignSeed: number, round: number): number => deriveSeed('aevo-round', campaignSeed, round);

/**
 * Plans a round: candidate 0 is the baseline anchor (standing recipe unchanged, `policy.anchorSeeds` distinct
 * seeds, to measure seed noise); then the runs the policy prescribes (decoupling probes, confirmation runs), up to
 * all but one explorer slot; the rest take the policy's active axes round-robin in an order shuffled by the round
 * seed. Paired design: every run other than the anchor trains on the anchor's first seed, so that seed noise cancels
 * in its difference to the anchor; a confirmation thereby runs on another seed than the gain it re-measures.
 * Everything follows from (campaignId, round, seed, n, policy).
 */
export function planRound(
  campaignId: string,
  round: number,
  seed: number,
  workers: number,
  policy: RollingPolicy,
  campaignAxes: readonly Axis[] = [],
): Candidate[] {
  const rnd = seededRandom(seed);
  const nextSeed = () => Math.floor(rnd() * 0x7fffffff);
  const anchorSeeds = new Set<number>();
  while (anchorSeeds.size < policy.anchorSeeds) anchorSeeds.add(nextSeed());
  const pairSeed = [...anchorSeeds][0];
  const candidates: Candidate[] = [
    {
      candidateId: candidateIdOf(campaignId, round, 0),
      index: 0,
      axis: 'baseline',
      isAnchor: true,
      seeds: [...anchorSeeds],
    },
  ];
  if (workers <= 1) return candidates;
  const axes: Axis[] = shuffled(
    policy.activeAxes.filter((a) => a !== 'baseline'),
    rnd,
  );
  if (axes.length === 0)
    throw new DomainError(
      'POLICY_HAS_NO_AXES',
      `policy revision ${policy.revision} has no active search axis for ${workers - 1} worker(s)`,
      [{ path: 'policy.activeAxes', message: 'expected at least one axis other than "baseline"' }],
    );
  const runs = prescribedRuns(policy).slice(0, workers >= 3 ? workers - 2 : workers - 1);
  let i = 1;
  for (const r of runs) {
    candidates.push({
      candidateId: candidateIdOf(campaignId, round, i),
      index: i,
      axis: r.axis,
      isAnchor: false,
      seeds: [pairSeed],
      prescribed: r.prescribed,
    });
    i++;
  }
  // Paired runs of one axis often make the very same move (an axis has few), and on one seed a duplicate measures
  // nothing: beyond two explorers per active axis, the further slots go to the campaign's other live axes.
  const explorers = workers - i;
  const retired = new Set(policy.retiredAxes.map((r) => r.axis));
  const others = shuffled(
    campaignAxes.filter((a) => a !== 'baseline' && !axes.includes(a) && !retired.has(a)),
    rnd,
  );
  const order = explorers > 2 * axes.length && others.length > 0 ? [...axes, ...axes, ...others] : axes;
  for (let k = 0; i < workers; i++, k++) {
    candidates.push({
      candidateId: candidateIdOf(campaignId, round, i),
      index: i,
      axis: order[k % order.length],
      isAnchor: false,
      seeds: [pairSeed],
    });
  }
  return candidates;
}
