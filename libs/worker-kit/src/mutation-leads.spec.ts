import { policy, RECIPE } from '../test/fixtures';
import { proposeMutation } from './mutation';

const DOMAINS = ['bit_manipulation', 'gravity', 'unit_conversion', 'cipher', 'numeral', 'equation'];
const lead = (stepScale: number) => ({
  maxKnobsPerMove: 1,
  directions: [{ path: 'augment.paraphrase', direction: 'increase' as const, paidRounds: [], stepScale }],
});

describe('proposeMutation along a lead of the policy’s move ledger (no promotion behind it)', () => {
  it('given an augmenter switched on from 0 as a lead at step scale 2, then it starts at 0.5, not 0.25', () => {
    for (let seed = 0; seed < 20; seed++) {
      const p = proposeMutation('augmentation', RECIPE, policy({ searchHints: lead(2) }), seed, DOMAINS);
      expect(p.settings).toEqual([{ path: 'augment.paraphrase', from: 0, value: 0.5 }]);
      expect(p.hypothesis).toMatch(/start value 0\.25 × 2\^1, because the increase of augment\.paraphrase is a lead/);
    }
  });

  it('given the lead at step scale 4, then the start value is capped at the probability 1', () => {
    const p = proposeMutation('augmentation', RECIPE, policy({ searchHints: lead(4) }), 3, DOMAINS);
    expect(p.settings).toEqual([{ path: 'augment.paraphrase', from: 0, value: 1 }]);
  });

  it('given the lead at step scale 1, then the usual start value 0.25', () => {
    const p = proposeMutation('augmentation', RECIPE, policy({ searchHints: lead(1) }), 3, DOMAINS);
    expect(p.settings).toEqual([{ path: 'augment.paraphrase', from: 0, value: 0.25 }]);
  });
});
