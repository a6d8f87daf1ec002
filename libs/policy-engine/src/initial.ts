import { DomainError, type Axis, type RecipeDocument, type RollingPolicy } from '@aevo/contracts';
import { axesOf, firstCategory } from './axes';

/**
 * Revision 0 of a campaign's rolling policy, for round 1 (the one the orchestrator records in
 * CampaignStarted.initialPolicy): the substrate's recipe as the standing recipe, the first category in rotation
 * order that the campaign's axes cover, nothing retired or dead yet, the mean as selection criterion, and no
 * promotion threshold (0) until the anchor has measured the seed noise. The first revision's promotion bar is
 * never below the constitution's minimum anyway (`revisionFacts` takes the larger of the two).
 *
 * Refused (INVALID_CAMPAIGN on payload.axes) when the axes name no search axis.
 */
export function initialPolicy(opts: {
  standingRecipe: RecipeDocument;
  axes: readonly Axis[];
  anchorSeeds: number;
}): RollingPolicy {
  const category = firstCategory(opts.axes);
  if (category === null)
    throw new DomainError('INVALID_CAMPAIGN', `axes [${opts.axes.join(', ')}] name no search axis`, [
      { path: 'payload.axes', message: 'expected at least one axis other than "baseline"' },
    ]);
  const activeAxes = axesOf(category, opts.axes, new Set());
  return {
    revision: 0,
    forRound: 1,
    standingRecipe: structuredClone(opts.standingRecipe),
    activeCategory: category,
    activeAxes,
    retiredAxes: [],
    deadEnds: [],
    promotionThreshold: 0,
    noiseBand: { devStd: 0, lbStd: 0, seeds: 0, round: 0 },
    anchorSeeds: opts.anchorSeeds,
    selectionCriterion: { kind: 'mean' },
    objective: 'raise-dev-and-lb',
    evidenceRules: [],
    bestPublicLb: null,
    plateauRounds: 0,
    rationale:
      `Initial policy: the substrate's recipe stands; explore ${category} (${activeAxes.join(', ')}) first; ` +
      `no noise measured yet, so no promotion threshold.`,
  };
}
