import { applyToDashboard, campaignList, emptyDashboard, trajectory } from './dashboard-model';

let pos = 0;
const ev = (type: string, data: unknown, source = 'orchestrator') =>
  ({
    id: `00000000-0000-7000-8000-${String(++pos).padStart(12, '0')}`,
    type,
    schemaVersion: 1,
    streamId: 'campaign-c1',
    campaignId: 'c1',
    causationId: null,
    correlationId: null,
    time: `2026-11-27T00:00:${String(pos).padStart(2, '0')}.000Z`,
    source,
    data,
    position: pos,
  }) as never;

const policy = {
  revision: 0,
  deadEnds: [],
  objective: 'raise-dev-and-lb',
  promotionThreshold: 0.01,
  rationale: 'initial',
};
const manifest = (candidateId: string, overall: number, equation: number) => ({
  status: 'completed',
  recipeChanges: [{ path: 'lr', from: 0.001, to: 0.002 }],
  failureModes: [],
  chosenCheckpoint: {
    checkpoint: 'step-000100',
    seed: 1,
    criterion: 'mean',
    reason: 'best',
    dev: { overall, domains: { equation } },
  },
  candidateId,
});

describe('dashboard read model', () => {
  it('given a round of events, shows candidates, jobs, trajectory and hides private LB until the final audit', () => {
    const m = emptyDashboard();
    const events = [
      ev('CampaignStarted', {
        config: { campaignId: 'c1', rounds: 2, substratePath: 's', workersPerRound: 2 },
        constitutionSha256: 'a'.repeat(64),
        initialPolicy: policy,
      }),
      ev('RoundStarted', {
        round: 1,
        policyRevision: 0,
        candidates: [
          { candidateId: 'c1-r1-c0', index: 0, axis: 'baseline', isAnchor: true, seeds: [1] },
          { candidateId: 'c1-r1-c1', index: 1, axis: 'learning-rate', isAnchor: false, seeds: [1] },
        ],
      }),
      ev('JobRequested', { spec: { jobId: 'j1', candidateId: 'c1-r1-c1', round: 1, entrypoint: 'train' } }, 'worker'),
      ev('JobStarted', { jobId: 'j1' }, 'dispatch'),
      ev('JobFailed', { jobId: 'j1', gpuSeconds: 3, logTail: 'DIVERGED', reason: 'diverged' }, 'dispatch'),
      ev('ManifestSubmitted', { candidateId: 'c1-r1-c0', manifest: manifest('c1-r1-c0', 0.5, 0.2) }, 'worker'),
      ev('ManifestSubmitted', { candidateId: 'c1-r1-c1', manifest: manifest('c1-r1-c1', 0.6, 0.4) }, 'worker'),
      ev('SubmissionRequested', { submissionId: 's1', candidateId: 'c1-r1-c1', round: 1 }),
      ev(
        'LeaderboardScored',
        { submissionId: 's1', candidateId: 'c1-r1-c1', round: 1, publicScore: 0.55 },
        'leaderboard',
      ),
      ev(
        'PrivateLeaderboardUnsealed',
        { scores: [{ submissionId: 's1', candidateId: 'c1-r1-c1', round: 1, publicScore: 0.55, privateScore: 0.53 }] },
        'leaderboard',
      ),
    ];
    events.forEach((e) => applyToDashboard(m, e));
    const view = m.campaigns.c1;
    expect(view.candidates['c1-r1-c1']).toMatchObject({
      status: 'submitted',
      publicLb: 0.55,
      gpuSeconds: 3,
      jobs: { running: 0, done: 0, failed: 1 },
    });
    expect(view.jobs.j1).toMatchObject({ status: 'failed', logTail: 'DIVERGED' });
    expect(view.rounds[1]).toMatchObject({ bestDev: 0.6, anchorDev: 0.5, bestPublicLb: 0.55 });
    expect(trajectory(view)).toEqual([{ round: 1, dev: 0.6, publicLb: 0.55, privateLb: null, anchorDev: 0.5 }]);
    applyToDashboard(
      m,
      ev('CampaignCompleted', {
        rounds: 1,
        reason: 'rounds-exhausted',
        bestCandidateId: 'c1-r1-c1',
        bestPublicLb: 0.55,
        bestPrivateLb: 0.53,
      }),
    );
    expect(trajectory(view)[0].privateLb).toBe(0.53);
    expect(campaignList(m)).toEqual([
      expect.objectContaining({ campaignId: 'c1', status: 'completed', rounds: 1, bestPublicLb: 0.55 }),
    ]);
  });

  it('ignores events of campaigns it has not seen start and marks invalidated candidates', () => {
    const m = emptyDashboard();
    applyToDashboard(m, {
      ...(ev('RoundStarted', { round: 1, candidates: [] }) as object),
      campaignId: 'other',
    } as never);
    expect(m.campaigns).toEqual({});
    applyToDashboard(
      m,
      ev('CampaignStarted', {
        config: { campaignId: 'c1', rounds: 1 },
        constitutionSha256: 'b'.repeat(64),
        initialPolicy: policy,
      }),
    );
    applyToDashboard(
      m,
      ev('RoundStarted', {
        round: 1,
        policyRevision: 0,
        candidates: [{ candidateId: 'x', index: 0, axis: 'baseline', isAnchor: true, seeds: [1] }],
      }),
    );
    applyToDashboard(
      m,
      ev(
        'FrozenPathViolated',
        { candidateId: 'x', path: 'harness/metric.py', kind: 'frozen-modified', detail: 'hash changed' },
        'substrate',
      ),
    );
    applyToDashboard(m, ev('ManifestSubmitted', { candidateId: 'x', manifest: manifest('x', 0.9, 0.9) }, 'worker'));
    expect(m.campaigns.c1.candidates.x.status).toBe('invalidated');
    expect(m.campaigns.c1.violations).toHaveLength(1);
  });
});
