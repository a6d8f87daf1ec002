import type { CandidateSpec } from '@aevo/evidence';
import { metaPolicyDecider } from './decider';
import { reviseCommand, revisedPolicy } from './test-support';
import { anchor, constitution, evidenceOf, latest, lrTo, policy0, run, spec, started } from './meta-rules-support';

describe(
  'meta-rule: the leaderboard is authoritative, promotion needs an LB gain above the threshold, confirmed on ' +
    'another seed',
  () => {
    it('given an LB gain inside the noise band, when the policy is revised, then nothing is promoted', () => {
      const evidence = evidenceOf(
        [anchor(0.55), { axis: 'learning-rate', dev: 0.63, lb: 0.556, changes: lrTo(0.002) }],
        1,
        policy0,
      );
      spec
        .given([started()])
        .when(reviseCommand(evidence, constitution))
        .then((events) => {
          expect(events.map((e) => e.type)).toEqual(['PolicyRevised']);
          const p = revisedPolicy(events);
          expect(p.standingRecipe).toEqual(policy0.standingRecipe);
          expect(p.plateauRounds).toBe(1);
          expect(p.pendingConfirmations).toEqual([]);
          expect(p.rationale).toMatch(
            'No promotion: the best public-LB gain, +0.0060 by c1-r1-c1, ' +
              'does not clear the screen 0.007071 (half the bar 0.014142)',
          );
        });
    });

    const twoGains: CandidateSpec[] = [
      anchor(0.55),
      { axis: 'learning-rate', dev: 0.62, lb: 0.58, changes: lrTo(0.002) },
      { axis: 'steps', dev: 0.61, lb: 0.57, changes: [{ path: 'optim.steps', from: 400, to: 500 }] },
    ];
    const confirm = (
      of: string,
      changes: CandidateSpec['changes'],
      axis: CandidateSpec['axis'],
      lb: number,
    ): CandidateSpec => ({
      axis,
      dev: 0.61,
      lb,
      changes,
      prescribed: { kind: 'confirmation', of, changes: changes ?? [], hypothesis: `confirm ${of}` },
    });

    it(
      'given LB gains above the threshold, when revised, then nothing is promoted yet: each waits for a confirmation ' +
        'run',
      () => {
        spec
          .given([started()])
          .when(reviseCommand(evidenceOf(twoGains, 1, policy0), constitution))
          .then((events) => {
            const p = revisedPolicy(events);
            expect(p.standingRecipe).toEqual(policy0.standingRecipe);
            expect(p.plateauRounds).toBe(0);
            expect(p.bestPublicLb).toBe(0.58);
            expect(p.pendingConfirmations).toEqual([
              {
                candidateId: 'c1-r1-c1',
                round: 1,
                axis: 'learning-rate',
                changes: lrTo(0.002),
                lbGain: 0.03,
                devGain: 0.02,
              },
              {
                candidateId: 'c1-r1-c2',
                round: 1,
                axis: 'steps',
                changes: [{ path: 'optim.steps', from: 400, to: 500 }],
                lbGain: 0.02,
                devGain: 0.01,
              },
            ]);
            expect(p.rationale).toMatch(
              'Awaiting confirmation on another seed next round: c1-r1-c1 (LB +0.0300), c1-r1-c2 (LB +0.0200)',
            );
          });
      },
    );

    it(
      'given both gains confirmed on another seed, when revised, then independent changes are promoted together ' +
        '(they stack)',
      () => {
        const given = run([twoGains]);
        const evidence = evidenceOf(
          [
            anchor(0.55),
            confirm('c1-r1-c1', lrTo(0.002), 'learning-rate', 0.575),
            confirm('c1-r1-c2', [{ path: 'optim.steps', from: 400, to: 500 }], 'steps', 0.565),
          ],
          2,
          latest(given),
        );
        spec
          .given(given)
          .when(reviseCommand(evidence, constitution))
          .then((events) => {
            const p = revisedPolicy(events);
            expect(p.standingRecipe).toEqual({ optim: { lr: 0.002, steps: 500 }, mix: { equation: 1, gravity: 1 } });
            expect(p.pendingConfirmations).toEqual([]);
            const revised = events.find((e) => e.type === 'PolicyRevised');
            expect(revised?.type === 'PolicyRevised' && revised.data.changes).toEqual(
              expect.arrayContaining([
                'standing recipe: optim.lr 0.001 → 0.002',
                'standing recipe: optim.steps 400 → 500',
              ]),
            );
            expect(p.rationale).toMatch(/Promoted c1-r1-c1 \(learning-rate\).*confirmed by c1-r2-c1/);
            // The two measurements of each gain measure the paired difference noise.
            expect(evidence.calibration.noise).toMatchObject({ lbDiffSource: 'confirmation-pairs', lbDiffDf: 2 });
            expect(p.noiseBand.lbDiffDf).toBe(2);
            // Both directions paid once: workers continue them at the usual step.
            expect(p.searchHints?.directions.map((d) => [d.path, d.direction, d.stepScale])).toEqual([
              ['optim.lr', 'increase', 1],
              ['optim.steps', 'increase', 1],
            ]);
          });
      },
    );

    it('given a gain whose confirmation run shows no gain, then it is not promoted and leaves no dead end', () => {
      const given = run([twoGains]);
      const evidence = evidenceOf(
        [
          anchor(0.55),
          confirm('c1-r1-c1', lrTo(0.002), 'learning-rate', 0.575),
          confirm('c1-r1-c2', [{ path: 'optim.steps', from: 400, to: 500 }], 'steps', 0.549),
        ],
        2,
        latest(given),
      );
      const p = revisedPolicy(
        spec
          .given(given)
          .when(reviseCommand(evidence, constitution))
          .then(() => undefined),
      );
      expect(p.standingRecipe).toEqual({ optim: { lr: 0.002, steps: 400 }, mix: { equation: 1, gravity: 1 } });
      expect(p.deadEnds).toEqual([]);
      expect(p.rationale).toMatch(
        /Not promoted: c1-r1-c2 \(steps, LB \+0\.0200 in round 1\): not confirmed by c1-r2-c2/,
      );
    });

    it('given a small gain that holds up twice, then the mean of both measurements decides, not either alone', () => {
      // Bar 0.014142: screen 0.007071, mean bar 0.01. 0.009 then 0.012: each under the bar, their mean 0.0105 clears
      // bar
      // / √2.
      const given = run([[anchor(0.55), { axis: 'learning-rate', dev: 0.6, lb: 0.559, changes: lrTo(0.002) }]]);
      expect(latest(given).pendingConfirmations?.map((p) => p.candidateId)).toEqual(['c1-r1-c1']);
      const p = latest([
        ...given,
        ...metaPolicyDecider.decide(
          reviseCommand(
            evidenceOf([anchor(0.55), confirm('c1-r1-c1', lrTo(0.002), 'learning-rate', 0.562)], 2, latest(given)),
            constitution,
          ),
          given.reduce(metaPolicyDecider.evolve, metaPolicyDecider.initialState()),
        ),
      ]);
      expect(p.standingRecipe).toMatchObject({ optim: { lr: 0.002 } });
      expect(p.rationale).toMatch(/mean of both measurements \+0\.0105 > 0\.01 \(bar \/ √2\)/);
    });

    it(
      'given a single-knob gain measured again and again, then its confirmation is judged on every measurement (bar ' +
        '/ √n)',
      () => {
        // Bar 0.014142. +0.009 each time: two measurements (mean 0.009 ≤ 0.01) are not enough; four (mean 0.009 >
        // 0.007071)
        // are.
        const explorer: CandidateSpec = { axis: 'learning-rate', dev: 0.6, lb: 0.559, changes: lrTo(0.002) };
        const confirmRun = (of: string): CandidateSpec => confirm(of, lrTo(0.002), 'learning-rate', 0.559);
        const g2 = run([
          [anchor(0.55), explorer],
          [anchor(0.55), confirmRun('c1-r1-c1')],
        ]);
        expect(latest(g2).standingRecipe).toEqual(policy0.standingRecipe);
        expect(latest(g2).rationale).toMatch(
          /not confirmed by c1-r2-c1: LB \+0\.0090 .*mean of both measurements \+0\.0090 ≤ 0\.01 \(bar \/ √2\)/,
        );
        expect(latest(g2).moveLedger?.find((m) => m.path === 'optim.lr')).toMatchObject({
          lbRounds: [1, 2],
          lbGains: [0.009, 0.009],
        });
        const p4 = latest(
          run([
            [anchor(0.55), explorer],
            [anchor(0.55), confirmRun('c1-r1-c1')],
            [anchor(0.55), explorer],
            [anchor(0.55), confirmRun('c1-r3-c1')],
          ]),
        );
        expect(p4.standingRecipe).toMatchObject({ optim: { lr: 0.002 } });
        expect(p4.rationale).toMatch(
          /confirmed by c1-r4-c1: .*mean of 4 measurements of the move \+0\.0090 > 0\.007071 \(bar \/ √4\)/,
        );
      },
    );

    it('given two confirmed gains on the same path, then only the better one is promoted', () => {
      const given = run([
        [
          anchor(0.55),
          { axis: 'learning-rate', dev: 0.62, lb: 0.58, changes: lrTo(0.002) },
          { axis: 'learning-rate', dev: 0.62, lb: 0.575, changes: lrTo(0.003) },
        ],
      ]);
      const evidence = evidenceOf(
        [
          anchor(0.55),
          confirm('c1-r1-c1', lrTo(0.002), 'learning-rate', 0.57),
          confirm('c1-r1-c2', lrTo(0.003), 'learning-rate', 0.58),
        ],
        2,
        latest(given),
      );
      const p = revisedPolicy(
        spec
          .given(given)
          .when(reviseCommand(evidence, constitution))
          .then(() => undefined),
      );
      // Means of the two measurements: c1 (0.03 + 0.02)/2 = 0.025 < c2 (0.025 + 0.03)/2 = 0.0275.
      expect(p.standingRecipe).toMatchObject({ optim: { lr: 0.003 } });
      expect(p.rationale).toMatch(
        /Not promoted: c1-r1-c1 .*confirmed, but it changes a path a better confirmed gain changes/,
      );
    });

    it('given a direction that paid twice, then the workers are told to widen their step along it', () => {
      const round1: CandidateSpec[] = [
        anchor(0.55),
        { axis: 'learning-rate', dev: 0.62, lb: 0.58, changes: lrTo(0.002) },
      ];
      // The anchor re-measures the round-1 recipe (its replicates join the difference noise: 0.55 twice).
      const round2: CandidateSpec[] = [
        anchor(0.55),
        confirm('c1-r1-c1', lrTo(0.002), 'learning-rate', 0.57),
        { axis: 'learning-rate', dev: 0.63, lb: 0.58, changes: [{ path: 'optim.lr', from: 0.002, to: 0.003 }] },
      ];
      const round3: CandidateSpec[] = [
        anchor(0.61),
        confirm('c1-r2-c2', [{ path: 'optim.lr', from: 0.002, to: 0.003 }], 'learning-rate', 0.63),
      ];
      const p = latest(run([round1, round2, round3]));
      expect(p.standingRecipe).toMatchObject({ optim: { lr: 0.003 } });
      expect(p.searchHints?.directions).toEqual([
        { path: 'optim.lr', direction: 'increase', paidRounds: [2, 3], stepScale: 2 },
      ]);
    });

    it('given a large dev gain without an LB score, then it is not promoted (dev never promotes)', () => {
      const evidence = evidenceOf(
        [anchor(0.55), { axis: 'learning-rate', dev: 0.75, changes: lrTo(0.002) }],
        1,
        policy0,
      );
      spec
        .given([started()])
        .when(reviseCommand(evidence, constitution))
        .then((events) => expect(revisedPolicy(events).standingRecipe).toEqual(policy0.standingRecipe));
    });

    it('given the best LB gain came from a candidate that left its axis, then it is not promoted', () => {
      const evidence = evidenceOf(
        [
          anchor(0.55),
          {
            axis: 'learning-rate',
            dev: 0.62,
            lb: 0.6,
            changes: [...lrTo(0.002), { path: 'mix.equation', from: 1, to: 3 }],
          },
        ],
        1,
        policy0,
      );
      spec
        .given([started()])
        .when(reviseCommand(evidence, constitution))
        .then((events) => expect(revisedPolicy(events).standingRecipe).toEqual(policy0.standingRecipe));
    });
  },
);
