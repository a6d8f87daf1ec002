import type { CandidateSpec } from '@aevo/evidence';
import { reviseCommand, revisedPolicy } from './test-support';
import { anchor, constitution, evidenceOf, latest, lrTo, run, spec } from './meta-rules-support';

const confirm = (of: string, changes: CandidateSpec['changes'], axis: CandidateSpec['axis'], lb?: number) => ({
  axis,
  dev: 0.61,
  lb,
  changes,
  prescribed: { kind: 'confirmation' as const, of, changes: changes ?? [], hypothesis: `confirm ${of}` },
});

describe('a grown step is judged on its own two measurements too', () => {
  const stepTo = (to: number) => [{ path: 'optim.steps', from: 400, to }];
  it(
    'given small early steps along steps|increase that gained little on the LB, when a grown step gains +0.02 ' +
      'twice, then it is promoted although the mean over every step of the direction is lower',
    () => {
      // Bar 0.014142: the pair's mean 0.02 > 0.01 (bar / √2); the four measurements of steps|increase (two early
      // steps at −0.0125, within the bar: no dead end) average 0.00375 ≤ 0.007071 (bar / √4).
      const early: CandidateSpec[] = [anchor(0.55), { axis: 'steps', dev: 0.61, lb: 0.5375, changes: stepTo(500) }];
      const given = run([early, early, [anchor(0.55), { axis: 'steps', dev: 0.62, lb: 0.57, changes: stepTo(900) }]]);
      expect(latest(given).pendingConfirmations?.map((c) => c.lbGain)).toEqual([0.02]);
      const evidence = evidenceOf([anchor(0.55), confirm('c1-r3-c1', stepTo(900), 'steps', 0.57)], 4, latest(given));
      spec
        .given(given)
        .when(reviseCommand(evidence, constitution))
        .then((events) => {
          const p = revisedPolicy(events);
          expect(p.standingRecipe).toMatchObject({ optim: { steps: 900 } });
          expect(p.rationale).toMatch(/confirmed by c1-r4-c1: .*mean of both measurements of this change \+0\.0200/);
        });
    },
  );
});

describe('a pending gain is not lost to the leaderboard quota', () => {
  const steps = [{ path: 'optim.steps', from: 400, to: 500 }];
  const twoGains: CandidateSpec[] = [
    anchor(0.55),
    { axis: 'learning-rate', dev: 0.62, lb: 0.58, changes: lrTo(0.002) },
    { axis: 'steps', dev: 0.61, lb: 0.57, changes: steps },
  ];

  it(
    'given two pending gains of which only one confirmation run got a leaderboard score, when revised, then the ' +
      'unmeasured one waits for its confirmation again next round, the measured one is decided',
    () => {
      const given = run([twoGains]);
      const evidence = evidenceOf(
        [
          anchor(0.55),
          confirm('c1-r1-c1', lrTo(0.002), 'learning-rate', 0.575),
          confirm('c1-r1-c2', steps, 'steps'), // trained, no LB score: the quota went elsewhere
        ],
        2,
        latest(given),
      );
      spec
        .given(given)
        .when(reviseCommand(evidence, constitution))
        .then((events) => {
          const p = revisedPolicy(events);
          expect(p.standingRecipe).toMatchObject({ optim: { lr: 0.002, steps: 400 } });
          expect(p.pendingConfirmations?.map((c) => [c.candidateId, c.round, c.lbGain])).toEqual([
            ['c1-r1-c2', 1, 0.02],
          ]);
        });
    },
  );

  it('given a gain that already waited one round more and again got no score, then it is dropped', () => {
    const given = run([
      twoGains,
      [anchor(0.55), confirm('c1-r1-c1', lrTo(0.002), 'learning-rate', 0.575), confirm('c1-r1-c2', steps, 'steps')],
    ]);
    const evidence = evidenceOf([anchor(0.55), confirm('c1-r1-c2', steps, 'steps')], 3, latest(given));
    spec
      .given(given)
      .when(reviseCommand(evidence, constitution))
      .then((events) => {
        expect(revisedPolicy(events).pendingConfirmations).toEqual([]);
      });
  });

  it('given a confirmation run that got its score and showed no gain, then it is not carried over', () => {
    const given = run([twoGains]);
    const evidence = evidenceOf(
      [
        anchor(0.55),
        confirm('c1-r1-c1', lrTo(0.002), 'learning-rate', 0.549),
        confirm('c1-r1-c2', steps, 'steps', 0.548),
      ],
      2,
      latest(given),
    );
    spec
      .given(given)
      .when(reviseCommand(evidence, constitution))
      .then((events) => {
        expect(revisedPolicy(events).pendingConfirmations).toEqual([]);
      });
  });
});
