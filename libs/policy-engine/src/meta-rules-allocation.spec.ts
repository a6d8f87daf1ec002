import type { CandidateSpec } from '@aevo/evidence';
import type { RollingPolicy } from '@aevo/contracts';
import type { MetaPolicyEvent } from './decider';
import { reviseCommand } from './test-support';
import { Axis } from '@aevo/contracts';
import { followingAxes } from './axes';
import { allocateAxes, leadDirections } from './research-allocation';
import { anchor, constitution, evidenceOf, latest, run, spec } from './meta-rules-support';

const revisedPolicy = (events: MetaPolicyEvent[]) =>
  (events.find((e) => e.type === 'PolicyRevised') as unknown as { data: { policy: RollingPolicy } }).data.policy;

describe('explorer allocation and step growth from the move ledger', () => {
  // Dev screen 0.5 × 2 × √2 × 0.005 = 0.007071 (the combinations' screen); anchor dev 0.6.
  const steps = (to: number) => [{ path: 'optim.steps', from: 400, to }];
  const sched = [{ path: 'optim.schedule', from: 'cosine', to: 'linear' }];
  const lr = [{ path: 'optim.lr', from: 0.001, to: 0.0015 }];
  const round = (stepsTo: number, stepsDev: number, schedDev: number, lrDev: number): CandidateSpec[] => [
    anchor(0.55),
    { axis: 'steps', dev: 0.6 + stepsDev, changes: steps(stepsTo) },
    { axis: 'schedule', dev: 0.6 + schedDev, changes: sched },
    { axis: 'learning-rate', dev: 0.6 + lrDev, changes: lr },
  ];

  it('given a move whose dev gain held once, when the round is revised, then it is hinted at step scale 2', () => {
    const given = run([]);
    spec
      .given(given)
      .when(reviseCommand(evidenceOf(round(600, 0.015, 0.001, -0.004), 1, latest(given)), constitution))
      .then((events) => {
        const p = revisedPolicy(events);
        expect(p.searchHints?.directions).toEqual([
          { path: 'optim.steps', direction: 'increase', paidRounds: [], stepScale: 2 },
        ]);
        expect(p.searchHints?.maxKnobsPerMove).toBe(1); // a lead is measured one knob at a time
        expect(p.activeAxes[0]).toBe('steps');
        expect(p.rationale).toMatch('Leads of the move ledger');
        expect(p.rationale).toMatch('optim.steps increase at step scale 2');
      });
  });

  it('given the widened step held again, when revised, then the step grows (scale 3) and latest is the larger', () => {
    const given = run([round(600, 0.015, 0.001, -0.004)]);
    spec
      .given(given)
      .when(reviseCommand(evidenceOf(round(900, 0.02, -0.001, 0.002), 2, latest(given)), constitution))
      .then((events) => {
        const p = revisedPolicy(events);
        expect(p.searchHints?.directions).toEqual([
          { path: 'optim.steps', direction: 'increase', paidRounds: [], stepScale: 3 },
        ]);
        expect(p.moveLedger?.find((m) => m.key === 'optim.steps|increase')?.latest).toEqual(steps(900)[0]);
      });
  });

  it(
    'given a widened step that does not hold, when revised, then the step falls back to scale 1 and the ledger ' +
      'keeps the step that held',
    () => {
      const given = run([round(600, 0.02, 0.001, -0.004)]);
      spec
        .given(given)
        .when(reviseCommand(evidenceOf(round(900, 0.003, -0.001, 0.002), 2, latest(given)), constitution))
        .then((events) => {
          const p = revisedPolicy(events);
          // mean 0.0115 ± 0.0085 still clears the screen and zero by one SE: a lead, at the usual step.
          expect(p.searchHints?.directions).toEqual([
            { path: 'optim.steps', direction: 'increase', paidRounds: [], stepScale: 1 },
          ]);
          expect(p.moveLedger?.find((m) => m.key === 'optim.steps|increase')?.latest).toEqual(steps(600)[0]);
        });
    },
  );

  it(
    'given two explorers stepping along one move in a round (400 → 900, then 400 → 600), both holding, when ' +
      'revised, then the ledger keeps the further step and one measurement for the round',
    () => {
      const given = run([]);
      const specs: CandidateSpec[] = [
        anchor(0.55),
        { axis: 'steps', dev: 0.62, changes: steps(900) },
        { axis: 'schedule', dev: 0.6, changes: sched },
        { axis: 'steps', dev: 0.615, changes: steps(600) },
      ];
      spec
        .given(given)
        .when(reviseCommand(evidenceOf(specs, 1, latest(given)), constitution))
        .then((events) => {
          const m = revisedPolicy(events).moveLedger?.find((x) => x.key === 'optim.steps|increase');
          expect(m?.latest).toEqual(steps(900)[0]);
          expect(m?.devGains).toHaveLength(1);
        });
    },
  );

  it('given a lead that stops being one, when revised, then its direction is not carried over', () => {
    const given = run([round(600, 0.015, 0.001, -0.004)]);
    spec
      .given(given)
      .when(reviseCommand(evidenceOf(round(900, -0.02, 0.001, 0.002), 2, latest(given)), constitution))
      .then((events) => {
        expect(revisedPolicy(events).searchHints?.directions).toEqual([]);
      });
  });

  it(
    'given a lead when the category rotates, when revised, then the lead keeps its explorers ahead of the new ' +
      "category's axes",
    () => {
      const given = run([round(600, 0.015, 0.001, -0.004)]);
      spec
        .given(given)
        .when(reviseCommand(evidenceOf(round(900, 0.02, -0.001, 0.002), 2, latest(given)), constitution))
        .then((events) => {
          // Two rounds without an LB gain rotate optimisation → data; steps leads, so it keeps its explorers.
          expect(revisedPolicy(events).activeAxes).toEqual(['steps', 'data-mix', 'synthetic-data']);
        });
    },
  );
});

