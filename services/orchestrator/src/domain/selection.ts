import {
  criterionScore,
  type BudgetSpent,
  type PrescribedRun,
  type CampaignConfig,
  type ScoreVector,
  type SelectionCriterion,
} from '@aevo/contracts';
import type { CandidateFacts } from './facts';

export interface PlannedRef {
  candidateId: string;
  index: number;
  isAnchor: boolean;
  prescribed?: PrescribedRun;
}

export interface ChosenSubmission {
  candidateId: string;
  checkpoint: string;
  sandboxPath: string;
  reason: string;
}

/** A candidate can be submitted when its manifest completed with a chosen checkpoint and it was never invalidated. */
export const isSubmittable = (
  c: CandidateFacts | undefined,
): c is CandidateFacts & { sandboxPath: string; manifest: { checkpoint: string; dev: ScoreVector } } =>
  !!c &&
  c.invalidated === null &&
  c.sandboxPath !== null &&
  c.manifest?.status === 'completed' &&
  c.manifest.checkpoint !== null &&
  c.manifest.dev !== null;

/**
 * A candidate is done when its worker submitted a manifest or gave up, or the substrate invalidated it. A completed
 * manifest whose fork is not known yet waits for it (the log orders the fork first; this keeps the choice sound
 * even for facts gathered out of order).
 */
export const isCandidateDone = (c: CandidateFacts | undefined): boolean =>
  !!c &&
  (c.invalidated !== null ||
    c.workerFailed !== null ||
    (c.manifest !== null && (c.manifest.status === 'failed' || c.sandboxPath !== null)));

/**
 * Chooses a round's submissions within the quota, most informative first:
 * 1. the anchor, when the standing recipe has no leaderboard replicate yet — without it nothing of the round can
 *    be compared;
 * 2. confirmation runs, best recorded gain first (each decides a promotion), then the combination run (one
 *    submission measures what several explorers found on dev);
 * 3. decoupling probes, in pairs (a hypothesis is decided only when both of its probes are scored);
 * 4. the anchor, when the standing recipe already has replicates: it pairs this round's comparisons (same seed)
 *    and adds a replicate, but the replicates' mean can stand in for it;
 * 5. explorers by the policy's criterion on their chosen checkpoint's dev scores (ties: lower plan index).
 * Further anchor submissions never happen (one per candidate). Exactly min(quota, submittable) are chosen — what
 * the collector waits for.
 */
export function chooseSubmissions(
  planned: readonly PlannedRef[],
  facts: Record<string, CandidateFacts>,
  quota: number,
  criterion: SelectionCriterion,
  standingReplicates = 0,
): ChosenSubmission[] {
  const submittable = planned.filter((p) => isSubmittable(facts[p.candidateId]));
  const scored = submittable.map((p) => {
    const c = facts[p.candidateId] as CandidateFacts & {
      sandboxPath: string;
      manifest: { checkpoint: string; dev: ScoreVector };
    };
    return { p, c, score: criterionScore(c.manifest.dev, criterion) };
  });
  const byPlan = (a: (typeof scored)[number], b: (typeof scored)[number]) => a.p.index - b.p.index;
  const anchors = scored.filter((s) => s.p.isAnchor).sort(byPlan);
  const probes = scored.filter((s) => s.p.prescribed?.kind === 'probe').sort(byPlan);
  const confirmations = scored.filter((s) => s.p.prescribed?.kind === 'confirmation').sort(byPlan);
  const combinations = scored.filter((s) => s.p.prescribed?.kind === 'combination').sort(byPlan);
  const others = scored
    .filter((s) => !s.p.isAnchor && !s.p.prescribed)
    .sort((a, b) => b.score - a.score || a.p.index - b.p.index);
  const criterionName = criterion.kind === 'mean' ? 'mean dev' : 'reweighted dev';
  const anchorFirst = standingReplicates === 0;
  // Probes count only in pairs (a hypothesis needs both): a lone probe that would take the last slot yields it.
  const head = [...(anchorFirst ? anchors.slice(0, 1) : []), ...confirmations, ...combinations];
  const room = quota - head.length;
  const pairedProbes = probes.slice(0, Math.max(0, room - (room % 2 === 1 && probes.length >= room ? 1 : 0)));
  const rest = probes.filter((p) => !pairedProbes.includes(p));
  const ordered = [...head, ...pairedProbes, ...(anchorFirst ? [] : anchors.slice(0, 1)), ...others, ...rest];
  return ordered.slice(0, quota).map((s) => ({
    candidateId: s.p.candidateId,
    checkpoint: s.c.manifest.checkpoint,
    sandboxPath: s.c.sandboxPath,
    reason: s.p.isAnchor
      ? `baseline anchor (` +
        (anchorFirst
          ? 'the standing recipe has no LB replicate yet'
          : `paired reference; ${standingReplicates} LB replicate(s) of the standing recipe so far`) +
        `), ${criterionName} ${round6(s.score)}`
      : s.p.prescribed
        ? (s.p.prescribed.kind === 'probe'
            ? `decoupling probe (${s.p.prescribed.role}) of ${s.p.prescribed.of}`
            : s.p.prescribed.kind === 'combination'
              ? `combination run ${s.p.prescribed.of}`
              : `confirmation run of ${s.p.prescribed.of}`) + `, ${criterionName} ${round6(s.score)}`
        : `#${others.indexOf(s) + 1} of ${others.length} explorers by ${criterionName} ${round6(s.score)}`,
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
