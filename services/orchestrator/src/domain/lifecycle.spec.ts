import fc from 'fast-check';
import {
  CampaignConfig,
  contentHash,
  createEvent,
  DomainError,
  SnapshotDamaged,
  SubstrateRejected,
  type Constitution,
  type EventEnvelope,
  type RollingPolicy,
} from '@aevo/contracts';
import { DeciderSpecification } from '@aevo/testkit';
import { factsFor } from '../../test/fixtures';
import { campaignDecider, evolve, initialCampaignState, type CampaignEvent, type CampaignState } from './campaign';
import { applyFact, emptyFacts, foldFacts, spentOf, type CampaignFacts } from './facts';
import { planRound, roundSeed } from './planning';

const config = CampaignConfig.parse({
  campaignId: 'c1',
  substratePath: 'substrate/simulated',
  constitutionPath: 'constitutions/default.yaml',
  rounds: 2,
  workersPerRound: 4,
  axes: ['learning-rate', 'schedule', 'data-mix'],
  seed: 42,
  budgets: { gpuSeconds: 1000, llmTokens: 0, submissionsPerRound: 2 },
});
const constitution: Constitution = {
  name: 'default',
  version: '1',
  text: 'The leaderboard is authoritative.',
  rules: {
    leaderboardAuthoritative: true,
    plateauRoundsBeforeRotation: 2,
    deadEndRegistryOnlyGrows: true,
    promotionRequiresLbGain: true,
    minThresholdNoiseMultiple: 2,
    decouplingNoiseMultiple: 2,
    noiseStdFloor: 0.005,
  },
};
const spec = DeciderSpecification(campaignDecider);
const code = (c: string) => (err: unknown) => err instanceof DomainError && err.code === c;

const startedWith = (cfg: CampaignConfig): CampaignEvent =>
  spec
    .given([])
    .when({
      type: 'StartCampaign',
      config: cfg,
      constitution,
      constitutionSha256: 'a'.repeat(64),
      standingRecipe: { lr: 0.001 },
      receivedAt: new Date('2026-12-07T08:00:00Z'),
    })
    .then(() => undefined)[0];
const started = startedWith(config);
const policy0 = (started.type === 'CampaignStarted' ? started.data.initialPolicy : null) as RollingPolicy;
const revised = (round: number, patch: Partial<RollingPolicy> = {}): RollingPolicy => ({
  ...policy0,
  revision: round,
  forRound: round + 1,
  ...patch,
});
const round1: CampaignEvent = {
  type: 'RoundStarted',
  data: {
    round: 1,
    policyRevision: 0,
    policySha256: contentHash(policy0),
    seed: roundSeed(42, 1),
    candidates: planRound('c1', 1, roundSeed(42, 1), 4, policy0),
  },
};
const advance = (facts: CampaignFacts) => ({ type: 'Advance' as const, campaignId: 'c1', facts });
const fold = (events: CampaignEvent[]): CampaignState => events.reduce(evolve, initialCampaignState());

const { forked, manifest, workerFailed, violated, policyRevised, evidence, scored, jobDone, jobFailed, unsealed } =
  factsFor('c1');
const round1Done = (devs = [0.5, 0.6, 0.7, 0.4]) => [
  ...[0, 1, 2, 3].map((i) => forked(1, i)),
  ...devs.map((d, i) => manifest(1, i, d)),
];

describe('Advance: starting rounds', () => {
  it('starts round 1 under revision 0 as soon as the campaign has started', () => {
    spec.given([started]).when(advance(emptyFacts())).then([round1]);
  });

  it('waits for StartRound when rounds start manually', () => {
    spec
      .given([startedWith({ ...config, roundStart: 'manual' })])
      .when(advance(emptyFacts()))
      .thenNothing();
  });

  it('does nothing for a campaign that never started, was aborted or completed', () => {
    spec.given([]).when(advance(emptyFacts())).thenNothing();
    spec
      .given([started, { type: 'CampaignAborted', data: { reason: 'stop' } }])
      .when(advance(emptyFacts()))
      .thenNothing();
    spec
      .given([started, { type: 'CampaignPaused', data: { reason: 'wait' } }])
      .when(advance(emptyFacts()))
      .thenNothing();
  });
});

