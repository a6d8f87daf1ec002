import { parse } from 'yaml';
import { DEFAULT_FIXTURE_RECIPE } from './fixture';
import { mergeRecipe, mergeRecipeYaml } from './recipe-merge';

describe('mergeRecipeYaml', () => {
  it('deep-merges mappings, replaces scalars and lists, keeps comments', () => {
    const out = mergeRecipeYaml(DEFAULT_FIXTURE_RECIPE, { lr: 0.002, mix: { equation: 3 }, filters: ['len<200'] });
    expect(parse(out)).toEqual({ lr: 0.002, steps: 100, mix: { gravity: 1, cipher: 1, equation: 3 }, filters: ['len<200'] });
    expect(out).toContain('# learning rate');
    expect(parse(out)).toEqual(mergeRecipe(parse(DEFAULT_FIXTURE_RECIPE), { lr: 0.002, mix: { equation: 3 }, filters: ['len<200'] }));
  });

  it('replaces a scalar by a mapping and leaves text untouched for an empty overlay', () => {
    expect(parse(mergeRecipeYaml('a: 1\n', { a: { b: 2 } }))).toEqual({ a: { b: 2 } });
    expect(mergeRecipeYaml(DEFAULT_FIXTURE_RECIPE, {})).toBe(DEFAULT_FIXTURE_RECIPE);
  });

  it('refuses a recipe that is not a mapping', () => {
    expect(() => mergeRecipeYaml('- 1\n- 2\n', { a: 1 })).toThrow(/mapping/);
  });
});
