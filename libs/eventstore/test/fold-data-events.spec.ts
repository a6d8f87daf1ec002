import { foldDataEvents } from '../src';

type Counted = { type: 'Added'; data: { n: number } } | { type: 'Reset'; data: Record<string, never> };

const counter = {
  initialState: () => ({ total: 0, seen: 0 }),
  evolve: (s: { total: number; seen: number }, e: Counted) =>
    e.type === 'Added' ? { total: s.total + e.data.n, seen: s.seen + 1 } : { total: 0, seen: s.seen + 1 },
};

describe('foldDataEvents (a decider state read outside handle)', () => {
  const stored = [
    { type: 'Added', data: { n: 2 } },
    { type: 'Audited', data: { by: 'someone' } }, // another aggregate's event on the same stream
    { type: 'Added', data: { n: 5 } },
    { type: 'Reset', data: {} },
    { type: 'Added', data: { n: 1 } },
  ];

  it('folds every event through the decider, in order, from its initial state', () => {
    expect(foldDataEvents(counter, stored.slice(0, 1).concat(stored.slice(2)))).toEqual({ total: 1, seen: 4 });
  });

  it('skips the events whose type is not among the known ones, as withEnvelopes does', () => {
    expect(foldDataEvents(counter, stored, new Set(['Added', 'Reset']))).toEqual({ total: 1, seen: 4 });
    expect(foldDataEvents(counter, stored, new Set(['Added']))).toEqual({ total: 8, seen: 3 });
  });

  it('gives the initial state for no events', () => {
    expect(foldDataEvents(counter, [])).toEqual({ total: 0, seen: 0 });
  });
});
