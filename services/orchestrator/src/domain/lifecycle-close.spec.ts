import { contentHash, DomainError, type EventEnvelope } from '@aevo/contracts';
import { type CampaignEvent } from './campaign';
import { foldFacts, spentOf } from './facts';
import { planRound, roundSeed } from './planning';
import {
  config,
  spec,
  code,
  startedWith,
  started,
  revised,
  round1,
  advance,
  forked,
  manifest,
  workerFailed,
  policyRevised,
  evidence,
  scored,
  jobDone,
  jobFailed,
  unsealed,
  round1Done,
} from '../../test/lifecycle-fixtures';

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

  it(
    'starts the final audit instead of the next round when the GPU budget ' +
      'is used up (first terminal event per job counts)',
    () => {
      const facts = foldFacts([...afterRound1(), jobDone('j1', 600), jobFailed('j2', 400.0004), jobDone('j1', 999)]);
      expect(spentOf(facts)).toEqual({ gpuSeconds: 1000, llmTokens: 0 });
      spec
        .given([started, round1, ...subs])
        .when(advance(facts))
        .then((events) => {
          expect(events.map((e) => e.type)).toEqual(['RoundClosed', 'FinalAuditStarted']);
          expect(events[1].data).toMatchObject({ reason: 'budget-exhausted', rounds: 1, exhausted: ['gpuSeconds'] });
        });
    },
  );

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
