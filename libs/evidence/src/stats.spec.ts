import { averageRanks, roundTo, sampleStd, spearman } from './stats';

describe('stats', () => {
  it('rounds to six decimals without negative zero and refuses non-finite numbers', () => {
    expect(roundTo(0.1 + 0.2)).toBe(0.3);
    expect(Object.is(roundTo(-0.0000001), 0)).toBe(true);
    expect(() => roundTo(NaN)).toThrow(/non-finite/);
  });
  it('sample std needs two values', () => {
    expect(sampleStd([1])).toBeNull();
    expect(sampleStd([0.6, 0.62, 0.61])).toBeCloseTo(0.01, 12);
  });
  it('ranks ties by their average', () => {
    expect(averageRanks([3, 1, 3, 2])).toEqual([3.5, 1, 3.5, 2]);
  });
  it('spearman: monotone is 1, reversed is −1, constant or short is null', () => {
    expect(spearman([1, 2, 3, 4], [10, 20, 25, 100])).toBe(1);
    expect(spearman([1, 2, 3], [3, 2, 1])).toBe(-1);
    expect(spearman([1, 2, 3], [5, 5, 5])).toBeNull();
    expect(spearman([1, 2], [1, 2])).toBeNull();
    expect(() => spearman([1, 2, 3], [1, 2])).toThrow(/paired/);
  });
});

import { pathBelongsToAxis } from './axis-paths';

describe('default axis patterns on the reference recipe', () => {
  it.each([
    ['train.lr', 'learning-rate'],
    ['train.min_lr_ratio', 'schedule'],
    ['train.warmup_steps', 'warmup'],
    ['train.batch_size', 'steps'],
    ['train.grad_clip', 'clipping'],
    ['lora.rank', 'lora-capacity'],
    ['data.mix.equation', 'data-mix'],
    ['data.synthetic.count', 'synthetic-data'],
    ['data.augment.shuffle_examples', 'augmentation'],
    ['data.filters.dedupe', 'filtering'],
    ['train.checkpoint_every', 'checkpoint-selection'],
  ] as const)('%s belongs to %s', (path, axis) => {
    expect(pathBelongsToAxis(path, axis)).toBe(true);
    expect(pathBelongsToAxis(path, 'baseline')).toBe(false);
  });
  it('a seed change belongs to no axis', () => {
    expect(pathBelongsToAxis('seed', 'learning-rate')).toBe(false);
    expect(pathBelongsToAxis('data.mix.equation', 'learning-rate')).toBe(false);
  });
});
