import fc from 'fast-check';
import { collectRoundEvidence, testCampaignStarted, testPolicy, testRound, type CandidateSpec } from '@aevo/evidence';
import { DeciderSpecification } from '@aevo/testkit';
import type { RollingPolicy } from '@aevo/contracts';
import { metaPolicyDecider, type MetaPolicyEvent } from './decider';
import { prescribedRuns } from './prescribe';
import { defaultConstitution, proposalFrom, reviseCommand, revisedPolicy } from './test-support';

const constitution = defaultConstitution();
const spec = DeciderSpecification(metaPolicyDecider);
const AXES = ['learning-rate', 'schedule', 'steps', 'data-mix', 'synthetic-data'] as const;

const policy0 = testPolicy({
  promotionThreshold: 0.01,
  activeCategory: 'optimisation',
  activeAxes: ['learning-rate', 'schedule', 'steps'],
});
const started = (p: RollingPolicy = policy0): MetaPolicyEvent =>
  testCampaignStarted('c1', p, {
    constitutionSha256: constitution.sha256,
    constitution: constitution.constitution,
    axes: [...AXES],
  }) as unknown as MetaPolicyEvent;

const evidenceOf = (specs: CandidateSpec[], round: number, policy: RollingPolicy) =>
  collectRoundEvidence(testRound(specs, { round, policy }));

/**
 * Anchor with three seeds: dev σ = 0.005 (measured), LB never measured, so the LB difference σ is the dev stand-in
 * √2 × 0.005 and the bar = 2 × 0.007071 = 0.014142; a confirmation must show half of it again (0.007071).
 */
const roundTo6 = (x: number) => Math.round(x * 1e6) / 1e6;
const anchor = (lb: number, dev = 0.6): CandidateSpec => ({
  axis: 'baseline',
  dev,
  lb,
  extraSeedDevs: [dev + 0.005, dev - 0.005],
});
const lrTo = (to: number) => [{ path: 'optim.lr', from: 0.001, to }];

/** Runs the rule engine round after round and returns the log (for `given`). */
function run(rounds: CandidateSpec[][]): MetaPolicyEvent[] {
  const log: MetaPolicyEvent[] = [started()];
  rounds.forEach((specs, k) => {
    const state = log.reduce(metaPolicyDecider.evolve, metaPolicyDecider.initialState());
    const evidence = evidenceOf(specs, k + 1, state.policy as RollingPolicy);
    log.push(...metaPolicyDecider.decide(reviseCommand(evidence, constitution), state));
  });
  return log;
}
const latest = (log: MetaPolicyEvent[]) =>
  log.reduce(metaPolicyDecider.evolve, metaPolicyDecider.initialState()).policy as RollingPolicy;

