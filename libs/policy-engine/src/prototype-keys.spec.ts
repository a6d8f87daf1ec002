import * as fc from 'fast-check';
import { canonicalJson, type RecipeDocument } from '@aevo/contracts';
import { applyRecipeChanges, flattenRecipe } from './recipe';
import { diffPolicies } from './diff';
import { emptyPolicyHistory, applyPolicyHistory } from './history';
import { dict, own, setOwn } from './own';

const KEYS = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', 'prototype'];
const key = fc.constantFrom(...KEYS);
const protoNames = () => Object.getOwnPropertyNames(Object.prototype).sort().join(',');

describe('policy engine with keys named after Object.prototype members', () => {
  it('applies recipe changes at such paths as settings of the recipe, never of a prototype', () => {
    const before = protoNames();
    fc.assert(
      fc.property(fc.array(key, { minLength: 1, maxLength: 3 }), fc.integer(), (segs, value) => {
        const path = segs.join('.');
        const recipe = applyRecipeChanges({ lr: 0.1 } as RecipeDocument, [{ path, to: value }]);
        expect(flattenRecipe(recipe).get(path)).toBe(value);
        expect(JSON.parse(JSON.stringify(recipe))).toEqual(recipe);
        expect(protoNames()).toBe(before);
        expect(({} as Record<string, unknown>)[segs[segs.length - 1]]).not.toBe(value);
        // Removing it again leaves the recipe as it was.
        const back = applyRecipeChanges(recipe, [{ path, from: value, to: null }]);
        expect(flattenRecipe(back).has(path)).toBe(false);
        expect(flattenRecipe(back).get('lr')).toBe(0.1);
      }),
    );
  });

  it('lists recipe changes at such paths in a policy diff', () => {
    fc.assert(
      fc.property(key, fc.integer(), (k, v) => {
        const a = { standingRecipe: { lr: 0.1 } } as never;
        const recipe = dict<unknown>();
        setOwn(recipe, 'lr', 0.1);
        setOwn(recipe, k, v);
        const b = { standingRecipe: recipe } as never;
        const changes = diffPolicies(
          { ...(a as object), activeAxes: [], retiredAxes: [], deadEnds: [], evidenceRules: [] } as never,
          { ...(b as object), activeAxes: [], retiredAxes: [], deadEnds: [], evidenceRules: [] } as never,
        );
        expect(changes).toContain(`standing recipe: ${k} set to ${canonicalJson(v)}`);
      }),
    );
  });

  it('folds a policy history for a campaign with such an id', () => {
    fc.assert(
      fc.property(key, (campaignId) => {
        const s = emptyPolicyHistory();
        const initialPolicy = { revision: 0, forRound: 1, standingRecipe: {} };
        applyPolicyHistory(s, {
          type: 'CampaignStarted',
          campaignId,
          data: { constitutionSha256: 'a'.repeat(64), initialPolicy },
        });
        applyPolicyHistory(s, {
          type: 'ConstitutionViolationRefused',
          campaignId,
          data: { round: 1, rule: 'r', detail: 'd' },
        });
        expect(own(s, campaignId)?.revisions).toHaveLength(1);
        expect(own(s, campaignId)?.refusals).toHaveLength(1);
        expect(Object.keys(s)).toEqual([campaignId]);
      }),
    );
  });
});
