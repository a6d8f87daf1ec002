import fc from 'fast-check';
import { criterionScore, selectCheckpoint, type EvaluatedCheckpoint } from './selection';

const ck = (index: number, step: number, overall: number, domains: Record<string, number> = {}): EvaluatedCheckpoint => ({
  index,
  checkpoint: `ckpt/step-${String(step).padStart(6, '0')}`,
  step,
  dev: { overall, domains },
});

describe('checkpoint selection', () => {
  it('mean picks the highest overall score', () => {
    const s = selectCheckpoint([ck(0, 100, 0.4), ck(1, 200, 0.7), ck(2, 300, 0.6)], { kind: 'mean' });
    expect(s).toEqual({ chosen: ck(1, 200, 0.7), score: 0.7, considered: 3 });
  });

  it('reweighted computes Σ w·score / Σ w over the weighted domains and can disagree with the mean', () => {
    const a = ck(0, 100, 0.8, { gravity: 0.9, equation: 0.2, numeral: 1 });
    const b = ck(1, 200, 0.6, { gravity: 0.5, equation: 0.7, numeral: 0 });
    const criterion = { kind: 'reweighted' as const, weights: { gravity: 1, equation: 3, numeral: 0 } };
    expect(criterionScore(a.dev, criterion)).toBeCloseTo((0.9 + 3 * 0.2) / 4, 12);
    expect(criterionScore(b.dev, criterion)).toBeCloseTo((0.5 + 3 * 0.7) / 4, 12);
    expect(selectCheckpoint([a, b], criterion).chosen.index).toBe(1);
    expect(selectCheckpoint([a, b], { kind: 'mean' }).chosen.index).toBe(0);
  });

  it('breaks ties toward the later step, whatever the input order', () => {
    expect(selectCheckpoint([ck(0, 300, 0.5), ck(1, 100, 0.5), ck(2, 200, 0.5)], { kind: 'mean' }).chosen.step).toBe(300);
    expect(selectCheckpoint([ck(0, 100, 0.5), ck(1, 300, 0.5)], { kind: 'mean' }).chosen.step).toBe(300);
  });

  it('names a weighted domain the scores lack, and a criterion without positive weights', () => {
    expect(() => criterionScore({ overall: 0.5, domains: { gravity: 1 } }, { kind: 'reweighted', weights: { cipher: 1 } })).toThrow(
      'domains.cipher: missing, but the criterion weights it',
    );
    expect(() => criterionScore({ overall: 0.5, domains: {} }, { kind: 'reweighted', weights: { cipher: 0 } })).toThrow(/criterion.weights/);
  });

  it('property: the chosen score is the maximum, and no later step has an equal score', () => {
    const arb = fc.array(fc.record({ step: fc.integer({ min: 0, max: 50 }), score: fc.integer({ min: 0, max: 4 }).map((x) => x / 4) }), { minLength: 1, maxLength: 12 });
    fc.assert(
      fc.property(arb, (rows) => {
        const evaluated = rows.map((r, i) => ck(i, r.step, r.score));
        const { chosen, score } = selectCheckpoint(evaluated, { kind: 'mean' });
        const max = Math.max(...rows.map((r) => r.score));
        expect(score).toBe(max);
        expect(evaluated.some((e) => e.dev.overall === max && (e.step > chosen.step || (e.step === chosen.step && e.index > chosen.index)))).toBe(false);
      }),
    );
  });
});