describe('Advance: a rejected substrate', () => {
  const rejected = (): CampaignFacts =>
    foldFacts([
      createEvent(
        SubstrateRejected,
        { substratePath: 'substrate/broken', issues: [{ path: 'entrypoints.train', message: 'missing' }] },
        { campaignId: 'c1', streamId: 'substrate-c1', source: 'substrate' },
      ),
    ]);

  it('aborts the campaign, naming the substrate and its problems, instead of waiting for forks that never come', () => {
    spec
      .given([started, round1])
      .when(advance(rejected()))
      .then([
        {
          type: 'CampaignAborted',
          data: { reason: 'substrate rejected: substrate/broken: entrypoints.train: missing' },
        },
      ]);
  });

  it('aborts a paused campaign too, and does nothing once aborted', () => {
    spec
      .given([started, { type: 'CampaignPaused', data: { reason: 'wait' } }])
      .when(advance(rejected()))
      .then([
        {
          type: 'CampaignAborted',
          data: { reason: 'substrate rejected: substrate/broken: entrypoints.train: missing' },
        },
      ]);
    spec
      .given([started, { type: 'CampaignAborted', data: { reason: 'stop' } }])
      .when(advance(rejected()))
      .thenNothing();
  });
});

describe('Advance: a snapshot damaged on the host', () => {
  const damaged = (outcome: 'rebuilt' | 'unrecoverable', sourceSnapshotId: string | null) =>
    createEvent(
      SnapshotDamaged,
      {
        snapshotId: 'a'.repeat(64),
        files: [{ path: 'harness/metric.py', expected: 'b'.repeat(64), actual: 'c'.repeat(64) }],
        moreFiles: 0,
        detectedAt: 'fork',
        outcome,
        quarantinedAt: '/h/snapshots/.quarantine/x',
        sourceSnapshotId,
      },
      { campaignId: 'c1', streamId: 'substrate:c1', source: 'substrate' },
    );
  const reason =
    'substrate snapshot damaged: snapshot aaaaaaaaaaaa… damaged (found at fork): harness/metric.py (expected bbbbbbbbbbbb…, found cccccccccccc…); ' +
    'the source now snapshots as dddddddddddd…, so it cannot be rebuilt';

  it('given an unrecoverable damage, when advanced, then the campaign aborts naming the damaged file', () => {
    spec
      .given([started, round1])
      .when(advance(foldFacts([damaged('unrecoverable', 'd'.repeat(64))])))
      .then([{ type: 'CampaignAborted', data: { reason } }]);
  });

  it('given a snapshot that was rebuilt (same id), when advanced, then the campaign goes on', () => {
    spec
      .given([started, round1])
      .when(advance(foldFacts([damaged('rebuilt', 'a'.repeat(64))])))
      .thenNothing();
    spec
      .given([started])
      .when(advance(foldFacts([damaged('rebuilt', 'a'.repeat(64))])))
      .then([round1]);
  });

  it('given an unrecoverable damage during the final audit, then it aborts too, unless the private scores are in', () => {
    const auditing: CampaignEvent = {
      type: 'FinalAuditStarted',
      data: { reason: 'rounds-exhausted', rounds: 1, spent: { gpuSeconds: 0, llmTokens: 0 }, exhausted: [] },
    };
    const closed: CampaignEvent = { type: 'RoundClosed', data: { round: 1, policyRevision: 0, bestPublicLb: null } };
    spec
      .given([started, round1, closed, auditing])
      .when(advance(foldFacts([damaged('unrecoverable', null)])))
      .then((events) =>
        expect(events).toEqual([
          {
            type: 'CampaignAborted',
            data: { reason: expect.stringMatching(/harness\/metric\.py .*the source no longer loads/) },
          },
        ]),
      );
    const facts = foldFacts([damaged('unrecoverable', null), unsealed([])]);
    spec
      .given([started, round1, closed, auditing])
      .when(advance(facts))
      .then((events) => expect(events.map((e) => e.type)).toEqual(['CampaignCompleted']));
  });

  it('keeps the first unrecoverable report (a later one does not change the reason)', () => {
    const facts = foldFacts([damaged('unrecoverable', 'd'.repeat(64)), damaged('unrecoverable', null)]);
    expect(facts.snapshotLost).toMatch(/dddddddddddd/);
  });
});

