import type { RoundEvidence } from '@aevo/contracts';
import type { CandidateSpec } from '@aevo/evidence';
import { differenceNoise } from './revision-facts';
import { reviseCommand, revisedPolicy } from './test-support';
import { anchor, constitution, evidenceOf, latest, lrTo, policy0, roundTo6, run, spec } from './meta-rules-support';

type Noise = RoundEvidence['calibration']['noise'];
const noise = (n: Partial<Noise>): Noise =>
  ({ devStd: 0.01, devSource: 'anchor-seeds', devDf: 2, lbStd: 0.01, lbSource: 'floor', lbDf: 0, ...n }) as Noise;

describe('meta-rule: the LB difference noise pools every measurement of it the campaign has', () => {
  it('given one confirmation pair and anchor replicates, then both are pooled by their degrees of freedom', () => {
    const got = differenceNoise(
      noise({
        lbDiffStd: 0.037,
        lbDiffDf: 1,
        lbDiffSource: 'confirmation-pairs',
        lbStd: 0.01,
        lbDf: 4,
        lbSource: 'anchor-replicates',
      }),
    );
    // A difference of two replicates has twice their variance.
    expect(got).toEqual({
      std: roundTo6(Math.sqrt((1 * 0.037 ** 2 + 4 * 2 * 0.01 ** 2) / 5)),
      df: 5,
      source: 'confirmation pairs + anchor replicates',
    });
  });

  it('given only pairs, or only replicates, or neither, then the collector’s estimate stands as recorded', () => {
    const pairs = noise({ lbDiffStd: 0.02, lbDiffDf: 2, lbDiffSource: 'confirmation-pairs' });
    expect(differenceNoise(pairs)).toEqual({ std: 0.02, df: 2, source: 'confirmation-pairs' });
    const reps = noise({ lbDiffStd: 0.014, lbDiffDf: 3, lbDiffSource: 'replicates', lbSource: 'anchor-replicates' });
    expect(differenceNoise({ ...reps, lbDf: 3 })).toEqual({ std: 0.014, df: 3, source: 'replicates' });
    // A band carried by the policy ('policy') is not a replicate measurement of this campaign's anchors.
    expect(differenceNoise({ ...pairs, lbSource: 'policy', lbDf: 4 })).toEqual({
      std: 0.02,
      df: 2,
      source: 'confirmation-pairs',
    });
    expect(differenceNoise(noise({ lbDiffStd: 0.007071, lbDiffDf: 0, lbDiffSource: 'floor' }))).toEqual({
      std: 0.007071,
      df: 0,
      source: 'floor',
    });
  });

  it(
    'given anchor replicates and a confirmation pair that disagrees by 0.05, when revised, then the next bar is ' +
      '2 × the pooled σ, not 2 × the one pair’s',
    () => {
      // Round 1: the anchor on three seeds scored 0.55, 0.56, 0.54 (replicates, df 2); a gain of +0.05 waits.
      const round1: CandidateSpec[] = [
        { ...anchor(0.55), extraSeedDevs: [0.6, 0.6], extraSeedLbs: [0.56, 0.54] },
        { axis: 'learning-rate', dev: 0.62, lb: 0.6, changes: lrTo(0.002) },
      ];
      const given = run([round1]);
      expect(latest(given).pendingConfirmations?.map((p) => p.candidateId)).toEqual(['c1-r1-c1']);
      // Round 2: the confirmation measures no gain at all.
      const evidence = evidenceOf(
        [
          anchor(0.55),
          {
            axis: 'learning-rate',
            dev: 0.61,
            lb: 0.55,
            changes: lrTo(0.002),
            prescribed: { kind: 'confirmation', of: 'c1-r1-c1', changes: lrTo(0.002), hypothesis: 'confirm' },
          },
        ],
        2,
        latest(given),
      );
      const n = evidence.calibration.noise;
      expect(n).toMatchObject({ lbDiffSource: 'confirmation-pairs', lbDiffDf: 1, lbSource: 'anchor-replicates' });
      expect(n.lbDf).toBe(3); // 0.55, 0.56, 0.54, 0.55: one recipe, four scores
      const pairOnly = roundTo6(2 * (n.lbDiffStd as number));
      const pooled = roundTo6(Math.sqrt(((n.lbDiffStd as number) ** 2 + 3 * 2 * n.lbStd ** 2) / 4));
      spec
        .given(given)
        .when(reviseCommand(evidence, constitution))
        .then((events) => {
          const p = revisedPolicy(events);
          expect(p.standingRecipe).toEqual(policy0.standingRecipe);
          expect(p.promotionThreshold).toBe(roundTo6(2 * pooled));
          expect(p.promotionThreshold).toBeLessThan(pairOnly);
          expect(p.rationale).toContain('confirmation pairs + anchor replicates, df 4');
        });
    },
  );
});
