import { DomainError, RoundEvidence, contentHash } from '@aevo/contracts';
import { collectRoundEvidence } from './collect';
import { testPolicy, testRound } from './fixtures';

const lr = (from: number, to: number) => [{ path: 'optim.lr', from, to }];

describe('collectRoundEvidence', () => {
  it('always produces the same five sections, whatever the round holds', () => {
    const full = collectRoundEvidence(
      testRound([
        { axis: 'baseline', dev: 0.6, lb: 0.55, extraSeedDevs: [0.62, 0.61] },
        { axis: 'learning-rate', dev: 0.65, lb: 0.58, changes: lr(0.001, 0.002) },
      ]),
    );
    const sparse = collectRoundEvidence(
      testRound(
        [
          { axis: 'baseline', status: 'missing' },
          { axis: 'schedule', status: 'failed' },
        ],
        { round: 7, policy: testPolicy({ forRound: 7, revision: 6 }) },
      ),
    );
    const sections = [
      'candidateSummaries',
      'crossCandidatePatterns',
      'calibration',
      'surprises',
      'designRationaleAudit',
    ];
    for (const e of [full, sparse]) {
      expect(RoundEvidence.safeParse(e).success).toBe(true);
      expect(Object.keys(e).filter((k) => sections.includes(k))).toEqual(sections);
      expect(Object.keys(e).sort()).toEqual(
        [...sections, 'anchorCandidateId', 'campaignId', 'policyRevision', 'prose', 'round'].sort(),
      );
    }
    expect(sparse.candidateSummaries.map((s) => s.status)).toEqual(['missing', 'failed']);
    expect(sparse.candidateSummaries[0].failureModes).toEqual([
      { kind: 'timeout', detail: 'no manifest before the round 7 collection deadline' },
    ]);
  });

  it(
    'given an anchor with three seeds, then candidates are placed ' + 'against it in units of the measured noise band',
    () => {
      const e = collectRoundEvidence(
        testRound([
          { axis: 'baseline', dev: 0.6, lb: 0.55, extraSeedDevs: [0.62, 0.61] },
          { axis: 'learning-rate', dev: 0.65, lb: 0.58, changes: lr(0.001, 0.002), gpuSeconds: 90, tokens: 1200 },
        ]),
      );
      expect(e.calibration.noise).toMatchObject({
        devStd: 0.01,
        devSource: 'anchor-seeds',
        lbStd: 0.01,
        lbSource: 'dev-proxy',
        seeds: 3,
      });
      // The LB difference is judged against a difference's noise; with LB never measured, a dev stand-in with df 0.
      expect(e.calibration.noise).toMatchObject({ lbDiffStd: 0.014142, lbDiffDf: 0, lbDiffSource: 'dev-proxy' });
      const c = e.candidateSummaries[1];
      expect(c).toMatchObject({
        devDelta: 0.05,
        lbDelta: 0.03,
        devVsAnchor: 5,
        lbVsAnchor: 2.121,
        diffLines: 2,
        cost: { gpuSeconds: 90, tokens: 1200 },
      });
      expect(c.submission).toEqual({ submissionId: 'sub-c1-r1-c1', status: 'scored', detail: null });
      expect(e.candidateSummaries[0]).toMatchObject({ isAnchor: true, devDelta: 0, lbDelta: 0 });
    },
  );

  it('given one anchor seed and no measured band, then the constitution floor stands in for the noise', () => {
    const e = collectRoundEvidence(
      testRound([
        { axis: 'baseline', dev: 0.6, lb: 0.55 },
        { axis: 'steps', dev: 0.607, lb: 0.556, changes: [{ path: 'optim.steps', from: 400, to: 600 }] },
      ]),
    );
    expect(e.calibration.noise).toMatchObject({ devStd: 0.005, devSource: 'floor', lbSource: 'floor', seeds: 1 });
    expect(e.candidateSummaries[1].devVsAnchor).toBe(1.4);
    expect(e.crossCandidatePatterns.axes).toEqual([
      expect.objectContaining({
        axis: 'steps',
        category: 'optimisation',
        devEffect: 0.007,
        lbEffect: 0.006,
        devBeyondNoise: false,
        lbBeyondNoise: false,
      }),
    ]);
  });

  it('pools this round’s anchor seeds with the band in force, weighted by degrees of freedom', () => {
    const policy = testPolicy({ noiseBand: { devStd: 0.02, lbStd: 0.03, seeds: 5, round: 1, devDf: 4, lbDf: 4 } });
    const pooled = collectRoundEvidence(
      testRound([{ axis: 'baseline', dev: 0.6, lb: 0.55, extraSeedDevs: [0.62, 0.61] }], { round: 2, policy }),
    );
    expect(pooled.calibration.noise).toMatchObject({
      devStd: 0.017321,
      devSource: 'pooled',
      devDf: 6,
      lbStd: 0.03,
      lbSource: 'policy',
      lbDf: 4,
      seeds: 3,
    });
    const single = collectRoundEvidence(testRound([{ axis: 'baseline', dev: 0.6, lb: 0.55 }], { round: 2, policy }));
    expect(single.calibration.noise).toMatchObject({ devStd: 0.02, devSource: 'policy', devDf: 4, seeds: 1 });
  });

  it('audits axes, frozen paths and budget use', () => {
    const inputs = testRound([
      { axis: 'baseline', dev: 0.6, lb: 0.55, gpuSeconds: 6000 },
      {
        axis: 'learning-rate',
        dev: 0.62,
        lb: 0.55,
        changes: [...lr(0.001, 0.002), { path: 'mix.equation', from: 1, to: 3 }],
        gpuSeconds: 5000,
      },
      {
        axis: 'data-mix',
        dev: 0.6,
        changes: [{ path: 'mix.gravity', from: 1, to: 2 }],
        filesChanged: ['recipe.yaml', 'pipeline/build.py'],
      },
      { axis: 'schedule', dev: 0.59, lb: 0.5, changes: [{ path: 'optim.schedule', from: 'constant', to: 'cosine' }] },
    ]);
    inputs.violations = [
      { candidateId: 'c1-r1-c3', path: 'harness/eval.py', kind: 'frozen-modified', detail: 'sha256 changed' },
    ];
    inputs.previousUse = { gpuSeconds: 100, tokens: 5 };
    const e = collectRoundEvidence(inputs);
    expect(e.designRationaleAudit.onAxis.map((a) => [a.candidateId, a.stayedOnAxis, a.offAxisPaths])).toEqual([
      ['c1-r1-c0', true, []],
      ['c1-r1-c1', false, ['mix.equation']],
      ['c1-r1-c2', true, []],
      ['c1-r1-c3', true, []],
    ]);
    expect(e.designRationaleAudit.frozenPathChecks[3]).toEqual({
      candidateId: 'c1-r1-c3',
      ok: false,
      violations: ['frozen-modified: harness/eval.py'],
    });
    const c3 = e.candidateSummaries[3];
    expect(c3.status).toBe('invalidated');
    expect(c3.lbDelta).toBeNull();
    expect(c3.failureModes).toContainEqual({
      kind: 'frozen-path-violated',
      detail: 'frozen-modified harness/eval.py: sha256 changed',
    });
    expect(e.designRationaleAudit.budget).toMatchObject({
      gpuSeconds: 11120,
      campaignGpuSeconds: 11220,
      campaignTokens: 5,
      submissions: 3,
      overBudget: ['gpuSeconds', 'tokens'],
    });
  });

  it('is deterministic: input order does not change the record or its hash', () => {
    const a = testRound([
      { axis: 'baseline', dev: 0.6, lb: 0.55, extraSeedDevs: [0.61] },
      { axis: 'learning-rate', dev: 0.1 + 0.2 + 0.33, lb: 0.58, changes: lr(0.001, 0.002) },
      { axis: 'schedule', dev: 0.61, lb: 0.5, changes: [{ path: 'optim.schedule', from: 'constant', to: 'cosine' }] },
    ]);
    const b = {
      ...a,
      planned: [...a.planned].reverse(),
      manifests: [...a.manifests].reverse(),
      scores: [...a.scores].reverse(),
      submissions: [...a.submissions].reverse(),
    };
    expect(contentHash(collectRoundEvidence(b))).toBe(contentHash(collectRoundEvidence(a)));
    expect(collectRoundEvidence(a).candidateSummaries[1].dev?.overall).toBe(0.63);
  });

  it('refuses inconsistent inputs naming the field and the problem', () => {
    const inputs = testRound([{ axis: 'baseline', dev: 0.6 }]);
    inputs.manifests[0] = { ...inputs.manifests[0], round: 3 };
    let err: unknown;
    try {
      collectRoundEvidence(inputs);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DomainError);
    expect((err as DomainError).issues).toEqual([
      { path: 'manifests.0.round', message: 'manifest of c1-r1-c0 is for round 3, not 1' },
    ]);
  });

  describe('leaderboard noise from the submissions actually made', () => {
    const standing = testPolicy().standingRecipe;
    const sha = contentHash(standing);
    const other = 'f'.repeat(64);

    it(
      'given earlier anchors of the same and of an older standing recipe, then the LB std is their pooled ' +
        'within-recipe spread',
      () => {
        const policy = testPolicy({
          standingLb: {
            recipeSha256: sha,
            scores: [
              { round: 1, candidateId: 'c1-r1-c0', recipeSha256: other, score: 0.5 },
              { round: 2, candidateId: 'c1-r2-c0', recipeSha256: other, score: 0.52 },
              { round: 3, candidateId: 'c1-r3-c0', recipeSha256: sha, score: 0.56 },
            ],
          },
          forRound: 4,
        });
        const e = collectRoundEvidence(
          testRound(
            [
              { axis: 'baseline', dev: 0.6, lb: 0.54 },
              { axis: 'learning-rate', dev: 0.6, lb: 0.6, changes: lr(0.001, 0.002) },
            ],
            { round: 4, policy },
          ),
        );
        // Groups: {0.5, 0.52} and {0.56, 0.54}: SS = 0.0002 + 0.0002 over df 2 → std 0.014142; a difference √2 × that.
        expect(e.calibration.noise).toMatchObject({
          lbStd: 0.014142,
          lbSource: 'anchor-replicates',
          lbDf: 2,
          lbDiffStd: 0.02,
          lbDiffDf: 2,
          lbDiffSource: 'replicates',
        });
        expect(e.calibration.reference).toMatchObject({ publicLb: 0.54, publicLbSource: 'anchor' });
      },
    );

    it(
      'given no anchor score this round, then explorers are compared ' + 'with the standing recipe’s replicate mean',
      () => {
        const policy = testPolicy({
          standingLb: {
            recipeSha256: sha,
            scores: [
              { round: 1, candidateId: 'c1-r1-c0', recipeSha256: sha, score: 0.5 },
              { round: 2, candidateId: 'c1-r2-c0', recipeSha256: sha, score: 0.52 },
            ],
          },
          forRound: 3,
        });
        const e = collectRoundEvidence(
          testRound(
            [
              { axis: 'baseline', dev: 0.6 },
              { axis: 'learning-rate', dev: 0.6, lb: 0.56, changes: lr(0.001, 0.002) },
            ],
            { round: 3, policy },
          ),
        );
        expect(e.calibration.reference).toMatchObject({ publicLb: 0.51, publicLbSource: 'standing-replicates' });
        expect(e.candidateSummaries[1].lbDelta).toBe(0.05);
      },
    );

    it(
      'given a confirmation run of a recorded gain, then the two measurements of that gain measure the ' +
        'paired difference noise',
      () => {
        const policy = testPolicy({
          forRound: 2,
          pendingConfirmations: [
            {
              candidateId: 'c1-r1-c3',
              round: 1,
              axis: 'learning-rate',
              changes: lr(0.001, 0.002),
              lbGain: 0.04,
              devGain: 0.01,
            },
          ],
        });
        const inputs = testRound(
          [
            { axis: 'baseline', dev: 0.6, lb: 0.5 },
            { axis: 'learning-rate', dev: 0.61, lb: 0.52, changes: lr(0.001, 0.002) },
          ],
          { round: 2, policy },
        );
        inputs.planned[1].prescribed = {
          kind: 'confirmation',
          of: 'c1-r1-c3',
          changes: lr(0.001, 0.002),
          hypothesis: 'confirm c1-r1-c3',
        };
        const e = collectRoundEvidence(inputs);
        // Gains 0.04 and 0.02: (0.02)² / 2 over one pair → std 0.014142.
        expect(e.calibration.noise).toMatchObject({
          lbDiffStd: 0.014142,
          lbDiffDf: 1,
          lbDiffSource: 'confirmation-pairs',
        });
        expect(e.candidateSummaries[1].prescribed).toMatchObject({ kind: 'confirmation', of: 'c1-r1-c3' });
        expect(e.candidateSummaries[0].prescribed).toBeUndefined();
      },
    );
  });
});
