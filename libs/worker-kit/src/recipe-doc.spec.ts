import { parseRecipeYaml } from './recipe-doc';

describe('parseRecipeYaml', () => {
  it('hands out copies: what a caller does to one parse never reaches the next', () => {
    const text = 'optim:\n  lr: 0.001\nmix: [a, b]\n';
    const first = parseRecipeYaml(text);
    (first.optim as { lr: number }).lr = 99;
    (first.mix as string[]).push('c');
    expect(parseRecipeYaml(text)).toEqual({ optim: { lr: 0.001 }, mix: ['a', 'b'] });
  });

  it('names the file of a bad recipe every time it is asked, not only the first', () => {
    expect(() => parseRecipeYaml('a: [1, 2', 'recipe.yaml')).toThrow(/recipe.yaml is not valid YAML/);
    expect(() => parseRecipeYaml('a: [1, 2', 'other.yaml')).toThrow(/other.yaml is not valid YAML/);
    expect(() => parseRecipeYaml('- 1\n- 2\n', 'recipe.yaml')).toThrow(/recipe.yaml must be a YAML mapping/);
  });
});
