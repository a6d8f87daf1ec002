import { criterionScore, type BudgetSpent, type CampaignConfig, type ScoreVector, type SelectionCriterion } from '@aevo/contracts';
import type { CandidateFacts } from './facts';

export interface PlannedRef {
  candidateId: string;
  index: number;
  isAnchor: boolean;
}

export interface ChosenSubmission {
  candidateId: string;
  checkpoint: string;
  sandboxPath: string;
  reason: string;
}

/** A candidate can be submitted when its manifest completed with a chosen checkpoint and it was never invalidated. */
export const isSubmittable = (c: CandidateFacts | undefined): c is CandidateFacts & { sandboxPath: string; manifest: { checkpoint: string; dev: ScoreVector } } =>
  !!c && c.invalidated === null && c.sandboxPath !== null && c.manifest?.status === 'completed' && c.manifest.checkpoint !== null && c.manifest.dev !== null;

/**
 * A candidate is done when its worker submitted a manifest or gave up, or the substrate invalidated it. A completed
 * manifest whose fork is not known yet waits for it (the log orders the fork first; this keeps the choice sound
 * even for facts gathered out of order).
 */
export const isCandidateDone = (c: CandidateFacts | undefined): boolean =>
  !!c && (c.invalidated !== null || c.workerFailed !== null || (c.manifest !== null && (c.manifest.status === 'failed' || c.sandboxPath !== null)));

/**
 * Chooses a round's submissions within the quota: the baseline anchor always (it calibrates dev against the
 * leaderboard), then the other submittable candidates by the policy's criterion on their chosen checkpoint's dev
 * scores (ties: lower plan index). Exactly min(quota, submittable) are chosen — what the collector waits for.
 */
export function chooseSubmissions(
  planned: readonly PlannedRef[],
  facts: Record<string, CandidateFacts>,
  quota: number,
  criterion: SelectionCriterion,
): ChosenSubmission[] {
  const submittable = planned.filter((p) => isSubmittable(facts[p.candidateId]));
  const scored = submittable.map((p) => {
    const c = facts[p.candidateId] as CandidateFacts & { sandboxPath: string; manifest: { checkpoint: string; dev: ScoreVector } };
    return { p, c, score: criterionScore(c.manifest.dev, criterion) };
  });
  const anchors = scored.filter((s) => s.p.isAnchor).sort((a, b) => a.p.index - b.p.index);
  const others = scored.filter((s) => !s.p.isAnchor).sort((a, b) => b.score - a.score || a.p.index - b.p.index);
  const criterionName = criterion.kind === 'mean' ? 'mean dev' : 'reweighted dev';
  return [...anchors.slice(0, 1), ...others, ...anchors.slice(1)].slice(0, quota).map((s) => ({
    candidateId: s.p.candidateId,
    checkpoint: s.c.manifest.checkpoint,
    sandboxPath: s.c.sandboxPath,
    reason: s.p.isAnchor
      ? `baseline anchor (calibration), ${criterionName} ${round6(s.score)}`
      : `#${others.indexOf(s) + 1} of ${others.length} by ${criterionName} ${round6(s.score)}`,
  }));
}

const round6 = (x: number) => Math.round(x * 1e6) / 1e6;

export type BudgetName = 'gpuSeconds' | 'llmTokens';

/**
 * Which budgets are used up. GPU-seconds: spent ≥ budget. LLM tokens: spent ≥ budget, and a budget of 0 means no
 * token may be spent (so offline heuristic campaigns never run out).
 */
export function exhaustedBudgets(budgets: CampaignConfig['budgets'], spent: BudgetSpent): BudgetName[] {
  const out: BudgetName[] = [];
  if (spent.gpuSeconds >= budgets.gpuSeconds) out.push('gpuSeconds');
  if (budgets.llmTokens > 0 ? spent.llmTokens >= budgets.llmTokens : spent.llmTokens > 0) out.push('llmTokens');
  return out;
}
