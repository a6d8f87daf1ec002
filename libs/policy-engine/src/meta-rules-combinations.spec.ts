import type { CandidateSpec } from '@aevo/evidence';
import { metaPolicyDecider, type MetaPolicyEvent } from './decider';
import { prescribedRuns } from './prescribe';
import { reviseCommand } from './test-support';
import { anchor, constitution, evidenceOf, latest, lrTo, policy0, run } from './meta-rules-support';

describe(
  'combinations: single-knob moves that keep raising dev are trained together, and only the leaderboard ' +
    'promotes them',
  () => {
    // Dev screen: 0.5 × 2 × √2 × the floor 0.005 = 0.007071 on the mean paired dev gain; a lead also clears zero by one
    // SE.
    const steps = (to: number) => [{ path: 'optim.steps', from: 400, to }];
    const mix = [{ path: 'mix.gravity', from: 1, to: 2 }];
    const sched = [{ path: 'optim.schedule', from: 'cosine', to: 'linear' }];
    const round = (lr: number, st: number, mx: number, sc: number): CandidateSpec[] => [
      anchor(0.55),
      { axis: 'learning-rate', dev: 0.6 + lr, changes: lrTo(0.002) },
      { axis: 'steps', dev: 0.6 + st, changes: steps(500) },
      { axis: 'data-mix', dev: 0.6 + mx, changes: mix },
      { axis: 'schedule', dev: 0.6 + sc, changes: sched },
      { axis: 'steps', dev: 0.6 + st, changes: steps(500) }, // the same move on the same seed: one measurement
    ];
    const r1 = round(0.02, 0.015, 0.012, 0.01);
    const r2 = round(0.016, 0.013, -0.004, 0.012);

    it(
      'given moves measured once, then nothing is combined yet; the ledger keeps one measurement per round and ' +
        'move',
      () => {
        const p = latest(run([r1]));
        expect(p.combination ?? null).toBeNull();
        expect(p.moveLedger?.map((m) => [m.key, m.devGains])).toEqual([
          ['mix.gravity|increase', [0.012]],
          ['optim.lr|increase', [0.02]],
          ['optim.schedule|set|"linear"', [0.01]],
          ['optim.steps|increase', [0.015]],
        ]);
        expect(prescribedRuns(p)).toEqual([]);
      },
    );

    it(
      'given moves whose mean dev gain over two rounds clears the screen by a standard error, then they are planned ' +
        'as one combination, best lower bound first',
      () => {
        const p = latest(run([r1, r2]));
        // lr: mean 0.018 ± 0.002, steps 0.014 ± 0.001, schedule 0.011 ± 0.001; mix: mean 0.004 (under the screen).
        expect(p.combination).toMatchObject({
          id: 'combination-r2',
          round: 2,
          sources: [
            { candidateId: 'c1-r2-c1', round: 2, axis: 'learning-rate', devGain: 0.018, changes: lrTo(0.002) },
            { candidateId: 'c1-r2-c5', round: 2, axis: 'steps', devGain: 0.014, changes: steps(500) },
            // restated against the standing recipe, which has no schedule yet
            {
              candidateId: 'c1-r2-c4',
              round: 2,
              axis: 'schedule',
              devGain: 0.011,
              changes: [{ path: 'optim.schedule', to: 'linear' }],
            },
          ],
          changes: [...lrTo(0.002), { path: 'optim.schedule', to: 'linear' }, ...steps(500)],
          devScreen: 0.007071,
        });
        expect(p.standingRecipe).toEqual(policy0.standingRecipe); // dev never promotes
        expect(p.rationale).toMatch(
          'Next round trains optim.lr → 0.002 + optim.schedule → "linear" + optim.steps → 500 together as ' +
            'combination-r2',
        );
        const runs = prescribedRuns(p);
        expect(runs.map((r) => [r.prescribed.kind, r.axis])).toEqual([['combination', 'learning-rate']]);
        expect(runs[0].prescribed.changes).toEqual(p.combination?.changes);
      },
    );

    it(
      'given a move whose dev gains disagree, then it is no lead (its mean does not clear zero by a standard ' +
        'error)',
      () => {
        const p = latest(run([round(0.03, 0.015, 0, 0), round(-0.02, 0.013, 0, 0)]));
        expect(p.combination ?? null).toBeNull(); // steps alone is one move: nothing to combine
      },
    );

    const comboRun = (given: MetaPolicyEvent[], lb: number): CandidateSpec => {
      const plan = latest(given).combination!;
      return {
        axis: 'learning-rate',
        dev: 0.64,
        lb,
        changes: plan.changes,
        prescribed: prescribedRuns(latest(given))[0].prescribed,
      };
    };
    const next = (given: MetaPolicyEvent[], specs: CandidateSpec[], k: number) => [
      ...given,
      ...metaPolicyDecider.decide(
        reviseCommand(evidenceOf(specs, k, latest(given)), constitution),
        given.reduce(metaPolicyDecider.evolve, metaPolicyDecider.initialState()),
      ),
    ];

    it(
      'given the combination gains on the leaderboard, then it is confirmed on another seed and promoted whole, and ' +
        'its moves leave the ledger',
      () => {
        const given = run([r1, r2]);
        const g3 = next(given, [anchor(0.55), comboRun(given, 0.6)], 3);
        const p3 = latest(g3);
        // Its leaderboard gain is screened like an explorer's (its paths are its plan, so it stays "on axis").
        expect(p3.pendingConfirmations?.map((c) => [c.candidateId, c.lbGain])).toEqual([['c1-r3-c1', 0.05]]);
        expect(p3.combination ?? null).toBeNull(); // none while a combination awaits its confirmation
        const confirmation = prescribedRuns(p3).find((r) => r.prescribed.kind === 'confirmation')!;
        const p4 = latest(
          next(
            g3,
            [
              anchor(0.55),
              {
                axis: 'learning-rate',
                dev: 0.64,
                lb: 0.595,
                changes: confirmation.prescribed.changes,
                prescribed: confirmation.prescribed,
              },
            ],
            4,
          ),
        );
        expect(p4.standingRecipe).toEqual({
          optim: { lr: 0.002, steps: 500, schedule: 'linear' },
          mix: { equation: 1, gravity: 1 },
        });
        expect(p4.moveLedger?.map((m) => m.key)).toEqual(['mix.gravity|increase']);
      },
    );

    it(
      'given the leaderboard contradicts a combination, then its moves leave the ledger and are not combined ' +
        'again',
      () => {
        const given = run([r1, r2]);
        const p3 = latest(next(given, [anchor(0.55), comboRun(given, 0.54)], 3));
        expect(p3.moveLedger?.map((m) => m.key)).toEqual(['mix.gravity|increase']);
        expect(p3.combination ?? null).toBeNull();
      },
    );
  },
);