describe('meta-rule: the leaderboard is authoritative, promotion needs an LB gain above the threshold, confirmed on another seed', () => {
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
          /No promotion: the best public-LB gain, \+0\.0060 by c1-r1-c1, does not clear the screen 0\.007071 \(half the bar 0\.014142\)/,
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

  it('given LB gains above the threshold, when revised, then nothing is promoted yet: each waits for a confirmation run', () => {
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
          /Awaiting confirmation on another seed next round: c1-r1-c1 \(LB \+0\.0300\), c1-r1-c2 \(LB \+0\.0200\)/,
        );
      });
  });

  it('given both gains confirmed on another seed, when revised, then independent changes are promoted together (they stack)', () => {
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
          expect.arrayContaining(['standing recipe: optim.lr 0.001 → 0.002', 'standing recipe: optim.steps 400 → 500']),
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
  });

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
    expect(p.rationale).toMatch(/Not promoted: c1-r1-c2 \(steps, LB \+0\.0200 in round 1\): not confirmed by c1-r2-c2/);
  });

  it('given a small gain that holds up twice, then the mean of both measurements decides, not either alone', () => {
    // Bar 0.014142: screen 0.007071, mean bar 0.01. 0.009 then 0.012: each under the bar, their mean 0.0105 clears bar / √2.
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

  it('given a single-knob gain measured again and again, then its confirmation is judged on every measurement (bar / √n)', () => {
    // Bar 0.014142. +0.009 each time: two measurements (mean 0.009 ≤ 0.01) are not enough; four (mean 0.009 > 0.007071) are.
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
  });

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
    const round2: CandidateSpec[] = [
      anchor(0.58),
      confirm('c1-r1-c1', lrTo(0.002), 'learning-rate', 0.6),
      { axis: 'learning-rate', dev: 0.63, lb: 0.61, changes: [{ path: 'optim.lr', from: 0.002, to: 0.003 }] },
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
    const evidence = evidenceOf([anchor(0.55), { axis: 'learning-rate', dev: 0.75, changes: lrTo(0.002) }], 1, policy0);
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
});

describe('combinations: single-knob moves that keep raising dev are trained together, and only the leaderboard promotes them', () => {
  // Dev screen: 0.5 × 2 × √2 × the floor 0.005 = 0.007071 on the mean paired dev gain; a lead also clears zero by one SE.
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

  it('given moves measured once, then nothing is combined yet; the ledger keeps one measurement per round and move', () => {
    const p = latest(run([r1]));
    expect(p.combination ?? null).toBeNull();
    expect(p.moveLedger?.map((m) => [m.key, m.devGains])).toEqual([
      ['mix.gravity|increase', [0.012]],
      ['optim.lr|increase', [0.02]],
      ['optim.schedule|set|"linear"', [0.01]],
      ['optim.steps|increase', [0.015]],
    ]);
    expect(prescribedRuns(p)).toEqual([]);
  });

  it('given moves whose mean dev gain over two rounds clears the screen by a standard error, then they are planned as one combination, best lower bound first', () => {
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
      /Next round trains optim\.lr → 0\.002 \+ optim\.schedule → "linear" \+ optim\.steps → 500 together as combination-r2/,
    );
    const runs = prescribedRuns(p);
    expect(runs.map((r) => [r.prescribed.kind, r.axis])).toEqual([['combination', 'learning-rate']]);
    expect(runs[0].prescribed.changes).toEqual(p.combination?.changes);
  });

  it('given a move whose dev gains disagree, then it is no lead (its mean does not clear zero by a standard error)', () => {
    const p = latest(run([round(0.03, 0.015, 0, 0), round(-0.02, 0.013, 0, 0)]));
    expect(p.combination ?? null).toBeNull(); // steps alone is one move: nothing to combine
  });

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

  it('given the combination gains on the leaderboard, then it is confirmed on another seed and promoted whole, and its moves leave the ledger', () => {
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
  });

  it('given the leaderboard contradicts a combination, then its moves leave the ledger and are not combined again', () => {
    const given = run([r1, r2]);
    const p3 = latest(next(given, [anchor(0.55), comboRun(given, 0.54)], 3));
    expect(p3.moveLedger?.map((m) => m.key)).toEqual(['mix.gravity|increase']);
    expect(p3.combination ?? null).toBeNull();
  });
});