describe('Advance: submissions', () => {
  it('waits while any candidate of the round has no manifest, failure or violation', () => {
    spec
      .given([started, round1])
      .when(advance(foldFacts(round1Done().slice(0, 7))))
      .thenNothing();
  });

  it('submits the anchor, then the best by the criterion, within the quota', () => {
    spec
      .given([started, round1])
      .when(advance(foldFacts(round1Done())))
      .then((events) => {
        expect(events.map((e) => e.type)).toEqual(['SubmissionRequested', 'SubmissionRequested']);
        expect(
          events.map(
            (e) =>
              e.type === 'SubmissionRequested' && [
                e.data.candidateId,
                e.data.submissionId,
                e.data.checkpoint,
                e.data.sandboxPath,
              ],
          ),
        ).toEqual([
          ['c1-r1-c0', 'sub-c1-r1-c0', 'runs/s0/step-000008', '/sb/c1-r1-c0'],
          ['c1-r1-c2', 'sub-c1-r1-c2', 'runs/s2/step-000008', '/sb/c1-r1-c2'],
        ]);
        expect(events[0].type === 'SubmissionRequested' && events[0].data.reason).toMatch(/anchor/);
      });
  });

  it('ranks by the policy’s reweighted criterion when the policy in force asks for it', () => {
    const p1 = revised(1, { selectionCriterion: { kind: 'reweighted', weights: { gravity: 1, cipher: 0 } } });
    const r2: CampaignEvent = {
      type: 'RoundStarted',
      data: {
        round: 2,
        policyRevision: 1,
        policySha256: contentHash(p1),
        seed: 1,
        candidates: planRound('c1', 2, 1, 4, p1),
      },
    };
    const closed: CampaignEvent = { type: 'RoundClosed', data: { round: 1, policyRevision: 1, bestPublicLb: 0.5 } };
    const facts = foldFacts([
      policyRevised(1, p1),
      ...[0, 1, 2, 3].map((i) => forked(2, i)),
      manifest(2, 0, 0.5),
      // Higher overall dev, lower on the domain the criterion weighs.
      manifest(2, 1, 0.9, { domains: { gravity: 0.3, cipher: 1 } }),
      manifest(2, 2, 0.6, { domains: { gravity: 0.8, cipher: 0.4 } }),
      manifest(2, 3, 0.2),
    ]);
    spec
      .given([started, round1, closed, r2])
      .when(advance(facts))
      .then((events) =>
        expect(events.map((e) => e.type === 'SubmissionRequested' && e.data.candidateId)).toEqual([
          'c1-r2-c0',
          'c1-r2-c2',
        ]),
      );
  });

  it('never submits failed, invalidated or lost candidates, and submits fewer when fewer are submittable', () => {
    const facts = foldFacts([
      ...[0, 1, 2, 3].map((i) => forked(1, i)),
      manifest(1, 0, 0.5, { status: 'failed' }),
      manifest(1, 1, 0.9),
      violated(1, 1),
      workerFailed(1, 2),
      manifest(1, 3, 0.1),
    ]);
    spec
      .given([started, round1])
      .when(advance(facts))
      .then((events) =>
        expect(events.map((e) => e.type === 'SubmissionRequested' && e.data.candidateId)).toEqual(['c1-r1-c3']),
      );
    // Invalidated before its manifest: done without one.
    const none = foldFacts([...[0, 1, 2, 3].map((i) => violated(1, i))]);
    spec.given([started, round1]).when(advance(none)).thenNothing();
  });

  it('chooses once: a second Advance with the same or more facts requests nothing more', () => {
    const facts = foldFacts(round1Done());
    const first = spec
      .given([started, round1])
      .when(advance(facts))
      .then(() => undefined);
    spec
      .given([started, round1, ...first])
      .when(advance(facts))
      .thenNothing();
    spec
      .given([started, round1, ...first])
      .when(advance(applyFact(foldFacts(round1Done()), scored(1, 0, 0.5))))
      .thenNothing();
  });

  it('holds submissions while paused and requests them after the resume', () => {
    const paused: CampaignEvent = { type: 'CampaignPaused', data: { reason: 'look' } };
    spec
      .given([started, round1, paused])
      .when(advance(foldFacts(round1Done())))
      .thenNothing();
    spec
      .given([started, round1, paused, { type: 'CampaignResumed', data: {} }])
      .when(advance(foldFacts(round1Done())))
      .then((events) => expect(events).toHaveLength(2));
  });
});

