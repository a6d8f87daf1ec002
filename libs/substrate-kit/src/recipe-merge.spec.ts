import { parse } from 'yaml';
import { DEFAULT_FIXTURE_RECIPE } from './fixture';
import { mergeRecipe, mergeRecipeYaml } from './recipe-merge';

describe('mergeRecipeYaml', () => {
  it('deep-merges mappings, replaces scalars and lists, keeps comments', () => {
    const out = mergeRecipeYaml(DEFAULT_FIXTURE_RECIPE, { lr: 0.002, mix: { equation: 3 }, filters: ['len<200'] });
    expect(parse(out)).toEqual({
      lr: 0.002,
      steps: 100,
      mix: { gravity: 1, cipher: 1, equation: 3 },
      filters: ['len<200'],
    });
    expect(out).toContain('# learning rate');
    expect(parse(out)).toEqual(
      mergeRecipe(parse(DEFAULT_FIXTURE_RECIPE), { lr: 0.002, mix: { equation: 3 }, filters: ['len<200'] }),
    );
  });

  it('replaces a scalar by a mapping and leaves text untouched for an empty overlay', () => {
    expect(parse(mergeRecipeYaml('a: 1\n', { a: { b: 2 } }))).toEqual({ a: { b: 2 } });
    expect(mergeRecipeYaml(DEFAULT_FIXTURE_RECIPE, {})).toBe(DEFAULT_FIXTURE_RECIPE);
  });

  it('refuses a recipe that is not a mapping, every time it is asked', () => {
    expect(() => mergeRecipeYaml('- 1\n- 2\n', { a: 1 })).toThrow(/mapping/);
    expect(() => mergeRecipeYaml('- 1\n- 2\n', { a: 1 })).toThrow(/mapping/);
  });

  it('gives the same text for the same inputs, and a different one when only the overlay order differs', () => {
    const a = mergeRecipeYaml('x: 1\n', { y: 2, z: 3 });
    expect(mergeRecipeYaml('x: 1\n', { y: 2, z: 3 })).toBe(a);
    expect(a).toBe('x: 1\ny: 2\nz: 3\n');
    // New keys are appended in the overlay's order, so that order is part of what is remembered.
    expect(mergeRecipeYaml('x: 1\n', { z: 3, y: 2 })).toBe('x: 1\nz: 3\ny: 2\n');
    expect(mergeRecipeYaml('x: 2\n', { y: 2, z: 3 })).toBe('x: 2\ny: 2\nz: 3\n');
  });
});
