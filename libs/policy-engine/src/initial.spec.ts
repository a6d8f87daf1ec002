import { DomainError } from '@aevo/contracts';
import { collectRoundEvidence, testRound, type CandidateSpec } from '@aevo/evidence';
import { firstCategory, nextCategory, ROTATION_ORDER } from './axes';
import { initialPolicy } from './initial';
import { revisionFacts } from './revise';
import { defaultConstitution } from './test-support';

describe('the rotation order', () => {
  it(
    'given the axis categories, when ordered for rotation, then every search category comes once and the anchor ' +
      'never',
    () => {
      expect(ROTATION_ORDER).toEqual(['optimisation', 'capacity', 'data', 'selection']);
    },
  );

  it(
    'given campaign axes, when asked for the first category, then it is the first in rotation order they cover (null ' +
      'when none)',
    () => {
      expect(firstCategory(['checkpoint-selection', 'data-mix', 'lora-capacity'])).toBe('capacity');
      expect(firstCategory(['baseline'])).toBeNull();
    },
  );

  it('given the last category, when rotating, then it wraps around to the first one the campaign still covers', () => {
    expect(nextCategory('selection', ['learning-rate', 'checkpoint-selection'], new Set())).toBe('optimisation');
    expect(
      nextCategory('optimisation', ['learning-rate', 'checkpoint-selection'], new Set(['checkpoint-selection'])),
    ).toBeNull();
  });
});

describe('initialPolicy', () => {
  const recipe = { optim: { lr: 0.001, steps: 400 }, mix: { equation: 1 } };

  it(
    'given campaign axes, when the campaign starts, then revision 0 explores the first category in rotation order, ' +
      'with every axis of it',
    () => {
      const p = initialPolicy({
        standingRecipe: recipe,
        axes: ['data-mix', 'schedule', 'learning-rate'],
        anchorSeeds: 3,
      });
      expect(p).toMatchObject({
        revision: 0,
        forRound: 1,
        activeCategory: 'optimisation',
        activeAxes: ['learning-rate', 'schedule'],
        anchorSeeds: 3,
      });
      expect(p.standingRecipe).toEqual(recipe);
      expect(p.standingRecipe).not.toBe(recipe);
    },
  );

  it(
    'given no measured noise, when the campaign starts, ' + 'then there is no promotion threshold and no measured band',
    () => {
      const p = initialPolicy({ standingRecipe: recipe, axes: ['learning-rate'], anchorSeeds: 2 });
      expect(p.promotionThreshold).toBe(0);
      expect(p.noiseBand).toEqual({ devStd: 0, lbStd: 0, seeds: 0, round: 0 });
      expect(p.rationale).toBe(
        "Initial policy: the substrate's recipe stands; explore optimisation (learning-rate) first; no noise " +
          'measured yet, so no promotion threshold.',
      );
    },
  );

  it('given axes naming no search axis, when the campaign starts, then it is refused on payload.axes', () => {
    expect(() => initialPolicy({ standingRecipe: recipe, axes: ['baseline'], anchorSeeds: 1 })).toThrow(DomainError);
    try {
      initialPolicy({ standingRecipe: recipe, axes: ['baseline'], anchorSeeds: 1 });
    } catch (err) {
      expect((err as DomainError).code).toBe('INVALID_CAMPAIGN');
      expect((err as DomainError).issues[0].path).toBe('payload.axes');
    }
  });

  it(
    'given the initial policy, when round 1 is revised, then the promotion bar is the constitution minimum, as it ' +
      'would be with the threshold at that minimum',
    () => {
      const constitution = defaultConstitution();
      const p0 = initialPolicy({ standingRecipe: recipe, axes: ['learning-rate'], anchorSeeds: 3 });
      const specs: CandidateSpec[] = [
        { axis: 'baseline', dev: 0.6, lb: 0.55, extraSeedDevs: [0.605, 0.595] },
        { axis: 'learning-rate', dev: 0.63, lb: 0.58, changes: [{ path: 'optim.lr', from: 0.001, to: 0.002 }] },
      ];
      const evidence = collectRoundEvidence(testRound(specs, { round: 1, policy: p0 }));
      const rules = constitution.constitution.rules;
      const atMinimum = {
        ...p0,
        promotionThreshold: Math.round(rules.minThresholdNoiseMultiple * rules.noiseStdFloor * 1e6) / 1e6,
      };
      const facts = revisionFacts(p0, evidence, constitution.constitution, { campaignAxes: ['learning-rate'] });
      expect(facts.promotionBar).toBe(facts.minimumThreshold);
      expect(
        revisionFacts(atMinimum, evidence, constitution.constitution, { campaignAxes: ['learning-rate'] }).promotionBar,
      ).toBe(facts.promotionBar);
    },
  );
});
