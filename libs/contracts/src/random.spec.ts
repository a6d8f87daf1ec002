import { deriveSeed, seededRandom, shuffled } from './index';

describe('seededRandom (mulberry32)', () => {
  it('given a seed, when drawn twice from fresh generators, then both give the same sequence', () => {
    const a = seededRandom(123);
    const b = seededRandom(123);
    const first = Array.from({ length: 20 }, () => a());
    expect(Array.from({ length: 20 }, () => b())).toEqual(first);
  });

  it('given the recorded seeds 1 and 0, when drawn, then the first values are the known mulberry32 ones', () => {
    const one = seededRandom(1);
    expect([one(), one(), one()]).toEqual([0.6270739405881613, 0.002735721180215478, 0.5274470399599522]);
    const zero = seededRandom(0);
    expect([zero(), zero()]).toEqual([0.26642920868471265, 0.0003297457005828619]);
  });

  it('given different seeds, when drawn, then the sequences differ and every value lies in [0, 1)', () => {
    const a = seededRandom(1);
    const b = seededRandom(2);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(xs).not.toEqual(Array.from({ length: 1000 }, () => b()));
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
  });

  it('given a seed beyond 32 bits or negative, when used, then it is taken modulo 2^32', () => {
    const a = seededRandom(2 ** 32 + 5);
    const b = seededRandom(5);
    expect(a()).toBe(b());
    const c = seededRandom(-1);
    const d = seededRandom(0xffffffff);
    expect(c()).toBe(d());
  });
});

describe('deriveSeed', () => {
  it('given labelled parts, when derived, then the seed is a fixed non-negative 31-bit integer', () => {
    expect(deriveSeed('aevo-round', 42, 1)).toBe(1135839514);
    expect(deriveSeed('a')).toBe(1251442962);
    expect(deriveSeed('aevo-round', 42, 1)).toBe(deriveSeed('aevo-round', '42', '1'));
  });

  it('given different labels, when derived, then the streams differ', () => {
    const seeds = new Set([
      deriveSeed('aevo-round', 42, 1),
      deriveSeed('aevo-round', 42, 2),
      deriveSeed('aevo-round', 43, 1),
      deriveSeed('other', 42, 1),
    ]);
    expect(seeds.size).toBe(4);
    for (const s of seeds) expect(Number.isInteger(s) && s >= 0 && s <= 0x7fffffff).toBe(true);
  });
});

describe('shuffled', () => {
  const items = [1, 2, 3, 4, 5, 6, 7, 8];

  it('given a seeded generator, when shuffling, then the order is the recorded one', () => {
    expect(shuffled(items, seededRandom(7))).toEqual([5, 7, 2, 3, 4, 6, 8, 1]);
  });

  it('given any seed, when shuffling, then the result is a permutation and the input is untouched', () => {
    for (let seed = 0; seed < 50; seed++) {
      const out = shuffled(items, seededRandom(seed));
      expect([...out].sort((x, y) => x - y)).toEqual(items);
    }
    expect(items).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('given the same seed twice, when shuffling, then the orders are the same', () => {
    expect(shuffled(items, seededRandom(99))).toEqual(shuffled(items, seededRandom(99)));
  });

  it('given an empty or single list, when shuffling, then it comes back as is', () => {
    expect(shuffled([], seededRandom(1))).toEqual([]);
    expect(shuffled(['x'], seededRandom(1))).toEqual(['x']);
  });
});
