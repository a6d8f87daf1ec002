import type { Decider } from '@aevo/contracts';
import { DeciderSpecification } from './decider-spec';
import { eventually } from './infra';

type Cmd = { kind: 'add'; n: number };
type Ev = { kind: 'added'; n: number };
const counter: Decider<Cmd, Ev, number> = {
  initialState: () => 0,
  evolve: (s, e) => s + e.n,
  decide: (c, s) => {
    if (s + c.n > 10) throw new Error('limit exceeded');
    return [{ kind: 'added', n: c.n }];
  },
};

describe('DeciderSpecification', () => {
  const spec = DeciderSpecification(counter);
  it('folds the given events before deciding', () => {
    expect(spec.given([{ kind: 'added', n: 4 }]).state).toBe(4);
    spec
      .given([{ kind: 'added', n: 4 }])
      .when({ kind: 'add', n: 2 })
      .then([{ kind: 'added', n: 2 }]);
  });
  it('reports a refusal', () => {
    spec
      .given([{ kind: 'added', n: 9 }])
      .when({ kind: 'add', n: 2 })
      .thenThrows(/limit/);
  });
  it('fails when the expectation is wrong', () => {
    expect(() =>
      spec
        .given([])
        .when({ kind: 'add', n: 1 })
        .then([{ kind: 'added', n: 2 }]),
    ).toThrow();
  });
});

describe('eventually', () => {
  it('resolves once the condition holds and fails at the deadline otherwise', async () => {
    let n = 0;
    await expect(eventually(() => ++n >= 3, 1000, 1)).resolves.toBe(true);
    await expect(eventually(() => false, 50, 5)).rejects.toThrow(/not met/);
  });
});
