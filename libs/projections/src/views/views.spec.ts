import { canonicalJson, PrivateLeaderboardUnsealed } from '@aevo/contracts';
import { ProjectionSet } from '../replay';
import {
  axisEffectsView,
  budgetView,
  campaignListView,
  candidatePageView,
  compareView,
  foldViews,
  lineageView,
  overviewView,
  scatterView,
  UnknownViewTarget,
  VIEW_NAMES,
  campaignView,
} from './index';
import { estimate } from './stats';
import { syntheticCampaignLog } from './synthetic-campaign';
import { campaignReport } from './report';
import { asStoredEvents } from '../sample-log';

import { C, ev, oneRound } from './views-fixture';
describe('view builders', () => {
  it(
    'scatter: every scored candidate at (dev, best public LB), the anchor at its mean LB, ' +
      'the noise band from the latest policy, the suspect marked',
    () => {
      const s = foldViews(oneRound());
      const v = scatterView(s, C);
      expect(v.points.map((p) => [p.candidateId, p.dev, p.publicLb, p.privateLb, p.marks])).toEqual([
        ['views-r1-c0', 0.6, 0.52, null, []],
        ['views-r1-c1', 0.65, 0.56, null, []],
        ['views-r1-c2', 0.7, 0.5, null, ['suspected']],
      ]);
      expect(v.anchor).toEqual({ round: 1, candidateId: 'views-r1-c0', dev: 0.6, publicLb: 0.51 });
      // ± 2σ (the constitution's decouplingNoiseMultiple) with σ dev 0.01, σ LB 0.02.
      expect(v.band).toMatchObject({
        multiple: 2,
        devLow: 0.58,
        devHigh: 0.62,
        lbLow: 0.47,
        lbHigh: 0.55,
        revision: 1,
      });
      expect(v.hypotheses.map((h) => [h.id, h.status, h.suspectCandidateId])).toEqual([
        ['h1', 'suspected', 'views-r1-c2'],
      ]);
    },
  );

  it('shows private scores only after the final audit unsealed them', () => {
    const events = [
      ...oneRound(),
      ev(
        PrivateLeaderboardUnsealed,
        {
          scores: [{ submissionId: 's1', candidateId: 'views-r1-c1', round: 1, publicScore: 0.56, privateScore: 0.54 }],
        },
        'leaderboard',
      ),
    ];
    const v = scatterView(foldViews(events), C);
    expect(v.privateUnsealed).toBe(true);
    expect(v.points.find((p) => p.candidateId === 'views-r1-c1')?.privateLb).toBe(0.54);
    expect(overviewView(foldViews(events), C).rounds[0]).toMatchObject({
      bestDev: 0.7,
      bestPublicLb: 0.56,
      bestPrivateLb: 0.54,
      anchorDev: 0.6,
      anchorPublicLb: 0.51,
    });
  });

  it('axis effects: paired differences to the round anchor per axis and knob; what the policy did', () => {
    const a = axisEffectsView(foldViews(oneRound()), C);
    expect(a.axes.map((r) => [r.axis, r.n, r.dev.mean, r.lb.mean, r.actions])).toEqual([
      ['learning-rate', 1, 0.05, 0.05, ['promoted']],
      ['synthetic-data', 1, 0.1, -0.01, []],
    ]);
    expect(a.knobs.map((k) => [k.knob, k.dev.mean, k.promoted])).toEqual([
      ['data.synthetic.count increase', 0.1, []],
      ['train.lr increase', 0.05, ['revision 1: 0.001 → 0.002']],
    ]);
  });

  it('estimates: mean and a 95% t interval of the mean', () => {
    expect(estimate([])).toEqual({ n: 0, mean: null, low: null, high: null });
    expect(estimate([0.2])).toEqual({ n: 1, mean: 0.2, low: null, high: null });
    // sd 1, n 3: half-width t(2) · 1/√3 = 4.303 / 1.7320508 = 2.4843377
    expect(estimate([1, 2, 3])).toEqual({ n: 3, mean: 2, low: -0.484338, high: 4.484338 });
  });

  it('lineage: the promotion linked to the candidate whose change it adopted', () => {
    const l = lineageView(foldViews(oneRound()), C);
    expect(l.revisions.map((r) => r.revision)).toEqual([0, 1]);
    expect(l.revisions[1].promotions).toEqual([
      { path: 'train.lr', from: 0.001, to: 0.002, candidates: ['views-r1-c1'] },
    ]);
    expect(l.revisions[1].decoupling).toEqual([
      { step: 'suspected', id: 'h1', domain: 'equation', suspectCandidateId: 'views-r1-c2' },
    ]);
    expect(l.standingRecipe).toEqual({ 'train.lr': 0.002 });
  });

  it(
    'budget: GPU-seconds from job terminals, tokens from manifests and ' +
      'the meta agent, submissions against the cap',
    () => {
      const b = budgetView(foldViews(oneRound()), C);
      expect(b.rounds).toEqual([
        expect.objectContaining({
          round: 1,
          gpuSeconds: 42.5,
          llmTokens: 3 * 120 + 350,
          submissions: 4,
          scored: 4,
          submissionCap: 4,
          cumulativeGpuSeconds: 42.5,
        }),
      ]);
      expect(b.totals).toEqual({ gpuSeconds: 42.5, llmTokens: 710, submissions: 4 });
      expect(overviewView(foldViews(oneRound()), C).jobs).toEqual({
        counts: { failed: 1, succeeded: 1 },
        live: [],
        failed: [
          { jobId: 'j2', candidateId: 'views-r1-c2', entrypoint: 'train', reason: 'diverged: NaN', logTail: 'nan' },
        ],
      });
    },
  );

  it(
    'candidate page: trace steps with their outcomes, jobs with log ' +
      'tails cut to the last 2000 characters, submissions',
    () => {
      const p = candidatePageView(foldViews(oneRound()), C, 'views-r1-c1');
      expect(p.trace).toEqual([
        { step: 0, tool: 'edit_recipe', input: { lr: 0.002 }, output: 'done', ok: true, llm: null },
        { step: 1, tool: 'train', input: {}, output: null, ok: null, llm: null },
      ]);
      expect(p.jobs).toHaveLength(1);
      expect(p.jobs[0].logTail).toHaveLength(2000);
      expect(p.jobs[0].logTail.endsWith('END')).toBe(true);
      expect(p.anchor).toEqual({ candidateId: 'views-r1-c0', dev: 0.6, publicLb: 0.51, devDelta: 0.05, lbDelta: 0.05 });
      expect(p.submissions.map((s) => [s.submissionId, s.publicScore])).toEqual([['s1', 0.56]]);
      expect(candidatePageView(foldViews(oneRound()), C, 'views-r1-c2').jobs[0]).toMatchObject({
        status: 'failed',
        reason: 'diverged: NaN',
        gpuSeconds: 12.5,
      });
    },
  );

  it('compare: two candidates or two rounds side by side; unknown targets name the field', () => {
    const s = foldViews(oneRound());
    const c = compareView(s, C, 'candidates', 'views-r1-c1', 'views-r1-c2');
    expect([c.a.dev, c.a.publicLb, c.b.dev, c.b.publicLb]).toEqual([0.65, 0.56, 0.7, 0.5]);
    expect(c.b.cost).toEqual({ gpuSeconds: 12.5, llmTokens: 120, jobs: 1, submissions: 1 });
    expect(compareView(s, C, 'rounds', '1', '1').a).toMatchObject({ dev: 0.7, publicLb: 0.56 });
    const thrown = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return err instanceof UnknownViewTarget ? [err.field, err.message] : err;
      }
      return null;
    };
    expect(thrown(() => compareView(s, C, 'rounds', '1', '9'))).toEqual(['round', 'campaign "views" has no round 9']);
    expect(thrown(() => candidatePageView(s, C, 'nope'))).toEqual([
      'candidateId',
      'campaign "views" has no candidate "nope"',
    ]);
    expect(thrown(() => overviewView(s, 'constructor'))).toEqual(['campaignId', 'no campaign "constructor"']);
  });

  it(
    'agrees with the candidates and trajectory projections over a ' + 'synthetic campaign with a confirmed decoupling',
    () => {
      const log = syntheticCampaignLog({ campaignId: 'syn', rounds: 4, workersPerRound: 5, seed: 9 });
      const s = foldViews(log);
      const set = new ProjectionSet().applyAll(asStoredEvents(log));
      const rows = set.snapshot('candidates') as Record<string, { dev: number | null; publicLb: number | null }>;
      const scatter = scatterView(s, 'syn');
      const scoredIds = Object.keys(rows).filter((id) => rows[id].dev !== null && rows[id].publicLb !== null);
      expect(scatter.points.map((p) => p.candidateId).sort()).toEqual(scoredIds.sort());
      for (const p of scatter.points)
        expect([p.dev, p.publicLb]).toEqual([rows[p.candidateId].dev, rows[p.candidateId].publicLb]);
      const traj = Object.values(
        set.snapshot('trajectory') as Record<
          string,
          { round: number; bestDev: number | null; bestPublicLb: number | null; privateLbOfBestPublic: number | null }
        >,
      ).sort((a, b) => a.round - b.round);
      expect(overviewView(s, 'syn').rounds.map((r) => [r.bestDev, r.bestPublicLb])).toEqual(
        traj.map((t) => [t.bestDev, t.bestPublicLb]),
      );
      expect(scatter.hypotheses.map((h) => h.status)).toEqual(['confirmed']);
      expect(scatter.points.filter((p) => p.marks.includes('probed'))).toHaveLength(2);
      expect(campaignListView(s)).toEqual([
        expect.objectContaining({ campaignId: 'syn', status: 'completed', rounds: 4, candidates: 20 }),
      ]);
    },
  );

  it(
    'is a function of the log: the same campaign re-created (new ids and ' +
      'times) gives byte-identical views and report',
    () => {
      const a = syntheticCampaignLog({ campaignId: 'det', rounds: 3, workersPerRound: 4, seed: 4 });
      const b = syntheticCampaignLog({ campaignId: 'det', rounds: 3, workersPerRound: 4, seed: 4 });
      expect(a[0].id).not.toBe(b[0].id);
      const [sa, sb] = [foldViews(a), foldViews(b)];
      for (const name of VIEW_NAMES)
        expect(canonicalJson(campaignView(sa, 'det', name))).toBe(canonicalJson(campaignView(sb, 'det', name)));
      expect(campaignReport(a, 'det', '/* chart */').sha256).toBe(campaignReport(b, 'det', '/* chart */').sha256);
    },
  );
});
