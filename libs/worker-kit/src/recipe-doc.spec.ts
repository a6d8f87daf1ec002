import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as YAML from 'yaml';
import { applyToYaml, parseRecipeYaml } from './recipe-doc';

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

describe('applyToYaml', () => {
  const recipe = readFileSync(join(__dirname, '../../../substrate/simulated/recipe.yaml'), 'utf8');

  it('edits a copy of the remembered parse: each edit gives what a fresh parse would, none leaks into the next', () => {
    const fresh = (settings: { path: string; to: unknown }[]) => {
      const doc = YAML.parseDocument(recipe);
      for (const s of settings) doc.setIn(s.path.split('.'), s.to);
      return doc.toString();
    };
    const edits = [
      [{ path: 'optim.lr', to: 0.5 }],
      [
        { path: 'optim.lr', to: 0.25 },
        { path: 'new.knob', to: [1, 2] },
      ],
      [{ path: 'data.synthetic.count', to: 800 }],
      [],
    ];
    for (const settings of [...edits, ...edits]) expect(applyToYaml(recipe, settings)).toBe(fresh(settings));
  });
});
