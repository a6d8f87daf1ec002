import { collectRoundEvidence, testCampaignStarted, testPolicy, testRound, type CandidateSpec } from '@aevo/evidence';
import { DeciderSpecification } from '@aevo/testkit';
import type { RollingPolicy } from '@aevo/contracts';
import { metaPolicyDecider, type MetaPolicyEvent } from './decider';
import { defaultConstitution, reviseCommand } from './test-support';

/* The setting of the meta-rules specs (meta-rules-*.spec.ts): one campaign under the default constitution. */

export const constitution = defaultConstitution();
export const spec = DeciderSpecification(metaPolicyDecider);
export const AXES = ['learning-rate', 'schedule', 'steps', 'data-mix', 'synthetic-data'] as const;

export const policy0 = testPolicy({
  promotionThreshold: 0.01,
  activeCategory: 'optimisation',
  activeAxes: ['learning-rate', 'schedule', 'steps'],
});
export const started = (p: RollingPolicy = policy0): MetaPolicyEvent =>
  testCampaignStarted('c1', p, {
    constitutionSha256: constitution.sha256,
    constitution: constitution.constitution,
    axes: [...AXES],
  }) as unknown as MetaPolicyEvent;

export const evidenceOf = (specs: CandidateSpec[], round: number, policy: RollingPolicy) =>
  collectRoundEvidence(testRound(specs, { round, policy }));

/**
 * Anchor with three seeds: dev σ = 0.005 (measured), LB never measured, so the LB difference σ is the dev stand-in
 * √2 × 0.005 and the bar = 2 × 0.007071 = 0.014142; a confirmation must show half of it again (0.007071).
 */
export const roundTo6 = (x: number) => Math.round(x * 1e6) / 1e6;
export const anchor = (lb: number, dev = 0.6): CandidateSpec => ({
  axis: 'baseline',
  dev,
  lb,
  extraSeedDevs: [dev + 0.005, dev - 0.005],
});
export const lrTo = (to: number) => [{ path: 'optim.lr', from: 0.001, to }];

/** Runs the rule engine round after round and returns the log (for `given`). */
export function run(rounds: CandidateSpec[][]): MetaPolicyEvent[] {
  const log: MetaPolicyEvent[] = [started()];
  rounds.forEach((specs, k) => {
    const state = log.reduce(metaPolicyDecider.evolve, metaPolicyDecider.initialState());
    const evidence = evidenceOf(specs, k + 1, state.policy as RollingPolicy);
    log.push(...metaPolicyDecider.decide(reviseCommand(evidence, constitution), state));
  });
  return log;
}
export const latest = (log: MetaPolicyEvent[]) =>
  log.reduce(metaPolicyDecider.evolve, metaPolicyDecider.initialState()).policy as RollingPolicy;
