import type { ViewsState } from './campaign-fold';
import { campaignOf, r6 } from './view-helpers';

/** Budget: GPU-seconds, LLM tokens and submissions per round against the campaign's caps. */
export function budgetView(state: ViewsState, campaignId: string) {
  const c = campaignOf(state, campaignId);
  const gpu = new Map<number, number>();
  for (const j of c.jobs.values()) gpu.set(j.round, (gpu.get(j.round) ?? 0) + j.gpuSeconds);
  const tokens = new Map<number, number>();
  for (const x of c.candidates.values())
    if (x.cost) tokens.set(x.round, (tokens.get(x.round) ?? 0) + x.cost.inputTokens + x.cost.outputTokens);
  for (const r of c.rounds.values()) tokens.set(r.round, (tokens.get(r.round) ?? 0) + r.collectorTokens);
  // A revision's meta-agent turn is charged to the round whose evidence it read.
  for (const p of c.policies) if (p.round > 0) tokens.set(p.round, (tokens.get(p.round) ?? 0) + p.llmTokens);
  const subs = new Map<number, { requested: number; scored: number; rejected: number }>();
  for (const s of c.submissions.values()) {
    const v = subs.get(s.round) ?? { requested: 0, scored: 0, rejected: 0 };
    v.requested += 1;
    if (s.status === 'scored') v.scored += 1;
    if (s.status === 'rejected') v.rejected += 1;
    subs.set(s.round, v);
  }
  let cumGpu = 0;
  let cumTokens = 0;
  const rounds = [...c.rounds.keys()]
    .sort((a, b) => a - b)
    .map((round) => {
      const g = gpu.get(round) ?? 0;
      const t = tokens.get(round) ?? 0;
      cumGpu += g;
      cumTokens += t;
      const s = subs.get(round) ?? { requested: 0, scored: 0, rejected: 0 };
      return {
        round,
        gpuSeconds: r6(g),
        llmTokens: t,
        submissions: s.requested,
        scored: s.scored,
        rejected: s.rejected,
        submissionCap: c.config.budgets.submissionsPerRound,
        cumulativeGpuSeconds: r6(cumGpu),
        cumulativeLlmTokens: cumTokens,
        spentAtClose: c.rounds.get(round)?.spentAtClose ?? null,
      };
    });
  return {
    campaignId,
    caps: c.config.budgets,
    totals: {
      gpuSeconds: r6(cumGpu),
      llmTokens: cumTokens,
      submissions: rounds.reduce((a, r) => a + r.submissions, 0),
    },
    exhausted: c.budgetExhausted,
    rounds,
  };
}