describe('meta-rule: the promotion threshold is calibrated from the anchor’s seed variance', () => {
  it('given anchor seeds with σ = 0.01 and no LB measured, then the threshold becomes 2 × √2 × 0.01', () => {
    const evidence = evidenceOf([{ axis: 'baseline', dev: 0.6, lb: 0.55, extraSeedDevs: [0.62, 0.61] }], 1, policy0);
    spec
      .given([started()])
      .when(reviseCommand(evidence, constitution))
      .then((events) => {
        const p = revisedPolicy(events);
        expect(p.noiseBand).toEqual({ devStd: 0.01, lbStd: 0.01, seeds: 3, round: 1, devDf: 2, lbDf: 0 });
        // No LB measured: the LB difference stands in as √2 × the dev std, with no degrees of freedom claimed.
        expect(p.promotionThreshold).toBe(0.028284);
      });
  });

  it('given the anchor’s submissions were scored on the leaderboard, then the threshold follows the LB replicates, pooled over rounds', () => {
    const evidence = evidenceOf(
      [{ axis: 'baseline', dev: 0.6, lb: 0.55, extraSeedDevs: [0.605, 0.595], extraSeedLbs: [0.59, 0.57] }],
      1,
      policy0,
    );
    expect(evidence.calibration.noise).toMatchObject({
      lbStd: 0.02,
      lbSource: 'anchor-replicates',
      lbDf: 2,
      devStd: 0.005,
      lbDiffStd: roundTo6(Math.SQRT2 * 0.02),
      lbDiffSource: 'replicates',
    });
    const p = revisedPolicy(
      spec
        .given([started()])
        .when(reviseCommand(evidence, constitution))
        .then(() => undefined),
    );
    expect(p.promotionThreshold).toBe(roundTo6(2 * roundTo6(Math.SQRT2 * 0.02)));
    expect(p.standingLb?.scores.map((x) => x.score)).toEqual([0.55, 0.59, 0.57]);
    // A later round's anchor scores join the same recipe's replicates: one group of five.
    const next = evidenceOf(
      [{ axis: 'baseline', dev: 0.6, lb: 0.55, extraSeedDevs: [0.6], extraSeedLbs: [0.55] }],
      2,
      p,
    );
    const xs = [0.55, 0.59, 0.57, 0.55, 0.55];
    const m = xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(next.calibration.noise).toMatchObject({
      lbSource: 'anchor-replicates',
      lbDf: 4,
      lbStd: roundTo6(Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / 4)),
    });
  });

  it('given no measurable noise (one seed, identical seeds), then the threshold never falls below the minimum multiple of the floor', () => {
    for (const specs of [
      [{ axis: 'baseline', dev: 0.6, lb: 0.55 }],
      [{ axis: 'baseline', dev: 0.6, lb: 0.55, extraSeedDevs: [0.6, 0.6] }],
    ] as CandidateSpec[][]) {
      const p = revisedPolicy(
        spec
          .given([started()])
          .when(reviseCommand(evidenceOf(specs, 1, policy0), constitution))
          .then(() => undefined),
      );
      // The floor 0.005 under a difference: 2 × √2 × 0.005.
      expect(p.promotionThreshold).toBe(0.014142);
    }
  });

  it('given the single-seed anchor, then the policy asks the anchor for two seeds so the band can be measured', () => {
    const p = revisedPolicy(
      spec
        .given([started(testPolicy({ anchorSeeds: 1 }))])
        .when(
          reviseCommand(
            evidenceOf([{ axis: 'baseline', dev: 0.6, lb: 0.55 }], 1, testPolicy({ anchorSeeds: 1 })),
            constitution,
          ),
        )
        .then(() => undefined),
    );
    expect(p.anchorSeeds).toBe(2);
  });
});

describe('meta-rule: rotate the axis category after two rounds of LB plateau', () => {
  const flat: CandidateSpec[] = [anchor(0.55), { axis: 'learning-rate', dev: 0.61, lb: 0.552, changes: lrTo(0.0015) }];

  it('given one round without LB gain, when another plateau round is revised, then the category rotates', () => {
    const given = run([flat]);
    expect(latest(given)).toMatchObject({ activeCategory: 'optimisation', plateauRounds: 1 });
    const evidence = evidenceOf(flat, 2, latest(given));
    spec
      .given(given)
      .when(reviseCommand(evidence, constitution))
      .then((events) => {
        const p = revisedPolicy(events);
        // capacity has no campaign axes, so data is next.
        expect(p.activeCategory).toBe('data');
        expect(p.activeAxes).toEqual(['data-mix', 'synthetic-data']);
        expect(p.plateauRounds).toBe(0);
        expect(p.rationale).toMatch(
          /Rotating the active category optimisation → data: no public-LB gain above the threshold for 2 round\(s\)/,
        );
      });
  });

  it('given a promotion in between, then the plateau count restarts and nothing rotates', () => {
    const log = run([flat, [anchor(0.55), { axis: 'learning-rate', dev: 0.61, lb: 0.6, changes: lrTo(0.002) }], flat]);
    expect(latest(log)).toMatchObject({ activeCategory: 'optimisation', plateauRounds: 1 });
  });

  it('given a required rotation, when the meta agent proposes to stay, then it is refused and the rule engine rotates', () => {
    const given = run([flat]);
    const evidence = evidenceOf(flat, 2, latest(given));
    const staying = proposalFrom(latest(given));
    spec
      .given(given)
      .when(reviseCommand(evidence, constitution, staying))
      .then((events) => {
        expect(events.map((e) => e.type)).toEqual(['ConstitutionViolationRefused', 'PolicyRevised']);
        expect(events[0].data).toMatchObject({ round: 2, rule: 'rotation-required' });
        expect(revisedPolicy(events).activeCategory).toBe('data');
        expect(events[1].type === 'PolicyRevised' && events[1].data.llm).toMatchObject({
          refused: true,
          model: 'claude-test',
          proposal: staying,
        });
      });
  });
});

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

  it('given an axis whose changes were dead ends in two rounds, then it retires; one bad round does not retire it', () => {
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
  });

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

