import { collectRoundEvidence } from './collect';
import { DOMAINS, testPolicy, testRound } from './fixtures';

const domainsAt = (base: number, over: Record<string, number> = {}) => ({
  ...Object.fromEntries(DOMAINS.map((d) => [d, base])),
  ...over,
});
const lr = (from: number, to: number) => [{ path: 'optim.lr', from, to }];

describe('collectRoundEvidence: dev/LB calibration, decoupling and surprises', () => {
  it(
    'given dev up beyond noise and the LB flat, then proxy decoupling is flagged with the domains that ' +
      'carry the dev gain',
    () => {
      const e = collectRoundEvidence(
        testRound([
          {
            axis: 'baseline',
            dev: 0.6,
            domains: domainsAt(0.6),
            lb: 0.55,
            lbDomains: domainsAt(0.55),
            extraSeedDevs: [0.605, 0.595],
          },
          {
            axis: 'synthetic-data',
            dev: 0.68,
            domains: domainsAt(0.6, { equation: 0.95 }),
            lb: 0.552,
            lbDomains: domainsAt(0.55, { equation: 0.56 }),
            changes: [{ path: 'synthetic.equation', from: 0, to: 2000 }],
          },
          { axis: 'data-mix', dev: 0.61, lb: 0.553, changes: [{ path: 'mix.gravity', from: 1, to: 2 }] },
        ]),
      );
      const pd = e.calibration.proxyDecoupling;
      expect(pd.flagged).toBe(true);
      expect(pd.candidates).toEqual(['c1-r1-c1']);
      expect(pd.domains).toEqual(['equation']);
      expect(pd.reason).toMatch(/c1-r1-c1 \(synthetic-data\) dev \+0\.0800/);
      const eq = e.calibration.perDomain.find((d) => d.domain === 'equation');
      expect(eq).toEqual({
        domain: 'equation',
        candidateId: 'c1-r1-c1',
        devGain: 0.35,
        lbGain: 0.01,
        devBeyondNoise: true,
        lbBeyondNoise: false,
      });
    },
  );

  it('given dev and LB rising together beyond noise, then nothing is flagged', () => {
    const e = collectRoundEvidence(
      testRound([
        { axis: 'baseline', dev: 0.6, lb: 0.55 },
        { axis: 'learning-rate', dev: 0.68, lb: 0.62, changes: lr(0.001, 0.003) },
      ]),
    );
    expect(e.calibration.proxyDecoupling).toMatchObject({ flagged: false, candidates: [], domains: [] });
    expect(e.calibration.proxyDecoupling.reason).toMatch(
      /no scored candidate raised dev beyond noise \(overall 2σ, a domain 4σ\) without the public LB following/,
    );
  });

  it(
    'given dev beyond noise and an LB gain just short of it, then it is not decoupling (the LB followed ' +
      'within noise)',
    () => {
      // σ = 0.02 on both sides: dev +0.045 clears 2σ, LB +0.035 does not, but the shortfall 0.01 is well inside the
      // noise of the difference (2·√2·0.02).
      const policy = testPolicy({ noiseBand: { devStd: 0.02, lbStd: 0.02, seeds: 5, round: 1, devDf: 4, lbDf: 4 } });
      const e = collectRoundEvidence(
        testRound(
          [
            { axis: 'baseline', dev: 0.5, lb: 0.45 },
            { axis: 'steps', dev: 0.545, lb: 0.485, changes: [{ path: 'train.steps', from: 600, to: 900 }] },
          ],
          { policy, round: 2 },
        ),
      );
      expect(e.calibration.proxyDecoupling.flagged).toBe(false);
    },
  );

  it(
    'given one domain’s dev far beyond its noise while overall dev is flat and the LB falls, then it is ' +
      'domain-level decoupling',
    () => {
      const policy = testPolicy({ noiseBand: { devStd: 0.02, lbStd: 0.02, seeds: 5, round: 1, devDf: 4, lbDf: 4 } });
      const e = collectRoundEvidence(
        testRound(
          [
            { axis: 'baseline', dev: 0.5, domains: domainsAt(0.5, { equation: 0.37 }), lb: 0.45 },
            {
              axis: 'synthetic-data',
              dev: 0.49,
              domains: domainsAt(0.44, { equation: 0.73 }),
              lb: 0.37,
              changes: [{ path: 'data.synthetic.count', from: 0, to: 4000 }],
            },
            {
              axis: 'data-mix',
              dev: 0.5,
              domains: domainsAt(0.5, { equation: 0.45 }),
              lb: 0.44,
              changes: [{ path: 'data.mix.equation', from: 1, to: 2 }],
            },
          ],
          { policy, round: 2 },
        ),
      );
      // σ_domain = 0.02·√6 ≈ 0.049; equation +0.36 clears 4σ_domain, the data-mix candidate's +0.08 does not.
      expect(e.calibration.noise.domainDevStd.equation).toBe(0.04899);
      expect(e.calibration.proxyDecoupling).toMatchObject({
        flagged: true,
        candidates: ['c1-r2-c1'],
        domains: ['equation'],
      });
      expect(e.calibration.proxyDecoupling.reason).toMatch(/equation dev \+0\.3600/);
    },
  );

  it('computes the dev−LB gap and the Spearman rank correlation across scored candidates', () => {
    const e = collectRoundEvidence(
      testRound([
        { axis: 'baseline', dev: 0.6, lb: 0.5 },
        { axis: 'learning-rate', dev: 0.7, lb: 0.52, changes: lr(0.001, 0.002) },
        {
          axis: 'schedule',
          dev: 0.65,
          lb: 0.56,
          changes: [{ path: 'optim.schedule', from: 'constant', to: 'cosine' }],
        },
        { axis: 'steps', dev: 0.55, lb: 0.49, changes: [{ path: 'optim.steps', from: 400, to: 300 }] },
        { axis: 'warmup', dev: 0.58, changes: [{ path: 'optim.warmup', from: 0, to: 50 }] },
      ]),
    );
    // dev ranks 2,4,3,1 vs LB ranks 2,3,4,1 → ρ = 1 − 6·2/(4·15) = 0.8
    expect(e.calibration.rankCorrelation).toBe(0.8);
    expect(e.calibration.scoredCandidates).toBe(4);
    expect(e.calibration.devLbGap).toBe(0.1075);
    expect(e.calibration.anchorDevLbGap).toBe(0.1);
    expect(e.candidateSummaries[4].submission.status).toBe('not-submitted');
  });

  it('lists results outside the band the policy predicted as surprises', () => {
    const policy = testPolicy({
      predictedBand: { dev: { low: 0.58, high: 0.64 }, publicLb: { low: 0.53, high: 0.57 }, basis: 'test' },
    });
    const e = collectRoundEvidence(
      testRound(
        [
          { axis: 'baseline', dev: 0.6, lb: 0.55 },
          { axis: 'learning-rate', dev: 0.7, lb: 0.56, changes: lr(0.001, 0.002) },
          {
            axis: 'schedule',
            dev: 0.61,
            lb: 0.5,
            changes: [{ path: 'optim.schedule', from: 'constant', to: 'cosine' }],
          },
        ],
        { policy },
      ),
    );
    expect(e.surprises.map((s) => [s.candidateId, s.metric, s.direction])).toEqual([
      ['c1-r1-c1', 'dev', 'above'],
      ['c1-r1-c2', 'publicLb', 'below'],
    ]);
    expect(e.surprises[0].note).toMatch(/predicted by policy revision 0/);
  });
});
