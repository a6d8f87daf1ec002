import { BoundedMemo } from './memo';

describe('BoundedMemo', () => {
  it('makes a value once per key and forgets the oldest key beyond its limit', () => {
    const made: string[] = [];
    const memo = new BoundedMemo<{ t: string }>(2);
    const make = (t: string) => (made.push(t), { t });
    for (const t of ['a', 'a', 'b', 'a', 'c', 'b', 'a']) expect(memo.get(t, make)).toEqual({ t });
    // a, b made; c evicts a; b still held; a made again
    expect(made).toEqual(['a', 'b', 'c', 'a']);
  });

  it('does not remember a failure', () => {
    const memo = new BoundedMemo<number>();
    let calls = 0;
    const make = () => {
      if (++calls === 1) throw new Error('first try fails');
      return 7;
    };
    expect(() => memo.get('k', make)).toThrow('first try fails');
    expect(memo.get('k', make)).toBe(7);
    expect(calls).toBe(2);
  });
});
