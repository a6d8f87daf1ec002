import { DomainError, type CampaignConfig, type RecipeDocument, type RollingPolicy } from '@aevo/contracts';
import { axesOfCategory, firstSearchCategory } from './axes';

/**
 * Revision 0 of the rolling policy, for round 1: the substrate's recipe as standing recipe, the first axis
 * category (in the meta-policy's rotation order) that the campaign's axes cover, nothing retired or dead yet, and
 * no promotion threshold until the anchor has measured the seed noise.
 */
export function initialPolicy(config: CampaignConfig, standingRecipe: RecipeDocument): RollingPolicy {
  const category = firstSearchCategory(config.axes);
  if (category === null)
    throw new DomainError('INVALID_CAMPAIGN', `axes [${config.axes.join(', ')}] name no search axis`, [
      { path: 'payload.axes', message: 'expected at least one axis other than "baseline"' },
    ]);
  const activeAxes = axesOfCategory(category, config.axes);
  return {
    revision: 0,
    forRound: 1,
    standingRecipe,
    activeCategory: category,
    activeAxes,
    retiredAxes: [],
    deadEnds: [],
    promotionThreshold: 0,
    noiseBand: { devStd: 0, lbStd: 0, seeds: 0, round: 0 },
    anchorSeeds: config.anchorSeeds,
    selectionCriterion: { kind: 'mean' },
    objective: 'raise-dev-and-lb',
    evidenceRules: [],
    bestPublicLb: null,
    plateauRounds: 0,
    rationale: `Initial policy: the substrate's recipe stands; explore ${category} (${activeAxes.join(', ')}) first; no noise measured yet, so no promotion threshold.`,
  };
}
