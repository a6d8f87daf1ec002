import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { Axis, type RecipeDocument, type RollingPolicy } from '@aevo/contracts';
import { mutationBaselineCases } from '../test/mutation-baseline-cases';
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
      fc.property(
        fc.constantFrom(...EXPLORING),
        fc.integer({ min: 0, max: 2 ** 31 }),
        deadEnds,
        fc.constantFrom('raise-dev-and-lb' as const, 'transfer-to-lb' as const),
        (axis, seed, des, objective) => {
          const pol = policy({ deadEnds: des, objective });
          const p = proposeMutation(axis, RECIPE, pol, seed, DOMAINS);
          return p.settings.every((s) => matchingDeadEnd({ path: s.path, from: s.from, to: s.value }, des) === null);
        },
      ),
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
    expect(retryFix('diverged', 'DIVERGED at step 40', RECIPE, policy(), false).settings).toEqual([
      { path: 'lr', from: 0.003, value: 0.0015 },
    ]);
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
    expect(retryFix('exit-code', 'RuntimeError: CUDA out of memory', RECIPE, policy(), false).settings).toEqual([
      { path: 'batch_size', from: 32, value: 16 },
    ]);
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
    const out = applyToYaml(
      text!,
      p.settings.map((s) => ({ path: s.path, to: s.value })),
    );
    const changed = diffRecipe(recipe, parseRecipeYaml(out)).map((c) => c.path);
    expect(changed.sort()).toEqual(p.settings.map((s) => s.path).sort());
    for (const s of p.settings) if (s.path.includes('augment')) expect(s.value as number).toBeLessThanOrEqual(1);
  });
  it.each(EXPLORING)(
    'axis %s under search hints (3 knobs, widened directions) yields a combined change the recipe file can take',
    (axis) => {
      const recipe = setPath(parseRecipeYaml(text), 'data.synthetic.count', 800);
      const yaml = applyToYaml(text, [{ path: 'data.synthetic.count', to: 800 }]);
      const searchHints = {
        maxKnobsPerMove: 3,
        directions: [
          { path: 'data.synthetic.count', direction: 'increase' as const, paidRounds: [2], stepScale: 2 },
          { path: 'data.mix.equation', direction: 'increase' as const, paidRounds: [3], stepScale: 2 },
          { path: 'train.lr', direction: 'decrease' as const, paidRounds: [1, 3], stepScale: 1.5 },
        ],
      };
      const p = proposeMutation(axis, recipe, policy({ standingRecipe: recipe, searchHints }), 42, DOMAINS);
      expect(p.settings.length).toBeLessThanOrEqual(3);
      const out = applyToYaml(
        yaml,
        p.settings.map((s) => ({ path: s.path, to: s.value })),
      );
      expect(
        diffRecipe(recipe, parseRecipeYaml(out))
          .map((c) => c.path)
          .sort(),
      ).toEqual(p.settings.map((s) => s.path).sort());
      if (axis === 'synthetic-data')
        expect(p.settings).toContainEqual({ path: 'data.synthetic.count', from: 800, value: 3200 });
    },
  );
});