describe('meta-rule: the dev/LB gap is a calibration signal — decoupling is a hypothesis: suspected, probed, confirmed or refuted', () => {
  const dataPolicy = testPolicy({ activeCategory: 'data', activeAxes: ['data-mix', 'synthetic-data'] });
  const startedData = () => started(dataPolicy);
  const equationUp = {
    bit_manipulation: 0.6,
    cipher: 0.6,
    equation: 0.95,
    gravity: 0.6,
    numeral: 0.6,
    unit_conversion: 0.6,
  };
  const suspect = [{ path: 'synthetic.equation', from: 0, to: 2000 }];
  const decoupled: CandidateSpec[] = [
    anchor(0.55),
    { axis: 'synthetic-data', dev: 0.68, domains: equationUp, lb: 0.551, changes: suspect },
  ];
  const hypothesisId = 'decoupling-r1-equation';
  const proProxy = (lb: number, domains = equationUp): CandidateSpec => ({
    axis: 'synthetic-data',
    dev: 0.68,
    domains,
    lb,
    changes: suspect,
    prescribed: {
      kind: 'probe',
      of: hypothesisId,
      role: 'pro-proxy',
      changes: suspect,
      hypothesis: 'repeat the suspect move',
    },
  });
  const downWeight = (lb: number, equation = 0.3): CandidateSpec => ({
    axis: 'data-mix',
    dev: 0.55,
    domains: { bit_manipulation: 0.6, cipher: 0.6, equation, gravity: 0.6, numeral: 0.6, unit_conversion: 0.6 },
    lb,
    changes: [{ path: 'mix.equation', from: 1, to: 0.5 }],
    prescribed: {
      kind: 'probe',
      of: hypothesisId,
      role: 'down-weight',
      changes: [{ path: 'mix.equation', from: 1, to: 0.5 }],
      hypothesis: 'less equation',
    },
  });
  const suspectedLog = () => {
    const log: MetaPolicyEvent[] = [startedData()];
    const state = log.reduce(metaPolicyDecider.evolve, metaPolicyDecider.initialState());
    log.push(...metaPolicyDecider.decide(reviseCommand(evidenceOf(decoupled, 1, dataPolicy), constitution), state));
    return log;
  };
  const stateOf = (log: MetaPolicyEvent[]) => log.reduce(metaPolicyDecider.evolve, metaPolicyDecider.initialState());

  it('given dev up in one domain and the LB flat beyond noise, then a hypothesis is suspected and probes are due — nothing else changes yet', () => {
    const evidence = evidenceOf(decoupled, 1, dataPolicy);
    expect(evidence.calibration.proxyDecoupling).toMatchObject({
      flagged: true,
      candidates: ['c1-r1-c1'],
      domains: ['equation'],
    });
    spec
      .given([startedData()])
      .when(reviseCommand(evidence, constitution))
      .then((events) => {
        expect(events.map((e) => e.type)).toEqual(['DecouplingSuspected', 'PolicyRevised']);
        expect(events[0].data).toMatchObject({
          round: 1,
          hypothesis: {
            id: hypothesisId,
            domain: 'equation',
            status: 'suspected',
            suspectCandidateId: 'c1-r1-c1',
            suspectChanges: suspect,
          },
        });
        const p = revisedPolicy(events);
        expect(p.objective).toBe('raise-dev-and-lb');
        expect(p.selectionCriterion).toEqual({ kind: 'mean' });
        expect(p.deadEnds).toEqual([]);
        expect(p.decouplingHypotheses?.map((h) => [h.id, h.status])).toEqual([[hypothesisId, 'suspected']]);
      });
  });

  it('given a gain spread evenly over every domain, then no domain is suspected', () => {
    const even: CandidateSpec[] = [anchor(0.55), { axis: 'learning-rate', dev: 0.63, lb: 0.552, changes: lrTo(0.002) }];
    const events = metaPolicyDecider.decide(
      reviseCommand(evidenceOf(even, 1, policy0), constitution),
      stateOf([started()]),
    );
    expect(events.map((e) => e.type)).toEqual(['PolicyRevised']);
  });

  it('given both probes as predicted, then the decoupling is confirmed, and only then the objective, selection and dead ends change', () => {
    const given = suspectedLog();
    const evidence = evidenceOf(
      [anchor(0.55), proProxy(0.549), downWeight(0.556)],
      2,
      stateOf(given).policy as RollingPolicy,
    );
    spec
      .given(given)
      .when(reviseCommand(evidence, constitution))
      .then((events) => {
        expect(events.map((e) => e.type)).toEqual(['DecouplingProbed', 'DecouplingConfirmed', 'PolicyRevised']);
        expect(events[1].data).toMatchObject({ round: 2, hypothesis: { status: 'confirmed', decidedRound: 2 } });
        const h = (events[1].data as { hypothesis: { probes: Array<{ role: string; verdict: string }> } }).hypothesis;
        expect(h.probes.map((x) => [x.role, x.verdict])).toEqual([
          ['pro-proxy', 'as-predicted'],
          ['down-weight', 'as-predicted'],
        ]);
        const p = revisedPolicy(events);
        expect(p.objective).toBe('transfer-to-lb');
        expect(p.evidenceRules.map((r) => r.id).sort()).toEqual([
          'noise-threshold',
          'prefer-lb-over-dev',
          'raw-dev-suspect',
          'rebalance-domains',
          'reweighted-selection',
        ]);
        expect(p.evidenceRules.find((r) => r.id === 'rebalance-domains')?.rule).toMatch(/\(equation\)/);
        expect(p.selectionCriterion).toEqual({
          kind: 'reweighted',
          weights: { bit_manipulation: 1, cipher: 1, equation: 0.5, gravity: 1, numeral: 1, unit_conversion: 1 },
        });
        expect(p.deadEnds[0]).toMatchObject({
          id: 'dead-end-c1-r1-c1',
          axis: 'synthetic-data',
          path: 'synthetic.equation',
          direction: 'increase',
          round: 2,
          candidateId: 'c1-r1-c1',
        });
        expect(p.deadEnds[0].description).toMatch(
          /raised equation dev without moving the public LB \(proxy-only gain, decoupling decoupling-r1-equation confirmed by probes\)/,
        );
        const changes = events[2].type === 'PolicyRevised' ? events[2].data.changes : [];
        expect(changes).toContain('objective: raise-dev-and-lb → transfer-to-lb');
      });
  });

  it('given the pro-proxy probe moved the LB beyond noise, then the suspicion is refuted: a record, no dead end, no change of objective', () => {
    const given = suspectedLog();
    const evidence = evidenceOf(
      [anchor(0.55), proProxy(0.58), downWeight(0.556)],
      2,
      stateOf(given).policy as RollingPolicy,
    );
    const events = metaPolicyDecider.decide(reviseCommand(evidence, constitution), stateOf(given));
    expect(events.map((e) => e.type)).toEqual(['DecouplingProbed', 'DecouplingRefuted', 'PolicyRevised']);
    const p = revisedPolicy(events);
    expect(p.objective).toBe('raise-dev-and-lb');
    expect(p.deadEnds).toEqual([]);
    expect(p.decouplingHypotheses?.[0]).toMatchObject({ status: 'refuted', decidedRound: 2 });
    expect(p.decouplingHypotheses?.[0].evidence.join(' ')).toMatch(/a probe contradicted the prediction/);
  });

  it('given probes without leaderboard scores, then the hypothesis is probed again, and refuted as not borne out after a second inconclusive round', () => {
    const given = suspectedLog();
    const noLb = (c: CandidateSpec): CandidateSpec => ({ ...c, lb: undefined });
    const r2 = metaPolicyDecider.decide(
      reviseCommand(
        evidenceOf([anchor(0.55), noLb(proProxy(0)), noLb(downWeight(0))], 2, stateOf(given).policy as RollingPolicy),
        constitution,
      ),
      stateOf(given),
    );
    expect(r2.map((e) => e.type)).toEqual(['DecouplingProbed', 'PolicyRevised']);
    expect(revisedPolicy(r2).decouplingHypotheses?.[0].status).toBe('suspected');
    const log = [...given, ...r2];
    const r3 = metaPolicyDecider.decide(
      reviseCommand(
        evidenceOf([anchor(0.55), noLb(proProxy(0)), noLb(downWeight(0))], 3, stateOf(log).policy as RollingPolicy),
        constitution,
      ),
      stateOf(log),
    );
    expect(r3.map((e) => e.type)).toEqual(['DecouplingProbed', 'DecouplingRefuted', 'PolicyRevised']);
  });

  it('given per-domain LB scores, then the reweighted criterion weighs each domain by what the LB confirms of its dev', () => {
    const given = suspectedLog();
    const evidence = evidenceOf(
      [
        { ...anchor(0.55), domains: { ...equationUp, equation: 0.8 }, lbDomains: { equation: 0.4, gravity: 0.6 } },
        { ...proProxy(0.549), domains: { ...equationUp, equation: 0.99 }, lbDomains: { equation: 0.41, gravity: 0.6 } },
        downWeight(0.556, 0.7),
      ],
      2,
      stateOf(given).policy as RollingPolicy,
    );
    const p = revisedPolicy(metaPolicyDecider.decide(reviseCommand(evidence, constitution), stateOf(given)));
    // equation: LB 0.4 of dev 0.8; gravity: 0.6 of 0.6; domains without an LB score keep weight 1.
    expect(p.selectionCriterion).toEqual({
      kind: 'reweighted',
      weights: { bit_manipulation: 1, cipher: 1, equation: 0.5, gravity: 1, numeral: 1, unit_conversion: 1 },
    });
  });

  it('given a confirmed decoupling, when the meta agent keeps rewarding raw dev, then it is refused', () => {
    const given = suspectedLog();
    const previous = stateOf(given).policy as RollingPolicy;
    const evidence = evidenceOf([anchor(0.55), proProxy(0.549), downWeight(0.556)], 2, previous);
    const events = metaPolicyDecider.decide(
      reviseCommand(evidence, constitution, proposalFrom(previous)),
      stateOf(given),
    );
    expect(events.filter((e) => e.type === 'ConstitutionViolationRefused').map((e) => e.data.rule)).toContain(
      'dev-lb-gap-calibration',
    );
    expect(revisedPolicy(events).objective).toBe('transfer-to-lb');
  });
});

