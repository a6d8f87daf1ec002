import { contentHash, createEvent, RoundClosed, RoundStarted, seededRandom, type EventEnvelope } from '@aevo/contracts';
import { completeCampaign, startCampaign } from './synthetic-campaign/campaign-events';
import { planRound, runCandidate } from './synthetic-campaign/candidate';
import type { CampaignProgress, CandidateResult, Emit, SyntheticContext } from './synthetic-campaign/context';
import { revisePolicy } from './synthetic-campaign/policy-revision';
import { submitRound, trackDecoupling } from './synthetic-campaign/round-outcome';
import { initialPolicy } from './synthetic-campaign/surface';

export interface SyntheticCampaignOptions {
  campaignId?: string;
  rounds?: number;
  /** Candidates per round, the anchor included (at least 3). */
  workersPerRound?: number;
  seed?: number;
  /** Tool calls per worker trace (each an intent and an outcome event). */
  traceSteps?: number;
}

/**
 * A synthetic campaign log with every kind of record the views read — traces, jobs (one failing), checkpoints and their
 * selection, submissions, policy revisions with promotions, dead ends and a retired axis, and a decoupling suspected
 * in round 2 and confirmed by two probes in round 3 — each event built through its contract schema (`createEvent`).
 * Its scores come from a seeded toy response surface (synthetic equation data lifts dev, not the leaderboard); the
 * policy revisions follow simple fixed rules, not the policy engine. For view tests and the views benchmark.
 *
 * One seeded source is drawn in log order throughout, so the steps below (in `synthetic-campaign/`) run in sequence.
 */
export function syntheticCampaignLog(opts: SyntheticCampaignOptions = {}): EventEnvelope[] {
  const campaignId = opts.campaignId ?? 'synthetic';
  const rounds = opts.rounds ?? 4;
  const n = Math.max(3, opts.workersPerRound ?? 5);
  const seed = opts.seed ?? 1;
  const out: EventEnvelope[] = [];
  const ev: Emit = (def, data, streamId, source) => {
    out.push(createEvent(def, data, { campaignId, streamId, source }) as EventEnvelope);
  };
  const ctx: SyntheticContext = {
    campaignId,
    rounds,
    seed,
    traceSteps: opts.traceSteps ?? 4,
    rnd: seededRandom(seed),
    ev,
    campaignStream: `campaign-${campaignId}`,
    snapshotId: contentHash(`snapshot ${campaignId}`),
  };
  const progress: CampaignProgress = {
    policy: initialPolicy(),
    base: { dev: 0.5, lb: 0.45 },
    hypothesis: null,
    unsealed: [],
    best: null,
    spent: { gpuSeconds: 0, llmTokens: 0 },
  };
  startCampaign(ctx, n, progress.policy);

  for (let round = 1; round <= rounds; round++) {
    const { policy, hypothesis } = progress;
    const probing: boolean =
      hypothesis !== null && hypothesis.status === 'suspected' && round === hypothesis.suspectedRound + 1;
    const planned = planRound(ctx, round, n, policy, hypothesis, probing);
    ev(
      RoundStarted,
      {
        round,
        policyRevision: policy.revision,
        policySha256: contentHash(policy),
        candidates: planned,
        seed: seed + round,
      },
      ctx.campaignStream,
      'orchestrator',
    );
    const results: CandidateResult[] = [];
    for (const c of planned) {
      const result = runCandidate(ctx, progress, round, c);
      if (result) results.push(result);
    }
    const outcome = submitRound(ctx, progress, round, planned, results, probing);
    trackDecoupling(ctx, progress, round, planned, results, outcome, probing);
    const next = revisePolicy(ctx, progress, round, outcome);
    progress.policy = next;
    ev(
      RoundClosed,
      { round, policyRevision: next.revision, bestPublicLb: outcome.roundBest, spent: progress.spent },
      ctx.campaignStream,
      'orchestrator',
    );
  }
  completeCampaign(ctx, progress);
  return out;
}