describe('Advance: closing rounds and the final audit', () => {
  const subs = spec
    .given([started, round1])
    .when(advance(foldFacts(round1Done())))
    .then(() => undefined);
  const p1 = revised(1);
  const afterRound1 = () => [...round1Done(), scored(1, 0, 0.5), scored(1, 2, 0.55), evidence(1), policyRevised(1, p1)];

  it('closes the round when its policy revision is recorded and starts the next one under it', () => {
    const facts = foldFacts(afterRound1());
    spec
      .given([started, round1, ...subs])
      .when(advance(facts))
      .then([
        {
          type: 'RoundClosed',
          data: {
            round: 1,
            policyRevision: 1,
            bestPublicLb: 0.55,
            evidenceSha256: 'f'.repeat(64),
            policySha256: contentHash(p1),
            spent: { gpuSeconds: 0, llmTokens: 0 },
          },
        },
        {
          type: 'RoundStarted',
          data: {
            round: 2,
            policyRevision: 1,
            policySha256: contentHash(p1),
            seed: roundSeed(42, 2),
            candidates: planRound('c1', 2, roundSeed(42, 2), 4, p1),
          },
        },
      ]);
  });

  it('closes a paused campaign’s round but starts nothing until it resumes', () => {
    const paused: CampaignEvent = { type: 'CampaignPaused', data: { reason: 'x' } };
    const facts = foldFacts(afterRound1());
    const [closed] = spec
      .given([started, round1, ...subs, paused])
      .when(advance(facts))
      .then((events) => expect(events.map((e) => e.type)).toEqual(['RoundClosed']));
    spec
      .given([started, round1, ...subs, paused, closed, { type: 'CampaignResumed', data: {} }])
      .when(advance(facts))
      .then((events) => expect(events.map((e) => e.type)).toEqual(['RoundStarted']));
  });

  it('starts the final audit after the last round', () => {
    const one = startedWith({ ...config, rounds: 1 });
    spec
      .given([one, round1, ...subs])
      .when(advance(foldFacts(afterRound1())))
      .then((events) => {
        expect(events.map((e) => e.type)).toEqual(['RoundClosed', 'FinalAuditStarted']);
        expect(events[1].data).toEqual({
          reason: 'rounds-exhausted',
          rounds: 1,
          spent: { gpuSeconds: 0, llmTokens: 0 },
          exhausted: [],
        });
      });
  });

  it('starts the final audit instead of the next round when the GPU budget is used up (first terminal event per job counts)', () => {
    const facts = foldFacts([...afterRound1(), jobDone('j1', 600), jobFailed('j2', 400.0004), jobDone('j1', 999)]);
    expect(spentOf(facts)).toEqual({ gpuSeconds: 1000, llmTokens: 0 });
    spec
      .given([started, round1, ...subs])
      .when(advance(facts))
      .then((events) => {
        expect(events.map((e) => e.type)).toEqual(['RoundClosed', 'FinalAuditStarted']);
        expect(events[1].data).toMatchObject({ reason: 'budget-exhausted', rounds: 1, exhausted: ['gpuSeconds'] });
      });
  });

  it('stops a round whose GPU budget runs out while candidates still work, then closes it with what it has', () => {
    // Two of four candidates are done; the jobs so far cost the whole budget.
    const midRound = [
      ...[0, 1, 2, 3].map((i) => forked(1, i)),
      manifest(1, 0, 0.5),
      manifest(1, 1, 0.6),
      jobDone('j1', 700),
      jobDone('j2', 300),
    ];
    const [stopped] = spec
      .given([started, round1])
      .when(advance(foldFacts(midRound)))
      .then((events) => {
        expect(events).toEqual([
          {
            type: 'BudgetExhausted',
            data: { round: 1, spent: { gpuSeconds: 1000, llmTokens: 0 }, exhausted: ['gpuSeconds'] },
          },
        ]);
      });
    // Said once: the next pass has nothing new to say while the workers wind down.
    spec
      .given([started, round1, stopped])
      .when(advance(foldFacts(midRound)))
      .thenNothing();
    // The stopped candidates end failed; the round's submissions come from the two that finished.
    const wound = [...midRound, workerFailed(1, 2), workerFailed(1, 3)];
    spec
      .given([started, round1, stopped])
      .when(advance(foldFacts(wound)))
      .then((events) => {
        expect(events.map((e) => e.type)).toEqual(['SubmissionRequested', 'SubmissionRequested']);
        expect(events.map((e) => (e.data as { candidateId: string }).candidateId).sort()).toEqual([
          'c1-r1-c0',
          'c1-r1-c1',
        ]);
      });
  });

  it('does not stop a paused round, nor one whose candidates are all done (the close handles the budget then)', () => {
    const over = [jobDone('j1', 1000)];
    spec
      .given([started, round1, { type: 'CampaignPaused', data: { reason: 'wait' } }])
      .when(advance(foldFacts(over)))
      .thenNothing();
    spec
      .given([started, round1])
      .when(advance(foldFacts([...round1Done(), ...over])))
      .then((events) => expect(events.map((e) => e.type)).toEqual(['SubmissionRequested', 'SubmissionRequested']));
  });

  it('counts the cache writes and reads of the meta agent’s and the collector’s turns in the token budget', () => {
    const revisedWithCache = policyRevised(1, p1, 12);
    const llm = revisedWithCache.data.llm;
    if (!llm) throw new Error('the fixture records an LLM turn for tokens > 0');
    revisedWithCache.data.llm = { ...llm, cacheReadTokens: 100, cacheCreationTokens: 1000 };
    const evidenceWithCache = {
      ...evidence(1),
      data: {
        round: 1,
        evidenceSha256: 'f'.repeat(64),
        llm: { inputTokens: 5, outputTokens: 7, cacheReadTokens: 0, cacheCreationTokens: 2000 },
      },
    } as EventEnvelope;
    expect(spentOf(foldFacts([evidenceWithCache, revisedWithCache])).llmTokens).toBe(12 + 100 + 1000 + (5 + 7 + 2000));
  });

  it('counts LLM tokens from manifests and the meta agent; a zero token budget allows none', () => {
    const facts = foldFacts([
      ...round1Done().slice(0, 4),
      manifest(1, 0, 0.5, { tokens: 30 }),
      ...round1Done().slice(5),
      evidence(1),
      policyRevised(1, p1, 12),
    ]);
    expect(spentOf(facts).llmTokens).toBe(30 + 12);
    spec
      .given([started, round1, ...subs])
      .when(advance(facts))
      .then((events) =>
        expect(events[1]).toMatchObject({
          type: 'FinalAuditStarted',
          data: { reason: 'budget-exhausted', exhausted: ['llmTokens'] },
        }),
      );
    const generous = startedWith({ ...config, budgets: { ...config.budgets, llmTokens: 100 } });
    spec
      .given([generous, round1, ...subs])
      .when(advance(facts))
      .then((events) => expect(events.map((e) => e.type)).toEqual(['RoundClosed', 'RoundStarted']));
  });

  it('completes with the best public candidate and its private score once the leaderboard is unsealed', () => {
    const one = startedWith({ ...config, rounds: 1 });
    const audit = spec
      .given([one, round1, ...subs])
      .when(advance(foldFacts(afterRound1())))
      .then(() => undefined);
    spec
      .given([one, round1, ...subs, ...audit])
      .when(advance(foldFacts(afterRound1())))
      .thenNothing();
    const facts = foldFacts([
      ...afterRound1(),
      unsealed([
        { round: 1, i: 0, pub: 0.5, priv: 0.52 },
        { round: 1, i: 2, pub: 0.55, priv: 0.49 },
      ]),
    ]);
    const [done] = spec
      .given([one, round1, ...subs, ...audit])
      .when(advance(facts))
      .then([
        {
          type: 'CampaignCompleted',
          data: {
            rounds: 1,
            reason: 'rounds-exhausted',
            bestCandidateId: 'c1-r1-c2',
            bestPublicLb: 0.55,
            bestPrivateLb: 0.49,
            bestRound: 1,
            bestSubmissionId: 'sub-c1-r1-c2',
            submissions: 2,
          },
        },
      ]);
    spec
      .given([one, round1, ...subs, ...audit, done])
      .when(advance(facts))
      .thenNothing();
  });

  it('refuses a manual StartRound once the audit started or the budget is gone', () => {
    const one = startedWith({ ...config, rounds: 1 });
    const audit = spec
      .given([one, round1, ...subs])
      .when(advance(foldFacts(afterRound1())))
      .then(() => undefined);
    spec
      .given([one, round1, ...subs, ...audit])
      .when({ type: 'StartRound', campaignId: 'c1', round: 2, revisedPolicy: p1 })
      .thenThrows(code('ROUNDS_EXHAUSTED'));
    const closed: CampaignEvent = { type: 'RoundClosed', data: { round: 1, policyRevision: 1, bestPublicLb: null } };
    spec
      .given([started, round1, closed])
      .when({
        type: 'StartRound',
        campaignId: 'c1',
        round: 2,
        revisedPolicy: p1,
        spent: { gpuSeconds: 1000, llmTokens: 0 },
      })
      .thenThrows((err) => err instanceof DomainError && err.code === 'BUDGET_EXHAUSTED' && /GPU/.test(err.message));
    const auditing: CampaignEvent = {
      type: 'FinalAuditStarted',
      data: {
        reason: 'budget-exhausted',
        rounds: 1,
        spent: { gpuSeconds: 1000, llmTokens: 0 },
        exhausted: ['gpuSeconds'],
      },
    };
    spec
      .given([started, round1, closed, auditing])
      .when({ type: 'StartRound', campaignId: 'c1', round: 2, revisedPolicy: p1 })
      .thenThrows(code('CAMPAIGN_IN_FINAL_AUDIT'));
  });
});

