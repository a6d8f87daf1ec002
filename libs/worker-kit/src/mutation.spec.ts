import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { Axis, type RecipeDocument } from '@aevo/contracts';
import { deadEnd, policy, RECIPE } from '../test/fixtures';
import { matchingDeadEnd } from './dead-ends';
import { proposeMutation, retryFix } from './mutation';
import { diffRecipe, setPath, applyToYaml, parseRecipeYaml } from './recipe-doc';

const DOMAINS = ['bit_manipulation', 'gravity', 'unit_conversion', 'cipher', 'numeral', 'equation'];
const EXPLORING = Axis.options.filter((a) => a !== 'baseline');

describe('proposeMutation', () => {
  it('is a pure function of (axis, recipe, policy, seed)', () => {
    for (const axis of EXPLORING) {
      const a = proposeMutation(axis, RECIPE, policy(), 1234, DOMAINS);
      const b = proposeMutation(axis, structuredClone(RECIPE), policy(), 1234, DOMAINS);
      expect(b).toEqual(a);
    }
  });

  it.each(EXPLORING)('changes something on axis %s, only settings the standing recipe has', (axis) => {
    const p = proposeMutation(axis, RECIPE, policy(), 7, DOMAINS);
    expect(p.settings.length + (p.criterion ? 1 : 0)).toBeGreaterThan(0);
    for (const s of p.settings) {
      const flat = diffRecipe(RECIPE, setPath(RECIPE, s.path, s.value));
      expect(flat.map((c) => c.path)).toContain(s.path);
      expect(s.from).toEqual(flat.find((c) => c.path === s.path)?.from);
    }
  });

  it('changes nothing for the baseline axis', () => {
    expect(proposeMutation('baseline', RECIPE, policy(), 1, DOMAINS).settings).toEqual([]);
  });

  it('never proposes a change matching a dead end (property over seeds and dead-end sets)', () => {
    const deadEnds = fc.subarray([
      deadEnd({ axis: 'learning-rate', path: 'lr', direction: 'increase' }),
      deadEnd({ axis: 'learning-rate', path: 'lr', direction: 'decrease' }),
      deadEnd({ axis: 'data-mix', path: 'mix.equation', direction: 'increase' }),
      deadEnd({ axis: 'data-mix', path: 'mix.unit_conversion', direction: 'decrease' }),
      deadEnd({ axis: 'synthetic-data', path: 'synthetic', direction: 'increase' }),
      deadEnd({ axis: 'schedule', path: 'schedule', direction: 'set', value: 'linear' }),
      deadEnd({ axis: 'lora-capacity', path: 'lora.rank' }),
      deadEnd({ axis: 'steps', path: 'steps', direction: 'increase' }),
    ]);
    fc.assert(
      fc.property(fc.constantFrom(...EXPLORING), fc.integer({ min: 0, max: 2 ** 31 }), deadEnds, fc.constantFrom('raise-dev-and-lb' as const, 'transfer-to-lb' as const), (axis, seed, des, objective) => {
        const pol = policy({ deadEnds: des, objective });
        const p = proposeMutation(axis, RECIPE, pol, seed, DOMAINS);
        return p.settings.every((s) => matchingDeadEnd({ path: s.path, from: s.from, to: s.value }, des) === null);
      }),
      { numRuns: 300 },
    );
  });

  it('falls back to the unchanged recipe, saying so, when every move is a dead end', () => {
    const pol = policy({ deadEnds: [deadEnd({ axis: 'learning-rate', path: 'lr' })] });
    const p = proposeMutation('learning-rate', RECIPE, pol, 3, DOMAINS);
    expect(p.settings).toEqual([]);
    expect(p.hypothesis).toMatch(/dead end/);
    expect(p.avoided.length).toBeGreaterThan(0);
  });

  it('under transfer-to-lb rebalances the over-represented domain instead of adding synthetic data', () => {
    for (let seed = 0; seed < 50; seed++) {
      const p = proposeMutation('synthetic-data', RECIPE, policy({ objective: 'transfer-to-lb' }), seed, DOMAINS);
      expect(p.settings).toEqual([{ path: 'mix.unit_conversion', from: 2, value: 1 }]);
      expect(p.hypothesis).toMatch(/rebalanc/);
    }
    // …and under raise-dev-and-lb it adds synthetic data.
    const dev = proposeMutation('synthetic-data', RECIPE, policy(), 5, DOMAINS);
    expect(dev.settings[0].path).toMatch(/^synthetic\./);
    expect(dev.settings[0].value as number).toBeGreaterThan(dev.settings[0].from as number);
  });

  it('keeps alpha/rank constant when changing LoRA capacity', () => {
    const p = proposeMutation('lora-capacity', RECIPE, policy(), 11, DOMAINS);
    const rank = p.settings.find((s) => s.path === 'lora.rank')!;
    const alpha = p.settings.find((s) => s.path === 'lora.alpha')!;
    expect((alpha.value as number) / (rank.value as number)).toBeCloseTo(16 / 8);
  });

  it('proposes a reweighted selection criterion on the checkpoint-selection axis', () => {
    const seen = new Set<string>();
    for (let seed = 0; seed < 30; seed++) {
      const p = proposeMutation('checkpoint-selection', RECIPE, policy(), seed, DOMAINS);
      seen.add(p.criterion ? p.criterion.kind : p.settings.map((s) => s.path).join());
    }
    expect(seen.has('reweighted')).toBe(true);
  });

  it('does nothing on a knob the recipe lacks', () => {
    const bare: RecipeDocument = { lr: 0.1 };
    expect(proposeMutation('lora-capacity', bare, policy({ standingRecipe: bare }), 1, DOMAINS).settings).toEqual([]);
  });
});

