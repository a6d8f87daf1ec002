import { ParseMemo, parseRecipeYaml } from './recipe-doc';

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

describe('ParseMemo', () => {
  it('parses a text once and forgets the oldest text beyond its limit', () => {
    const parsed: string[] = [];
    const memo = new ParseMemo<{ t: string }>(2);
    const parse = (t: string) => (parsed.push(t), { t });
    for (const t of ['a', 'a', 'b', 'a', 'c', 'b', 'a']) expect(memo.get(t, parse)).toEqual({ t });
    // a, b parsed; c evicts a; b still held; a parsed again
    expect(parsed).toEqual(['a', 'b', 'c', 'a']);
  });
});