describe('Pause, Resume, Abort', () => {
  const pause = { type: 'PauseCampaign' as const, campaignId: 'c1', reason: 'inspect' };
  const resume = { type: 'ResumeCampaign' as const, campaignId: 'c1' };
  const abort = { type: 'AbortCampaign' as const, campaignId: 'c1', reason: 'wrong substrate' };

  it('pauses a running campaign, resumes a paused one, aborts either', () => {
    spec
      .given([started])
      .when(pause)
      .then([{ type: 'CampaignPaused', data: { reason: 'inspect' } }]);
    spec
      .given([started, { type: 'CampaignPaused', data: { reason: 'x' } }])
      .when(resume)
      .then([{ type: 'CampaignResumed', data: {} }]);
    spec
      .given([started])
      .when(abort)
      .then([{ type: 'CampaignAborted', data: { reason: 'wrong substrate' } }]);
    spec
      .given([started, { type: 'CampaignPaused', data: { reason: 'x' } }])
      .when(abort)
      .then([{ type: 'CampaignAborted', data: { reason: 'wrong substrate' } }]);
  });

  it('refuses what does not apply, naming the campaign', () => {
    spec
      .given([])
      .when(pause)
      .thenThrows(
        (err) =>
          err instanceof DomainError &&
          err.code === 'CAMPAIGN_NOT_FOUND' &&
          err.issues[0].path === 'payload.campaignId',
      );
    spec
      .given([started, { type: 'CampaignPaused', data: { reason: 'x' } }])
      .when(pause)
      .thenThrows(code('CAMPAIGN_ALREADY_PAUSED'));
    spec.given([started]).when(resume).thenThrows(code('CAMPAIGN_NOT_PAUSED'));
    spec
      .given([started, { type: 'CampaignAborted', data: { reason: 'x' } }])
      .when(abort)
      .thenThrows(code('CAMPAIGN_ENDED'));
    spec
      .given([started, { type: 'CampaignAborted', data: { reason: 'x' } }])
      .when(resume)
      .thenThrows(code('CAMPAIGN_ENDED'));
  });
});