describe('retryFix', () => {
  it('halves the learning rate after a divergence', () => {
    expect(retryFix('diverged', 'DIVERGED at step 40', RECIPE, policy(), false).settings).toEqual([{ path: 'lr', from: 0.003, value: 0.0015 }]);
  });
  it('tightens clipping instead when lowering lr is a dead end', () => {
    const pol = policy({ deadEnds: [deadEnd({ axis: 'learning-rate', path: 'lr', direction: 'decrease' })] });
    expect(retryFix('diverged', '', RECIPE, pol, false).settings).toEqual([{ path: 'grad_clip', from: 1, value: 0.5 }]);
  });
  it('fewer steps and a smaller batch after a timeout', () => {
    expect(retryFix('timeout', '', RECIPE, policy(), false).settings).toEqual([
      { path: 'steps', from: 200, value: 100 },
      { path: 'batch_size', from: 32, value: 16 },
    ]);
  });
  it('a smaller batch after running out of memory', () => {
    expect(retryFix('exit-code', 'RuntimeError: CUDA out of memory', RECIPE, policy(), false).settings).toEqual([{ path: 'batch_size', from: 32, value: 16 }]);
  });
  it('never changes the anchor recipe', () => {
    expect(retryFix('diverged', 'DIVERGED', RECIPE, policy(), true).settings).toEqual([]);
  });
});

describe('recipe documents', () => {
  it('applies settings to YAML keeping comments and order', () => {
    const text = '# learning rate\nlr: 0.003 # tuned\nmix:\n  equation: 1 # weak\n  gravity: 1\n';
    const out = applyToYaml(text, [
      { path: 'lr', to: 0.0015 },
      { path: 'mix.equation', to: 2 },
    ]);
    expect(out).toBe('# learning rate\nlr: 0.0015 # tuned\nmix:\n  equation: 2 # weak\n  gravity: 1\n');
    expect(diffRecipe(parseRecipeYaml(text), parseRecipeYaml(out))).toEqual([
      { path: 'lr', from: 0.003, to: 0.0015 },
      { path: 'mix.equation', from: 1, to: 2 },
    ]);
  });
  it('refuses a recipe that is not a mapping, saying so', () => {
    expect(() => parseRecipeYaml('- a\n- b\n', 'recipe.yaml')).toThrow(/recipe.yaml must be a YAML mapping/);
    expect(() => parseRecipeYaml('a: [\n', 'recipe.yaml')).toThrow(/recipe.yaml is not valid YAML/);
  });
});

describe('on the reference substrate recipe (substrate/wonderland/recipe.yaml)', () => {
  const file = path.resolve(__dirname, '../../../substrate/wonderland/recipe.yaml');
  const text = fs.readFileSync(file, 'utf8');
  it.each(EXPLORING)('axis %s yields a change the recipe file can take', (axis) => {
    const recipe = parseRecipeYaml(text);
    const p = proposeMutation(axis, recipe, policy({ standingRecipe: recipe }), 42, DOMAINS);
    expect(p.settings.length + (p.criterion ? 1 : 0)).toBeGreaterThan(0);
    const out = applyToYaml(text!, p.settings.map((s) => ({ path: s.path, to: s.value })));
    const changed = diffRecipe(recipe, parseRecipeYaml(out)).map((c) => c.path);
    expect(changed.sort()).toEqual(p.settings.map((s) => s.path).sort());
    for (const s of p.settings) if (s.path.includes('augment')) expect(s.value as number).toBeLessThanOrEqual(1);
  });
});