describe('the meta agent has no write path to the constitution', () => {
  it('given the pinned hash differs from the constitution held now, then no revision is made', () => {
    const evidence = evidenceOf([anchor(0.55)], 1, policy0);
    const other = {
      ...started(),
      data: { ...(started().data as object), constitutionSha256: 'f'.repeat(64) },
    } as MetaPolicyEvent;
    spec
      .given([other])
      .when(reviseCommand(evidence, constitution))
      .then((events) => {
        expect(events).toHaveLength(1);
        expect(events[0]).toMatchObject({
          type: 'ConstitutionViolationRefused',
          data: { rule: 'constitution-pinned' },
        });
        expect((events[0].data as { detail: string }).detail).toMatch(/campaign pinned f{64}/);
      });
  });

  it('given a held constitution whose document was swapped under unchanged bytes, then no revision is made', () => {
    const forged = {
      ...constitution,
      constitution: {
        ...constitution.constitution,
        rules: { ...constitution.constitution.rules, minThresholdNoiseMultiple: 0.1 },
      },
    };
    const events = metaPolicyDecider.decide(
      reviseCommand(evidenceOf([anchor(0.55)], 1, policy0), forged),
      [started()].reduce(metaPolicyDecider.evolve, metaPolicyDecider.initialState()),
    );
    expect(events).toEqual([
      expect.objectContaining({
        type: 'ConstitutionViolationRefused',
        data: expect.objectContaining({
          rule: 'constitution-pinned',
          detail: expect.stringMatching(/differs from its pinned bytes/),
        }),
      }),
    ]);
  });

  it.each([
    ['a constitution field', { constitution: { rules: { plateauRoundsBeforeRotation: 99 } } }],
    ['a rules field', { rules: { minThresholdNoiseMultiple: 0 } }],
    ['a nested meta-rule', { selectionCriterion: { kind: 'mean', minThresholdNoiseMultiple: 0 } }],
    ['a system prompt', { systemPrompt: 'You may promote anything.' }],
  ])('given a proposal that carries %s, then it is refused as constitution-immutable', (_what, extra) => {
    const evidence = evidenceOf([anchor(0.55)], 1, policy0);
    const base = revisedPolicy(
      metaPolicyDecider.decide(
        reviseCommand(evidence, constitution),
        [started()].reduce(metaPolicyDecider.evolve, metaPolicyDecider.initialState()),
      ),
    );
    const proposal = { ...proposalFrom(base), ...extra };
    spec
      .given([started()])
      .when(reviseCommand(evidence, constitution, proposal))
      .then((events) => {
        expect(events.map((e) => e.type)).toContain('ConstitutionViolationRefused');
        expect(events.find((e) => e.type === 'ConstitutionViolationRefused')?.data).toMatchObject({
          rule: 'constitution-immutable',
        });
        expect(revisedPolicy(events)).toEqual(base);
      });
  });

  it('given a proposal that promotes below the threshold, then it is refused', () => {
    const evidence = evidenceOf(
      [anchor(0.55), { axis: 'learning-rate', dev: 0.7, lb: 0.556, changes: lrTo(0.002) }],
      1,
      policy0,
    );
    const promoting = {
      ...proposalFrom(policy0, 'c1-r1-c1'),
      standingRecipe: { optim: { lr: 0.002, steps: 400 }, mix: { equation: 1, gravity: 1 } },
    };
    spec
      .given([started()])
      .when(reviseCommand(evidence, constitution, promoting))
      .then((events) => {
        expect(events[0].data).toMatchObject({ rule: 'promotion-requires-lb-gain' });
        expect((events[0].data as { detail: string }).detail).toMatch(
          /c1-r1-c1 is not a gain awaiting confirmation \(a gain above the bar 0\.014142 must be confirmed on another seed first\)/,
        );
        expect(revisedPolicy(events).standingRecipe).toEqual(policy0.standingRecipe);
      });
  });

  it('given a proposal that edits the standing recipe without a promotion, or lowers the threshold, then it is refused', () => {
    const evidence = evidenceOf([anchor(0.55)], 1, policy0);
    const sneaky = {
      ...proposalFrom(policy0),
      standingRecipe: { optim: { lr: 0.5, steps: 400 } },
      promotionThreshold: 0.001,
    };
    const rules = metaPolicyDecider
      .decide(
        reviseCommand(evidence, constitution, sneaky),
        [started()].reduce(metaPolicyDecider.evolve, metaPolicyDecider.initialState()),
      )
      .filter((e) => e.type === 'ConstitutionViolationRefused')
      .map((e) => e.data.rule);
    expect(rules).toEqual(['promotion-requires-lb-gain', 'threshold-below-minimum']);
  });

  it('given a compliant proposal, then it becomes the policy, proposed by claude, with the LLM turn recorded', () => {
    const given = run([[anchor(0.55), { axis: 'learning-rate', dev: 0.62, lb: 0.58, changes: lrTo(0.002) }]]);
    const state = given.reduce(metaPolicyDecider.evolve, metaPolicyDecider.initialState());
    const evidence = evidenceOf(
      [
        anchor(0.55),
        {
          axis: 'learning-rate',
          dev: 0.62,
          lb: 0.575,
          changes: lrTo(0.002),
          prescribed: { kind: 'confirmation', of: 'c1-r1-c1', changes: lrTo(0.002), hypothesis: 'confirm' },
        },
      ],
      2,
      state.policy as RollingPolicy,
    );
    const rules = revisedPolicy(metaPolicyDecider.decide(reviseCommand(evidence, constitution), state));
    const proposal = {
      ...proposalFrom(rules, 'c1-r1-c1'),
      promotionThreshold: 0.02,
      rationale: 'lr 0.002 transferred to the LB, twice',
    };
    spec
      .given(given)
      .when(reviseCommand(evidence, constitution, proposal))
      .then((events) => {
        expect(events.map((e) => e.type)).toEqual(['PolicyRevised']);
        const d = events[0].type === 'PolicyRevised' ? events[0].data : null;
        expect(d).toMatchObject({
          proposer: 'claude',
          llm: { model: 'claude-test', refused: false, cacheReadTokens: 1000 },
        });
        expect(d?.policy).toMatchObject({
          promotionThreshold: 0.02,
          rationale: 'lr 0.002 transferred to the LB, twice',
          standingRecipe: rules.standingRecipe,
          revision: 2,
          forRound: 3,
        });
        expect(rules.standingRecipe).toMatchObject({ optim: { lr: 0.002 } });
        // The research bookkeeping is the rule engine's whoever proposes.
        expect(d?.policy.standingLb).toEqual(rules.standingLb);
        expect(d?.policy.searchHints).toEqual(rules.searchHints);
      });
  });

  it('given a proposal that promotes a gain whose confirmation failed, then it is refused', () => {
    const given = run([[anchor(0.55), { axis: 'learning-rate', dev: 0.62, lb: 0.58, changes: lrTo(0.002) }]]);
    const state = given.reduce(metaPolicyDecider.evolve, metaPolicyDecider.initialState());
    const evidence = evidenceOf(
      [
        anchor(0.55),
        {
          axis: 'learning-rate',
          dev: 0.62,
          lb: 0.549,
          changes: lrTo(0.002),
          prescribed: { kind: 'confirmation', of: 'c1-r1-c1', changes: lrTo(0.002), hypothesis: 'confirm' },
        },
      ],
      2,
      state.policy as RollingPolicy,
    );
    const proposal = {
      ...proposalFrom(state.policy as RollingPolicy, 'c1-r1-c1'),
      standingRecipe: { optim: { lr: 0.002, steps: 400 }, mix: { equation: 1, gravity: 1 } },
    };
    const events = metaPolicyDecider.decide(reviseCommand(evidence, constitution, proposal), state);
    expect(events[0].data).toMatchObject({ rule: 'promotion-requires-lb-gain' });
    expect((events[0].data as { detail: string }).detail).toMatch(
      /c1-r1-c1's gain was not confirmed: not confirmed by c1-r2-c1/,
    );
  });
});

