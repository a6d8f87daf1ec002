import * as path from 'node:path';
import { DomainError } from '@aevo/contracts';
import type { SubstrateState } from './substrate-state';

// Queries over the substrate state: where sandboxes live, which to fork, which may go.

/** Where a candidate's sandbox lives: deterministic, so a redelivered RoundStarted finds the earlier fork. */
export function sandboxPathFor(sandboxesRoot: string, campaignId: string, candidateId: string): string {
  return path.join(sandboxesRoot, campaignId, candidateId);
}

export interface PlannedFork {
  candidateId: string;
  round: number;
  policyRevision: number;
  standingRecipe: Record<string, unknown>;
}

/**
 * Candidates of `round` still to fork, with the standing recipe of the round's policy revision.
 * Throws POLICY_UNKNOWN when that revision is not in the log (yet): the caller retries later.
 */
export function forksToMake(state: SubstrateState, round: number): PlannedFork[] {
  const r = state.rounds[round];
  if (!r) return [];
  const recipe = state.standingRecipes[r.policyRevision];
  const pending = r.candidateIds.map((id) => state.candidates[id]).filter((c) => c && c.status === 'planned');
  if (pending.length === 0) return [];
  if (recipe === undefined)
    throw new DomainError(
      'POLICY_UNKNOWN',
      `round ${round} runs policy revision ${r.policyRevision}, which is not in the log`,
      [{ path: 'policyRevision', message: 'no CampaignStarted.initialPolicy or PolicyRevised with this revision' }],
    );
  return pending.map((c) => ({
    candidateId: c.candidateId,
    round,
    policyRevision: r.policyRevision,
    standingRecipe: recipe,
  }));
}

export interface GcPolicy {
  /** Sandboxes of the latest K rounds are kept (K ≥ 1: the running round is never collected). */
  keepLastRounds: number;
  /** Keep candidates submitted to the leaderboard (their checkpoints may be audited or re-predicted). */
  keepWinners: boolean;
  /** Keep invalidated sandboxes as evidence of the violation. */
  keepInvalidated: boolean;
}

export const DEFAULT_GC_POLICY: GcPolicy = { keepLastRounds: 2, keepWinners: true, keepInvalidated: true };

export interface GcDecision {
  collect: string[];
  /** Eligible by age but a job still uses them; retried when the job ends. */
  inUse: string[];
}

/** Which sandboxes may go now. Only rounds that closed (or a completed campaign) are considered. */
export function collectable(state: SubstrateState, policy: GcPolicy): GcDecision {
  const keepFrom = state.latestRound - Math.max(1, policy.keepLastRounds) + 1;
  const collect: string[] = [];
  const inUse: string[] = [];
  for (const c of Object.values(state.candidates)) {
    if (c.status !== 'forked' && c.status !== 'invalidated') continue;
    if (c.round >= keepFrom) continue;
    if (!state.rounds[c.round]?.closed && !state.completed) continue;
    if (policy.keepWinners && c.submitted) continue;
    if (policy.keepInvalidated && c.status === 'invalidated') continue;
    (c.activeJobs.length > 0 ? inUse : collect).push(c.candidateId);
  }
  const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return { collect: collect.sort(byId), inUse: inUse.sort(byId) };
}
