import { foldViews } from './campaign-fold';
import { campaignDetailView, campaignSummaries, candidateRowsView, jobRowsView } from './rest-views';

const ev = (type: string, data: unknown, campaignId = 'c1') => ({ type, campaignId, data });

const policy = { revision: 0, deadEnds: [], objective: 'raise-dev-and-lb', promotionThreshold: 0.01 };
const manifest = (candidateId: string, overall: number, equation: number) => ({
  status: 'completed',
  recipeChanges: [{ path: 'lr', from: 0.001, to: 0.002 }],
  failureModes: [],
  checkpoints: [],
  chosenCheckpoint: {
    checkpoint: 'step-000100',
    seed: 1,
    criterion: 'mean',
    reason: 'best',
    dev: { overall, domains: { equation } },
  },
  candidateId,
});
const started = ev('CampaignStarted', {
  config: { campaignId: 'c1', rounds: 2, workersPerRound: 2 },
  constitution: { rules: {} },
  constitutionSha256: 'a'.repeat(64),
  initialPolicy: policy,
});
const roundStarted = (candidates: Array<{ candidateId: string; index: number; axis: string; isAnchor: boolean }>) =>
  ev('RoundStarted', { round: 1, policyRevision: 0, candidates: candidates.map((c) => ({ ...c, seeds: [1] })) });

describe('the API resource routes, built on the views fold', () => {
  it('given a round, lists candidates, jobs and the trajectory, and hides the private LB until the final audit', () => {
    const events = [
      started,
      roundStarted([
        { candidateId: 'c1-r1-c0', index: 0, axis: 'baseline', isAnchor: true },
        { candidateId: 'c1-r1-c1', index: 1, axis: 'learning-rate', isAnchor: false },
      ]),
      ev('JobRequested', { spec: { jobId: 'j1', candidateId: 'c1-r1-c1', round: 1, entrypoint: 'train' } }),
      ev('JobStarted', { jobId: 'j1', attempt: 1 }),
      ev('JobFailed', { jobId: 'j1', gpuSeconds: 3, wallSeconds: 4, logTail: 'DIVERGED', reason: 'diverged' }),
      ev('ManifestSubmitted', { candidateId: 'c1-r1-c0', manifest: manifest('c1-r1-c0', 0.5, 0.2) }),
      ev('ManifestSubmitted', { candidateId: 'c1-r1-c1', manifest: manifest('c1-r1-c1', 0.6, 0.4) }),
      ev('SubmissionRequested', { submissionId: 's1', candidateId: 'c1-r1-c1', round: 1 }),
      ev('LeaderboardScored', { submissionId: 's1', candidateId: 'c1-r1-c1', round: 1, publicScore: 0.55 }),
      ev('PrivateLeaderboardUnsealed', {
        scores: [{ submissionId: 's1', candidateId: 'c1-r1-c1', round: 1, publicScore: 0.55, privateScore: 0.53 }],
      }),
    ];
    const state = foldViews(events);
    expect(candidateRowsView(state, 'c1', 1)[1]).toMatchObject({
      candidateId: 'c1-r1-c1',
      status: 'completed',
      publicLb: 0.55,
      gpuSeconds: 3,
      jobs: { running: 0, done: 0, failed: 1 },
    });
    expect(jobRowsView(state, 'c1')).toEqual([expect.objectContaining({ status: 'failed', logTail: 'DIVERGED' })]);
    const detail = campaignDetailView(state, 'c1');
    expect(detail.rounds[0]).toMatchObject({ bestDev: 0.6, anchorDev: 0.5, bestPublicLb: 0.55, status: 'running' });
    expect(detail.trajectory).toEqual([{ round: 1, dev: 0.6, publicLb: 0.55, privateLb: null, anchorDev: 0.5 }]);
    foldViews(
      [
        ev('CampaignCompleted', {
          rounds: 1,
          reason: 'rounds-exhausted',
          bestCandidateId: 'c1-r1-c1',
          bestPublicLb: 0.55,
          bestPrivateLb: 0.53,
        }),
      ],
      state,
    );
    expect(campaignDetailView(state, 'c1').trajectory[0].privateLb).toBe(0.53);
    expect(campaignSummaries(state)).toEqual([
      expect.objectContaining({ campaignId: 'c1', status: 'completed', rounds: 1, bestPublicLb: 0.55 }),
    ]);
  });

  it('ignores events of campaigns it has not seen start and marks invalidated candidates', () => {
    const state = foldViews([roundStarted([]), { ...roundStarted([]), campaignId: 'other' }]);
    expect(Object.keys(state.campaigns)).toEqual([]);
    foldViews(
      [
        started,
        roundStarted([{ candidateId: 'x', index: 0, axis: 'baseline', isAnchor: true }]),
        ev('FrozenPathViolated', { candidateId: 'x', path: 'harness/metric.py', kind: 'frozen-modified', detail: 'h' }),
        ev('ManifestSubmitted', { candidateId: 'x', manifest: manifest('x', 0.9, 0.9) }),
      ],
      state,
    );
    expect(candidateRowsView(state, 'c1')[0].status).toBe('invalidated');
    expect(campaignDetailView(state, 'c1').violations).toEqual([
      { candidateId: 'x', path: 'harness/metric.py', kind: 'frozen-modified', detail: 'h' },
    ]);
  });
});