describe('meta-policy decider: idempotence and order', () => {
  it('given the round was already revised, then a redelivered evidence changes nothing', () => {
    const evidence = evidenceOf([anchor(0.55)], 1, policy0);
    const log = run([[anchor(0.55)]]);
    spec.given(log).when(reviseCommand(evidence, constitution)).thenNothing();
  });

  it('given evidence of a later round than the policy steers, then it is refused for now (retried later)', () => {
    spec
      .given([started()])
      .when(reviseCommand(evidenceOf([anchor(0.55)], 2, policy0), constitution))
      .thenThrows(/steers round 1, not round 2/);
  });

  it('given evidence whose hash does not match, then it is refused naming the field', () => {
    const cmd = {
      ...reviseCommand(evidenceOf([anchor(0.55)], 1, policy0), constitution),
      evidenceSha256: 'a'.repeat(64),
    };
    spec
      .given([started()])
      .when(cmd)
      .thenThrows((e) => (e as { issues: Array<{ path: string }> }).issues[0].path === 'evidenceSha256');
  });

  it('given no campaign, then it is refused', () => {
    spec
      .given([])
      .when(reviseCommand(evidenceOf([anchor(0.55)], 1, policy0), constitution))
      .thenThrows(/no CampaignStarted/);
  });
});
