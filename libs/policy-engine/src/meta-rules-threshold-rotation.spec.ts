import { testPolicy, type CandidateSpec } from '@aevo/evidence';
import { proposalFrom, reviseCommand, revisedPolicy } from './test-support';
import {
  anchor,
  constitution,
  evidenceOf,
  latest,
  lrTo,
  policy0,
  roundTo6,
  run,
  spec,
  started,
} from './meta-rules-support';

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

  it(
    'given the anchor’s submissions were scored on the leaderboard, then the threshold follows the LB replicates, ' +
      'pooled over rounds',
    () => {
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
    },
  );

  it(
    'given no measurable noise (one seed, identical seeds), then the threshold never falls below the minimum ' +
      'multiple of the floor',
    () => {
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
    },
  );

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
        // capacity has no campaign axes, so data is next; the learning-rate move's paired dev gain held in both
        // rounds (a lead of the move ledger), so its axis keeps explorers across the rotation; three axes are fewer
        // than four, so the next categories' unspent axis (schedule: never measured) fills the list.
        expect(p.activeCategory).toBe('data');
        expect(p.activeAxes).toEqual(['learning-rate', 'data-mix', 'synthetic-data', 'schedule']);
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

  it(
    'given a required rotation, when the meta agent proposes to stay, then it is refused and the rule engine ' +
      'rotates',
    () => {
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
    },
  );
});
