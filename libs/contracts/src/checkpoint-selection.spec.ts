import fc from 'fast-check';
import {
  criterionScore,
  describeCriterion,
  missingWeightedDomains,
  selectByScore,
  selectCheckpoint,
  weightedDomains,
} from './checkpoint-selection';

const ck = (id: string, step: number, overall: number, domains: Record<string, number> = {}) => ({
  checkpoint: `ckpt/${id}`,
  step,
  dev: { overall, domains },
});

describe('checkpoint scoring by criterion', () => {
  it('given the mean criterion, when a checkpoint is scored, then the score is its overall dev score', () => {
    expect(criterionScore({ overall: 0.42, domains: { gravity: 0.9 } }, { kind: 'mean' })).toBe(0.42);
  });

  it(
    'given a reweighted criterion, when a checkpoint is scored, then the score is Σ w·score / Σ w over the ' +
      'positive weights',
    () => {
      const dev = { overall: 0.8, domains: { gravity: 0.9, equation: 0.2, numeral: 1 } };
      expect(criterionScore(dev, { kind: 'reweighted', weights: { gravity: 1, equation: 3, numeral: 0 } })).toBeCloseTo(
        (0.9 + 3 * 0.2) / 4,
        12,
      );
    },
  );

  it(
    'given a weighted domain missing from the scores, then it is left ' +
      'out and the weights present are renormalised',
    () => {
      const dev = { overall: 0.5, domains: { gravity: 0.9 } };
      const criterion = { kind: 'reweighted' as const, weights: { gravity: 1, cipher: 3 } };
      expect(missingWeightedDomains(dev, criterion)).toEqual(['cipher']);
      expect(criterionScore(dev, criterion)).toBe(0.9);
    },
  );

  it(
    'given no weighted domain present, or no positive weight, then ' + 'the score falls back to the overall dev score',
    () => {
      expect(
        criterionScore({ overall: 0.5, domains: { gravity: 1 } }, { kind: 'reweighted', weights: { cipher: 1 } }),
      ).toBe(0.5);
      expect(
        criterionScore({ overall: 0.5, domains: { cipher: 1 } }, { kind: 'reweighted', weights: { cipher: 0 } }),
      ).toBe(0.5);
      expect(criterionScore({ overall: 0.5, domains: { cipher: 1 } }, { kind: 'reweighted', weights: {} })).toBe(0.5);
    },
  );

  it('weighs only positive weights, sorted; mean weighs none', () => {
    expect(weightedDomains({ kind: 'reweighted', weights: { numeral: 1, cipher: 0, equation: 2 } })).toEqual([
      'equation',
      'numeral',
    ]);
    expect(weightedDomains({ kind: 'mean' })).toEqual([]);
    expect(missingWeightedDomains({ overall: 0, domains: {} }, { kind: 'mean' })).toEqual([]);
  });

  it('describes a criterion independently of key order', () => {
    expect(describeCriterion({ kind: 'mean' })).toBe('mean');
    expect(describeCriterion({ kind: 'reweighted', weights: { gravity: 1, cipher: 0 } })).toBe(
      'reweighted(cipher=0,gravity=1)',
    );
  });
});

describe('checkpoint selection by criterion', () => {
  it('given the mean criterion, when checkpoints are selected, then the highest overall wins', () => {
    const items = [ck('a', 100, 0.4), ck('b', 200, 0.7), ck('c', 300, 0.6)];
    expect(selectCheckpoint(items, { kind: 'mean' })).toEqual({
      chosen: items[1],
      index: 1,
      score: 0.7,
      considered: 3,
    });
  });

  it('given a reweighted criterion, then the selection follows the weights and can disagree with the mean', () => {
    const a = ck('a', 100, 0.8, { gravity: 0.9, equation: 0.2 });
    const b = ck('b', 200, 0.6, { gravity: 0.5, equation: 0.7 });
    expect(selectCheckpoint([a, b], { kind: 'reweighted', weights: { gravity: 1, equation: 3 } })?.chosen).toBe(b);
    expect(selectCheckpoint([a, b], { kind: 'mean' })?.chosen).toBe(a);
  });

  it('given equal scores, then the later step wins, whatever the input order', () => {
    expect(
      selectCheckpoint([ck('a', 300, 0.5), ck('b', 100, 0.5), ck('c', 200, 0.5)], { kind: 'mean' })?.chosen.step,
    ).toBe(300);
    expect(selectCheckpoint([ck('a', 100, 0.5), ck('b', 300, 0.5)], { kind: 'mean' })?.chosen.step).toBe(300);
  });

  it(
    'given equal scores and equal steps, then the one later in the ' + 'input wins (not the lexically greater path)',
    () => {
      const s = selectCheckpoint([ck('z', 100, 0.5), ck('a', 100, 0.5)], { kind: 'mean' });
      expect(s?.chosen.checkpoint).toBe('ckpt/a');
      expect(s?.index).toBe(1);
    },
  );

  it('given a missing weighted domain, then the fallback score is the one compared', () => {
    const criterion = { kind: 'reweighted' as const, weights: { gravity: 1, cipher: 1 } };
    const partial = ck('partial', 100, 0.1, { gravity: 0.8 });
    const full = ck('full', 100, 0.9, { gravity: 0.6, cipher: 0.6 });
    expect(selectCheckpoint([partial, full], criterion)).toMatchObject({ chosen: partial, score: 0.8 });
  });

  it('given no checkpoints, then nothing is selected', () => {
    expect(selectCheckpoint([], { kind: 'mean' })).toBeNull();
    expect(selectByScore([], () => 1)).toBeNull();
  });

  it('property: the chosen score is the maximum, and no later step (or later equal step) has an equal score', () => {
    const arb = fc.array(
      fc.record({ step: fc.integer({ min: 0, max: 50 }), score: fc.integer({ min: 0, max: 4 }).map((x) => x / 4) }),
      { minLength: 1, maxLength: 12 },
    );
    fc.assert(
      fc.property(arb, (rows) => {
        const items = rows.map((r, i) => ck(String(i), r.step, r.score));
        const s = selectCheckpoint(items, { kind: 'mean' })!;
        const max = Math.max(...rows.map((r) => r.score));
        expect(s.score).toBe(max);
        expect(items[s.index]).toBe(s.chosen);
        expect(
          items.some(
            (e, i) => e.dev.overall === max && (e.step > s.chosen.step || (e.step === s.chosen.step && i > s.index)),
          ),
        ).toBe(false);
      }),
    );
  });
});
