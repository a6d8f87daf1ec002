import { ConstitutionRules, RollingPolicy, type Axis, type RecipeDocument } from '@aevo/contracts';
import type { z } from 'zod';
import { testPolicy } from '@aevo/evidence';
import { initialPolicy } from '@aevo/policy-engine';

/** The standing recipe, axes and anchor seeds a test campaign starts from unless it names its own. */
export const TEST_STANDING_RECIPE: RecipeDocument = {
  optim: { lr: 0.001, steps: 400 },
  mix: { equation: 1, gravity: 1 },
};
export const TEST_AXES: readonly Axis[] = ['learning-rate', 'schedule', 'steps', 'data-mix', 'synthetic-data'];

/** The rules of a test constitution that every check passes on (`noiseStdFloor` left to its default). */
export const TEST_CONSTITUTION_RULES: z.input<typeof ConstitutionRules> = {
  leaderboardAuthoritative: true,
  plateauRoundsBeforeRotation: 2,
  deadEndRegistryOnlyGrows: true,
  promotionRequiresLbGain: true,
  minThresholdNoiseMultiple: 1,
  decouplingNoiseMultiple: 2,
};

export interface InitialPolicyOverrides extends Partial<RollingPolicy> {
  /** Inputs of `initialPolicy` (policy-engine), the function the orchestrator records revision 0 with. */
  axes?: readonly Axis[];
  anchorSeeds?: number;
}

export const policies = {
  /**
   * Revision 0 as the orchestrator records it in CampaignStarted.initialPolicy (policy-engine's `initialPolicy`),
   * then the field overrides, validated by the contracts' RollingPolicy schema.
   */
  initial(overrides: InitialPolicyOverrides = {}): RollingPolicy {
    const { axes = TEST_AXES, anchorSeeds = 2, ...fields } = overrides;
    const base = initialPolicy({ standingRecipe: fields.standingRecipe ?? TEST_STANDING_RECIPE, axes, anchorSeeds });
    // RollingPolicy is strict: a misspelt override fails here instead of passing on the default.
    return RollingPolicy.parse({ ...base, ...fields });
  },

  /** The next revision of `previous` (for the round after), with field overrides, validated. */
  revised(previous: RollingPolicy, overrides: Partial<RollingPolicy> = {}): RollingPolicy {
    const next = { ...previous, revision: previous.revision + 1, forRound: previous.forRound + 1 };
    return RollingPolicy.parse({ ...next, rationale: `test revision ${next.revision}`, ...overrides });
  },

  /**
   * A hand-set policy of `revision` (not policy-engine's): one active axis (learning-rate), nothing retired, no dead
   * ends, no noise band, mean selection, two anchor seeds; then the field overrides, validated. For services that
   * read only a few of its fields. It is the evidence library's `testPolicy` (which cannot use this kit: the kit
   * depends on it) narrowed to one axis.
   */
  plain(revision: number, standingRecipe: RecipeDocument, overrides: Partial<RollingPolicy> = {}): RollingPolicy {
    return testPolicy({
      revision,
      forRound: revision + 1,
      standingRecipe,
      activeAxes: ['learning-rate'],
      ...overrides,
    });
  },
};