describe('proposeMutation under the policy’s search hints', () => {
  const hints = (over: Partial<NonNullable<RollingPolicy['searchHints']>> = {}): RollingPolicy['searchHints'] => ({
    maxKnobsPerMove: 1,
    directions: [],
    ...over,
  });
  const dir = (path: string, direction: 'increase' | 'decrease', stepScale = 2, paidRounds = [2, 3]) => ({
    path,
    direction,
    paidRounds,
    stepScale,
  });

  it(
    'given no hints, when proposing for the recorded seeds, axes, objectives and dead ends, ' +
      'then every proposal equals the one recorded before hints existed',
    () => {
      const recorded = JSON.parse(
        fs.readFileSync(path.resolve(__dirname, '../test/mutation-baseline.json'), 'utf8'),
      ) as Array<{ id: string; proposal: unknown }>;
      const cases = mutationBaselineCases();
      expect(cases.map((c) => c.id)).toEqual(recorded.map((r) => r.id));
      cases.forEach((c, i) => {
        expect(c.policy.searchHints).toBeUndefined();
        expect(JSON.parse(JSON.stringify(proposeMutation(c.axis, c.recipe, c.policy, c.seed, c.domains)))).toEqual(
          recorded[i].proposal,
        );
      });
    },
  );

  it(
    'given hints with one knob per move and no directions, when ' +
      'proposing, then the proposals are the unhinted ones',
    () => {
      for (const c of mutationBaselineCases().filter((_, i) => i % 5 === 0)) {
        const hinted = { ...c.policy, searchHints: hints() };
        expect(proposeMutation(c.axis, c.recipe, hinted, c.seed, c.domains)).toEqual(
          proposeMutation(c.axis, c.recipe, c.policy, c.seed, c.domains),
        );
      }
    },
  );

  it(
    'given a learning-rate increase that paid at stepScale 2, when the lr axis ' +
      'proposes, then it raises lr by the squared factor and says why',
    () => {
      const pol = policy({ searchHints: hints({ directions: [dir('lr', 'increase')] }) });
      const seen = new Set<number>();
      for (let seed = 0; seed < 40; seed++) {
        const p = proposeMutation('learning-rate', RECIPE, pol, seed, DOMAINS);
        expect(p.settings).toHaveLength(1);
        expect(p.settings[0].path).toBe('lr');
        seen.add(p.settings[0].value as number);
        expect(p.hypothesis).toMatch(/step widened from ×(1\.5|2) to ×(2\.25|4) .*increase of lr paid in rounds 2, 3/);
      }
      // 1.5 → 1.5² = 2.25 and 2 → 2² = 4; never a decrease, never the usual step
      expect([...seen].sort()).toEqual([0.00675, 0.012]);
    },
  );

  it('given a hinted decrease, when proposing, then only the decrease is continued, widened (integers rounded)', () => {
    const pol = policy({ searchHints: hints({ directions: [dir('steps', 'decrease', 3, [4])] }) });
    const p = proposeMutation('steps', RECIPE, pol, 9, DOMAINS);
    // 200 × 0.75³ = 84.375 → 84
    expect(p.settings).toEqual([{ path: 'steps', from: 200, value: 84 }]);
    expect(p.hypothesis).toMatch(/lower training steps 200 → 84 .*decrease of steps paid in round 4/);
  });

  it(
    'given an up-weight of a mix domain that paid, when the data-mix axis proposes under ' +
      'transfer-to-lb, then it continues that up-weight, widened, before rebalancing',
    () => {
      const recipe = { ...RECIPE, mix: { ...(RECIPE.mix as object), equation: 4 } } as RecipeDocument;
      const pol = policy({
        standingRecipe: recipe,
        objective: 'transfer-to-lb',
        searchHints: hints({ directions: [dir('mix.equation', 'increase', 2)] }),
      });
      for (let seed = 0; seed < 10; seed++) {
        const p = proposeMutation('data-mix', recipe, pol, seed, DOMAINS);
        // 4 × 1.5² = 9
        expect(p.settings).toEqual([{ path: 'mix.equation', from: 4, value: 9 }]);
      }
    },
  );

  it(
    'given a hinted synthetic count, when the synthetic-data axis ' +
      'proposes, then the count grows by the widened factor',
    () => {
      const text = fs.readFileSync(path.resolve(__dirname, '../../../substrate/wonderland/recipe.yaml'), 'utf8');
      const recipe = setPath(parseRecipeYaml(text), 'data.synthetic.count', 800);
      const pol = policy({
        standingRecipe: recipe,
        searchHints: hints({ directions: [dir('data.synthetic.count', 'increase', 3, [2])] }),
      });
      const p = proposeMutation('synthetic-data', recipe, pol, 1, DOMAINS);
      expect(p.settings).toEqual([{ path: 'data.synthetic.count', from: 800, value: 6400 }]);
      expect(p.hypothesis).toMatch(/add synthetic examples 800 → 6400 .*×2\^3/);
    },
  );

  it(
    'given two knobs per move and a hinted mix direction, when the lr axis proposes, then it ' +
      'combines lr with the hinted mix move on two distinct paths, naming both',
    () => {
      const pol = policy({
        searchHints: hints({ maxKnobsPerMove: 2, directions: [dir('mix.equation', 'increase', 2)] }),
      });
      for (let seed = 0; seed < 30; seed++) {
        const p = proposeMutation('learning-rate', RECIPE, pol, seed, DOMAINS);
        expect(p.settings.map((s) => s.path)).toEqual(['lr', 'mix.equation']);
        // 1 × 1.5² rounds to 2, the usual step: a widened integer step goes one unit further
        expect(p.settings[1]).toEqual({ path: 'mix.equation', from: 1, value: 3 });
        expect(p.hypothesis).toMatch(/one move of 2 knobs \(at most 2\): lr, mix\.equation/);
        expect(proposeMutation('learning-rate', RECIPE, pol, seed, DOMAINS)).toEqual(p);
      }
    },
  );

  it(
    'given two knobs per move and no directions, when the data-mix axis proposes, then it adds ' +
      'another admissible move of its own axis, never on the same path',
    () => {
      const pol = policy({ searchHints: hints({ maxKnobsPerMove: 2 }) });
      for (let seed = 0; seed < 30; seed++) {
        const p = proposeMutation('data-mix', RECIPE, pol, seed, DOMAINS);
        expect(p.settings).toHaveLength(2);
        expect(new Set(p.settings.map((s) => s.path)).size).toBe(2);
        for (const s of p.settings) expect(s.path).toMatch(/^mix\./);
      }
    },
  );

  it(
    'never combines more than k settings, two settings on one path, or a dead end ' +
      '(property over seeds, axes, k, hints and dead ends)',
    () => {
      const deadEnds = fc.subarray([
        deadEnd({ axis: 'learning-rate', path: 'lr', direction: 'increase' }),
        deadEnd({ axis: 'data-mix', path: 'mix.equation', direction: 'increase' }),
        deadEnd({ axis: 'data-mix', path: 'mix', direction: 'decrease' }),
        deadEnd({ axis: 'synthetic-data', path: 'synthetic', direction: 'increase' }),
        deadEnd({ axis: 'steps', path: 'steps', direction: 'increase' }),
        deadEnd({ axis: 'steps', path: 'steps', direction: 'set', value: 675 }),
      ]);
      const directions = fc.subarray([
        dir('lr', 'increase', 2),
        dir('lr', 'decrease', 3),
        dir('mix.equation', 'increase', 2),
        dir('mix.unit_conversion', 'decrease', 1),
        dir('synthetic.equation', 'increase', 2),
        dir('steps', 'increase', 2),
        dir('batch_size', 'increase', 2),
        dir('augment.paraphrase', 'increase', 4),
      ]);
      fc.assert(
        fc.property(
          fc.constantFrom(...EXPLORING),
          fc.integer({ min: 0, max: 2 ** 31 }),
          fc.integer({ min: 1, max: 4 }),
          directions,
          deadEnds,
          (axis, seed, k, ds, des) => {
            const pol = policy({ deadEnds: des, searchHints: { maxKnobsPerMove: k, directions: ds } });
            const p = proposeMutation(axis, RECIPE, pol, seed, DOMAINS);
            const paths = p.settings.map((s) => s.path);
            const lora = axis === 'lora-capacity' ? 1 : 0; // rank and alpha move together
            return (
              p.settings.every((s) => matchingDeadEnd({ path: s.path, from: s.from, to: s.value }, des) === null) &&
              p.settings.length <= Math.max(k, 1 + lora) &&
              new Set(paths).size === paths.length &&
              paths.every((a, i) =>
                paths.every((b, j) => i === j || !(b.startsWith(`${a}.`) || a.startsWith(`${b}.`))),
              ) &&
              (paths.length <= 1 + lora || paths.every((p2) => p.hypothesis.includes(p2))) &&
              p.settings.every((s) => !s.path.includes('augment') || (s.value as number) <= 1)
            );
          },
        ),
        { numRuns: 400 },
      );
    },
  );

  it('given a hinted direction that is also a dead end, when proposing, then the dead end wins', () => {
    const pol = policy({
      deadEnds: [deadEnd({ axis: 'learning-rate', path: 'lr', direction: 'increase' })],
      searchHints: hints({ maxKnobsPerMove: 2, directions: [dir('lr', 'increase')] }),
    });
    const p = proposeMutation('learning-rate', RECIPE, pol, 5, DOMAINS);
    expect(p.settings).toHaveLength(1);
    expect(p.settings[0].value as number).toBeLessThan(0.003);
    expect(p.avoided.length).toBeGreaterThan(0);
  });

  it('given a widened step that would hit a set-value dead end, when proposing, then it keeps the usual step', () => {
    const pol = policy({
      deadEnds: [deadEnd({ axis: 'steps', path: 'steps', direction: 'set', value: 450 })],
      searchHints: hints({ directions: [dir('steps', 'increase', 2)] }),
    });
    expect(proposeMutation('steps', RECIPE, pol, 1, DOMAINS).settings).toEqual([
      { path: 'steps', from: 200, value: 300 },
    ]);
  });
});