describe('allocateAxes / leadDirections (pure)', () => {
  const rec = (axis: 'steps' | 'schedule', path: string, devGains: number[], to: unknown = 2) => ({
    key: `${path}|increase`,
    path,
    direction: 'increase' as const,
    latest: { path, from: 1, to },
    latestCandidateId: 'x',
    axis,
    rounds: devGains.map((_, i) => i + 1),
    devGains,
    lbRounds: [],
    lbGains: [],
  });

  it('given axes measured twice without a lead, then they give up their explorers to the lead and the unspent', () => {
    const ledger = [rec('steps', 'a', [0.015, 0.02]), rec('schedule', 'b', [0.001, -0.001])];
    expect(allocateAxes(['learning-rate', 'schedule', 'steps'], ledger, 0.007, new Set())).toEqual([
      'steps',
      'learning-rate',
    ]);
  });

  it('given every axis spent and no lead, then the category axes stand as they are', () => {
    const ledger = [rec('steps', 'a', [0, 0.001]), rec('schedule', 'b', [0.001, -0.001])];
    expect(allocateAxes(['schedule', 'steps'], ledger, 0.007, new Set())).toEqual(['schedule', 'steps']);
  });

  it('given a lead on a retired axis, then it gets no explorers', () => {
    const ledger = [rec('steps', 'a', [0.02])];
    expect(allocateAxes(['schedule'], ledger, 0.007, new Set(['steps']))).toEqual(['schedule']);
  });

  it(
    'given a nearly spent category (one lead, one unspent axis), then the next categories’ unspent axes fill the ' +
      'list up to four, nearest category first, skipping spent and retired ones',
    () => {
      const ledger = [rec('steps', 'a', [0.015, 0.02]), rec('schedule', 'b', [0.001, -0.001])];
      const following = followingAxes('capacity', [...Axis.options], new Set());
      expect(following.slice(0, 5)).toEqual([
        'data-mix',
        'filtering',
        'augmentation',
        'synthetic-data',
        'checkpoint-selection',
      ]);
      expect(allocateAxes(['lora-capacity'], ledger, 0.007, new Set(['filtering']), following)).toEqual([
        'steps',
        'lora-capacity',
        'data-mix',
        'augmentation',
      ]);
      // Enough axes of its own: nothing is added.
      expect(allocateAxes(['learning-rate', 'warmup', 'clipping', 'steps'], [], 0.007, new Set(), following)).toEqual([
        'learning-rate',
        'warmup',
        'clipping',
        'steps',
      ]);
    },
  );

  it('given a lead that held four rounds in a row, then its step scale is capped at 4', () => {
    expect(leadDirections([rec('steps', 'a', [0.02, 0.02, 0.02, 0.02])], 0.007)[0].stepScale).toBe(4);
    expect(leadDirections([rec('steps', 'a', [0.02, 0.02])], 0.007)[0].stepScale).toBe(3);
  });

  it('given a categorical lead, then no direction is hinted for it', () => {
    expect(leadDirections([rec('steps', 'a', [0.02], 'linear')], 0.007)).toEqual([]);
  });
});
