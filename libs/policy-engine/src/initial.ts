import { RollingPolicy, type Axis, type Constitution, type RecipeDocument } from '@aevo/contracts';
import { axesOf, firstCategory } from './axes';

/**
 * Revision 0 of a campaign's rolling policy (for CampaignStarted.initialPolicy): the substrate's recipe as the
 * standing recipe, the first category the campaign's axes cover, the threshold at the constitution's minimum
 * with the noise unmeasured (floor), the mean as selection criterion.
 */
export function initialPolicy(opts: { constitution: Constitution; standingRecipe: RecipeDocument; axes: readonly Axis[]; anchorSeeds: number }): RollingPolicy {
  const rules = opts.constitution.rules;
  const activeCategory = firstCategory(opts.axes);
  return RollingPolicy.parse({
    revision: 0,
    forRound: 1,
    standingRecipe: structuredClone(opts.standingRecipe),
    activeCategory,
    activeAxes: axesOf(activeCategory, opts.axes, new Set()),
    retiredAxes: [],
    deadEnds: [],
    promotionThreshold: Math.round(rules.minThresholdNoiseMultiple * rules.noiseStdFloor * 1e6) / 1e6,
    noiseBand: { devStd: 0, lbStd: 0, seeds: 0, round: 0 },
    anchorSeeds: opts.anchorSeeds,
    selectionCriterion: { kind: 'mean' },
    objective: 'raise-dev-and-lb',
    evidenceRules: [],
    bestPublicLb: null,
    plateauRounds: 0,
    rationale: `initial policy under ${opts.constitution.name} ${opts.constitution.version}`,
  });
}
