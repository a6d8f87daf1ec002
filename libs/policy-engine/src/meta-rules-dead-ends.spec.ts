import fc from 'fast-check';
import type { CandidateSpec } from '@aevo/evidence';
import { metaPolicyDecider } from './decider';
import { proposalFrom, reviseCommand, revisedPolicy } from './test-support';
import { anchor, constitution, evidenceOf, latest, lrTo, policy0, run, spec } from './meta-rules-support';

describe('meta-rule: the dead-end registry only grows', () => {
  const harmful: CandidateSpec[] = [anchor(0.55), { axis: 'learning-rate', dev: 0.5, lb: 0.5, changes: lrTo(0.02) }];

  it('given a change that lowered the LB beyond the threshold, then it is registered with its round', () => {
    const p = latest(run([harmful]));
    expect(p.deadEnds).toEqual([
      expect.objectContaining({
        id: 'dead-end-c1-r1-c1',
        axis: 'learning-rate',
        path: 'optim.lr',
        direction: 'increase',
        value: 0.02,
        round: 1,
        candidateId: 'c1-r1-c1',
      }),
    ]);
    expect(p.deadEnds[0].description).toMatch(/^learning-rate: optim\.lr 0\.001 → 0\.02 — lowered the public LB/);
  });

  it(
    'given an axis whose changes were dead ends in two rounds, ' + 'then it retires; one bad round does not retire it',
    () => {
      const once = latest(run([harmful]));
      expect(once.retiredAxes).toEqual([]);
      expect(once.activeAxes).toContain('learning-rate');
      const twice = latest(
        run([harmful, [anchor(0.55), { axis: 'learning-rate', dev: 0.5, lb: 0.5, changes: lrTo(0.03) }]]),
      );
      expect(twice.retiredAxes).toEqual([
        { axis: 'learning-rate', round: 2, reason: 'its changes were dead ends in rounds 1, 2' },
      ]);
      expect(twice.activeAxes).not.toContain('learning-rate');
    },
  );

  it('given the same dead end found again, then it is not duplicated', () => {
    expect(latest(run([harmful, harmful])).deadEnds).toHaveLength(1);
  });

  it('given a proposal without an earlier dead end, then it is refused and the dead end stays', () => {
    const given = run([harmful]);
    const evidence = evidenceOf([anchor(0.55)], 2, latest(given));
    const removing = { ...proposalFrom(latest(given)), deadEnds: [] };
    spec
      .given(given)
      .when(reviseCommand(evidence, constitution, removing))
      .then((events) => {
        expect(events[0].data).toMatchObject({
          rule: 'dead-end-registry-only-grows',
          detail: 'removes dead end(s) dead-end-c1-r1-c1',
        });
        expect(revisedPolicy(events).deadEnds.map((d) => d.id)).toEqual(['dead-end-c1-r1-c1']);
      });
  });

  it('given a proposal that rewrites a dead end, then it is refused', () => {
    const given = run([harmful]);
    const p = latest(given);
    const rewriting = { ...proposalFrom(p), deadEnds: [{ ...p.deadEnds[0], description: 'worth another try' }] };
    const events = metaPolicyDecider.decide(
      reviseCommand(evidenceOf([anchor(0.55)], 2, p), constitution, rewriting),
      given.reduce(metaPolicyDecider.evolve, metaPolicyDecider.initialState()),
    );
    expect(events[0].data).toMatchObject({
      rule: 'dead-end-registry-only-grows',
      detail: 'rewrites dead end(s) dead-end-c1-r1-c1',
    });
  });

  it('for any sequence of rounds, every revision keeps every earlier dead end unchanged', () => {
    const candidate = fc.record({
      axis: fc.constantFrom('learning-rate' as const, 'steps' as const, 'data-mix' as const),
      dev: fc.double({ min: 0.3, max: 0.9, noNaN: true }),
      lb: fc.option(fc.double({ min: 0.3, max: 0.9, noNaN: true }), { nil: undefined }),
      to: fc.integer({ min: 1, max: 5 }),
      status: fc.constantFrom('completed' as const, 'completed' as const, 'failed' as const),
    });
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.double({ min: 0.4, max: 0.7, noNaN: true }), fc.array(candidate, { minLength: 1, maxLength: 4 })),
          { minLength: 1, maxLength: 5 },
        ),
        (rounds) => {
          const specs = rounds.map(([lb, cs]) => [
            anchor(lb),
            ...cs.map((c): CandidateSpec => ({
              axis: c.axis,
              dev: c.dev,
              lb: c.lb,
              status: c.status,
              changes: [
                {
                  path: c.axis === 'data-mix' ? 'mix.equation' : c.axis === 'steps' ? 'optim.steps' : 'optim.lr',
                  from: 1,
                  to: c.to,
                },
              ],
            })),
          ]);
          const log = run(specs);
          const policies = log
            .filter((e) => e.type === 'PolicyRevised')
            .map((e) => (e.type === 'PolicyRevised' ? e.data.policy : policy0));
          for (let k = 1; k < policies.length; k++)
            expect(policies[k].deadEnds.slice(0, policies[k - 1].deadEnds.length)).toEqual(policies[k - 1].deadEnds);
        },
      ),
      { numRuns: 60, seed: 4242 },
    );
  });
});
