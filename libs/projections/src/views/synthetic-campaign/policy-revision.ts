import { contentHash, PolicyRevised, type RollingPolicy } from '@aevo/contracts';
import type { CampaignProgress, SyntheticContext } from './context';
import type { RoundSubmissions } from './round-outcome';
import { axisEffect, r3, setPath } from './surface';

/**
 * The policy revision after a round, by fixed rules rather than the policy engine: promote the best explorer whose LB
 * gain clears the threshold (lifting the toy surface's base), record a losing single move as a dead end, and on a
 * confirmed decoupling retire synthetic data and turn the objective to transfer. Returns the revised policy.
 */
export function revisePolicy(
  ctx: SyntheticContext,
  progress: CampaignProgress,
  round: number,
  outcome: RoundSubmissions,
): RollingPolicy {
  const { ev, rnd, campaignId } = ctx;
  const { policy, hypothesis } = progress;
  const { anchor, submitted, roundBest } = outcome;
  const next: RollingPolicy = JSON.parse(JSON.stringify(policy)) as RollingPolicy;
  next.revision = policy.revision + 1;
  next.forRound = round + 1;
  next.noiseBand = { devStd: r3(0.004 + 0.004 * rnd()), lbStd: r3(0.005 + 0.004 * rnd()), seeds: 2 * round, round };
  const changes: string[] = [];
  const lbAnchor = anchor?.lb ?? progress.base.lb;
  const winner = submitted
    .filter(
      (x) =>
        !x.isAnchor &&
        x.changes.length > 0 &&
        x.lb - lbAnchor > policy.promotionThreshold &&
        x.axis !== 'synthetic-data',
    )
    .sort((a, b) => b.lb - a.lb)[0];
  if (winner) {
    for (const ch of winner.changes) setPath(next.standingRecipe, ch.path, ch.to);
    const moves = winner.changes.map((ch) => `${ch.path} → ${JSON.stringify(ch.to)}`).join(', ');
    changes.push(`standing recipe: ${moves} (promoted ${winner.candidateId})`);
    progress.base = {
      dev: progress.base.dev + 0.6 * axisEffect(winner.axis, winner.changes).dev,
      lb: progress.base.lb + 0.6 * axisEffect(winner.axis, winner.changes).lb,
    };
  }
  const loser = submitted
    .filter((x) => !x.isAnchor && x.changes.length === 1 && lbAnchor - x.lb > 2 * policy.noiseBand.lbStd)
    .sort((a, b) => a.lb - b.lb)[0];
  if (loser && !next.deadEnds.some((d) => d.path === loser.changes[0].path)) {
    const ch = loser.changes[0];
    next.deadEnds.push({
      id: `dead-${round}-${ch.path}`,
      description: `${ch.path} → ${JSON.stringify(ch.to)} (LB ${r3(loser.lb - lbAnchor)})`,
      axis: loser.axis,
      path: ch.path,
      direction: 'set',
      value: ch.to as never,
      round,
      candidateId: loser.candidateId,
      evidence: `round ${round}`,
    });
    changes.push(`Don't waste budget on: ${ch.path} → ${JSON.stringify(ch.to)}`);
  }
  if (hypothesis?.status === 'confirmed' && hypothesis.decidedRound === round) {
    next.objective = 'transfer-to-lb';
    next.retiredAxes.push({ axis: 'synthetic-data', round, reason: 'confirmed equation decoupling' });
    next.activeAxes = next.activeAxes.filter((a) => a !== 'synthetic-data');
    changes.push('objective: raise-dev-and-lb → transfer-to-lb', 'axis retired: synthetic-data');
  }
  if (hypothesis) next.decouplingHypotheses = [hypothesis];
  next.bestPublicLb = roundBest === null ? policy.bestPublicLb : Math.max(roundBest, policy.bestPublicLb ?? 0);
  next.rationale = `round ${round}: ${changes.length} change(s)`;
  const llm = {
    model: 'claude-sonnet-4-5',
    inputTokens: 800 + Math.floor(rnd() * 400),
    outputTokens: 200 + Math.floor(rnd() * 100),
    cacheReadTokens: 0,
    stopReason: 'end_turn',
    proposal: { changes },
    refused: false,
  };
  ev(
    PolicyRevised,
    {
      round,
      policy: next,
      policySha256: contentHash(next),
      previousRevision: policy.revision,
      evidenceSha256: contentHash(`evidence ${campaignId} ${round}`),
      constitutionSha256: contentHash('synthetic constitution'),
      proposer: 'claude',
      changes: changes.length ? changes : ['no change'],
      llm,
    },
    `meta-policy-${campaignId}-r${round}`,
    'meta-policy',
  );
  progress.spent = {
    gpuSeconds: r3(progress.spent.gpuSeconds),
    llmTokens: progress.spent.llmTokens + llm.inputTokens + llm.outputTokens,
  };
  return next;
}
