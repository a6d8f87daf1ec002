import fc from 'fast-check';
import { DomainError, type EventEnvelope } from '@aevo/contracts';
import { campaignDecider, type CampaignEvent } from './campaign';
import { foldFacts } from './facts';
import {
  config,
  spec,
  code,
  startedWith,
  started,
  revised,
  fold,
  forked,
  manifest,
  workerFailed,
  policyRevised,
  evidence,
  scored,
  unsealed,
} from '../../test/lifecycle-fixtures';

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
              // This round's facts, shuffled: forks, manifests (some failed), then the leaderboard's and the meta-
              // policy's.
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