/**
 * A whole campaign driven through the pure decider: the other services' facts arrive in a random order (each
 * round's facts after its RoundStarted, as causality demands), Advance runs after every fact, sometimes twice.
 * Whatever the order, every round starts once, each round requests min(quota, submittable) submissions once, and
 * the campaign completes with the best public candidate.
 */
describe('a campaign through the decider, facts in any order', () => {
  it('reaches CampaignCompleted with each round started, submitted and closed exactly once', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer(),
        (rounds, workers, quota, seed) => {
          const cfg = {
            ...config,
            rounds,
            workersPerRound: workers,
            budgets: { ...config.budgets, submissionsPerRound: quota },
          };
          const log: CampaignEvent[] = [startedWith(cfg)];
          const facts: EventEnvelope[] = [];
          let rnd = seed >>> 0;
          const next = () => (rnd = (Math.imul(rnd, 1664525) + 1013904223) >>> 0) / 2 ** 32;
          const step = () => {
            const out = campaignDecider.decide(
              { type: 'Advance', campaignId: 'c1', facts: foldFacts(facts) },
              fold(log),
            );
            log.push(...out);
            return out;
          };
          step();
          for (let guard = 0; guard < 200 && !log.some((e) => e.type === 'CampaignCompleted'); guard++) {
            const state = fold(log);
            const r = state.lastRound;
            if (state.audit) facts.push(unsealed(scoresOf(log)));
            else {
              // This round's facts, shuffled: forks, manifests (some failed), then the leaderboard's and the meta-policy's.
              const pending: EventEnvelope[] = [];
              for (let i = 0; i < workers; i++) pending.push(forked(r, i));
              for (let i = 0; i < workers; i++)
                pending.push(next() < 0.2 ? workerFailed(r, i) : manifest(r, i, Math.round(next() * 100) / 100));
              for (let k = pending.length - 1; k > 0; k--) {
                const j = Math.floor(next() * (k + 1));
                [pending[k], pending[j]] = [pending[j], pending[k]];
              }
              for (const f of pending) {
                facts.push(f);
                step();
                if (next() < 0.3) expect(step()).toEqual([]);
              }
              const subs = log.filter((e) => e.type === 'SubmissionRequested' && e.data.round === r);
              for (const s of subs)
                if (s.type === 'SubmissionRequested')
                  facts.push(scored(r, Number(s.data.candidateId.split('-c').pop()), Math.round(next() * 100) / 100));
              facts.push(evidence(r), policyRevised(r, revised(r)));
            }
            step();
          }
          const types = (t: string) => log.filter((e) => e.type === t);
          expect(types('RoundStarted').map((e) => e.type === 'RoundStarted' && e.data.round)).toEqual(
            Array.from({ length: rounds }, (_, i) => i + 1),
          );
          expect(types('RoundClosed')).toHaveLength(rounds);
          expect(types('FinalAuditStarted')).toHaveLength(1);
          expect(types('CampaignCompleted')).toHaveLength(1);
          const subIds = types('SubmissionRequested').map(
            (e) => e.type === 'SubmissionRequested' && e.data.submissionId,
          );
          expect(new Set(subIds).size).toBe(subIds.length);
          for (let r = 1; r <= rounds; r++) {
            const submittable = facts.filter(
              (f) => f.type === 'ManifestSubmitted' && (f.data as { round: number }).round === r,
            ).length;
            expect(
              types('SubmissionRequested').filter((e) => e.type === 'SubmissionRequested' && e.data.round === r),
            ).toHaveLength(Math.min(quota, submittable));
          }
          const done = types('CampaignCompleted')[0];
          const best = scoresOf(log).sort((a, b) => b.pub - a.pub || a.round - b.round)[0];
          expect(done.type === 'CampaignCompleted' && done.data.bestPublicLb).toBe(best ? best.pub : null);
          // Facts that the log already reflects change nothing any more.
          expect(step()).toEqual([]);
        },
      ),
      { numRuns: 60 },
    );
  });
});

/** Public scores as the fake leaderboard gave them (the private score is the public one shifted). */
function scoresOf(log: CampaignEvent[]): Array<{ round: number; i: number; pub: number; priv: number }> {
  const out: Array<{ round: number; i: number; pub: number; priv: number }> = [];
  for (const e of log) {
    if (e.type !== 'SubmissionRequested') continue;
    const i = Number(e.data.candidateId.split('-c').pop());
    const pub = Math.round((((e.data.round * 37 + i * 11) % 100) / 100) * 100) / 100;
    out.push({ round: e.data.round, i, pub, priv: Math.max(0, pub - 0.01) });
  }
  return out;
}
