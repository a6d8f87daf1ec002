import type { CandidateSpec } from '@aevo/evidence';
import type { MoveRecord, RollingPolicy } from '@aevo/contracts';
import type { MetaPolicyEvent } from './decider';
import { reviseCommand } from './test-support';
import { ledgerLeads, spentAxes } from './research-allocation';
import { lbContradicts, nextCombination } from './research-moves';
import { anchor, constitution, evidenceOf, latest, run, spec } from './meta-rules-support';

const revisedPolicy = (events: MetaPolicyEvent[]) =>
  (events.find((e) => e.type === 'PolicyRevised') as unknown as { data: { policy: RollingPolicy } }).data.policy;

describe('a dev gain the leaderboard contradicts leads nowhere', () => {
  // Dev screen 0.007071; anchor dev 0.6, public LB 0.55.
  const synth = (to: number) => [{ path: 'data.synthetic.count', from: 0, to }];
  const steps = [{ path: 'optim.steps', from: 400, to: 600 }];
  const round = (synthLb: number | undefined): CandidateSpec[] => [
    anchor(0.55),
    { axis: 'synthetic-data', dev: 0.64, lb: synthLb, changes: synth(800) },
    { axis: 'steps', dev: 0.615, changes: steps },
  ];

  it(
    'given a synthetic-data move with a large dev gain whose public LB fell 0.01 below the anchor (no dead end: ' +
      'within the bar 0.014), when the round ' +
      'is revised, then it is no lead: no step grows along it and its axis does not come first',
    () => {
      const given = run([]);
      spec
        .given(given)
        .when(reviseCommand(evidenceOf(round(0.54), 1, latest(given)), constitution))
        .then((events) => {
          const p = revisedPolicy(events);
          expect(p.searchHints?.directions.map((d) => d.path)).toEqual(['optim.steps']);
          expect(p.activeAxes[0]).toBe('steps');
          expect(p.rationale).not.toMatch('data.synthetic.count|increase (synthetic-data');
        });
    },
  );

  it(
    'given the same move without a leaderboard score, when revised, then it leads on its dev gain as before ' +
      '(the contrast: only the leaderboard contradicts)',
    () => {
      const given = run([]);
      spec
        .given(given)
        .when(reviseCommand(evidenceOf(round(undefined), 1, latest(given)), constitution))
        .then((events) => {
          const p = revisedPolicy(events);
          expect(p.searchHints?.directions.map((d) => d.path)).toEqual(['data.synthetic.count', 'optim.steps']);
          expect(p.activeAxes[0]).toBe('synthetic-data');
        });
    },
  );
});

describe('lbContradicts / ledgerLeads / nextCombination (pure)', () => {
  const rec = (path: string, devGains: number[], lbGains: number[]): MoveRecord => ({
    key: `${path}|increase`,
    path,
    direction: 'increase',
    latest: { path, from: 1, to: 2 },
    latestCandidateId: `c-${path}`,
    axis: 'steps',
    rounds: devGains.map((_, i) => i + 1),
    devGains,
    lbRounds: lbGains.map((_, i) => i + 1),
    lbGains,
  });

  it('given one LB reading near zero, then noise; below −screen, or two at or below zero, a contradiction', () => {
    expect(lbContradicts(rec('a', [0.03], []), 0.007)).toBe(false);
    expect(lbContradicts(rec('a', [0.03], [-0.005]), 0.007)).toBe(false);
    expect(lbContradicts(rec('a', [0.03], [-0.01]), 0.007)).toBe(true);
    expect(lbContradicts(rec('a', [0.03, 0.03], [0.002, -0.003]), 0.007)).toBe(true);
    expect(lbContradicts(rec('a', [0.03, 0.03], [0.004, -0.003]), 0.007)).toBe(false);
  });

  it('given a contradicted move with the best dev gain, then the other is the only lead and the axis is spent', () => {
    const ledger = [rec('a', [0.05, 0.04], [-0.02]), rec('b', [0.02], [])];
    expect(ledgerLeads(ledger, 0.007).map((l) => l.move.path)).toEqual(['b']);
    expect([...spentAxes([rec('a', [0.05, 0.04], [-0.02])], 0.007)]).toEqual(['steps']);
  });

  it('given two moves measured twice, one contradicted, then no combination (one source is no combination)', () => {
    const ledger = [rec('a', [0.05, 0.04], [-0.02]), rec('b', [0.02, 0.03], [])];
    const none = nextCombination(
      ledger,
      3,
      0.007,
      [],
      (c) => [...c],
      () => false,
    );
    expect(none).toBeNull();
    const both = nextCombination(
      [rec('a', [0.05, 0.04], []), rec('b', [0.02, 0.03], [])],
      3,
      0.007,
      [],
      (c) => [...c],
      () => false,
    );
    expect(both?.sources.map((s) => s.candidateId)).toEqual(['c-a', 'c-b']);
  });
});
