import {
  type CandidateSummary,
  type PendingConfirmation,
  type RecipeChange,
  type RollingPolicy,
  type RoundEvidence,
} from '@aevo/contracts';
import { moveKey, r6, signed } from './research-shared';

/* Confirmation runs: which dev gains wait for a confirmation, how they are judged, and which are promoted together. */

/** At most this many gains wait for confirmation at once (the best first): each takes a worker slot next round. */
export const MAX_PENDING_CONFIRMATIONS = 3;

/**
 * Two stages. A gain is screened for a confirmation run when its one measurement clears SCREEN_SHARE × the bar
 * (scheduling a run decides nothing); it is promoted when the mean of its two independent measurements clears the
 * bar scaled to a mean of two (bar / √2: the same multiple of that mean's noise) and the confirmation itself is a gain.
 */
export const SCREEN_SHARE = 0.5;

export interface ConfirmationOutcome {
  pending: PendingConfirmation;
  run: CandidateSummary | null;
  /** The confirmation run's LB gain over its round's reference; null when it has none. */
  lbGain: number | null;
  confirmed: boolean;
  why: string;
}

/** Judges every pending confirmation of the policy in force against its run in this round. */
export function judgeConfirmations(
  previous: RollingPolicy,
  evidence: RoundEvidence,
  bar: number,
  auditOk: (candidateId: string) => boolean,
): ConfirmationOutcome[] {
  const meanBar = r6(bar / Math.SQRT2);
  return (previous.pendingConfirmations ?? []).map((pending) => {
    const run =
      evidence.candidateSummaries.find(
        (s) => s.prescribed?.kind === 'confirmation' && s.prescribed.of === pending.candidateId,
      ) ?? null;
    if (!run)
      return {
        pending,
        run,
        lbGain: null,
        confirmed: false,
        why: 'no confirmation run was planned (no free worker slot)',
      };
    if (run.status !== 'completed')
      return {
        pending,
        run,
        lbGain: null,
        confirmed: false,
        why: `its confirmation run ${run.candidateId} ${run.status}`,
      };
    if (!auditOk(run.candidateId))
      return {
        pending,
        run,
        lbGain: null,
        confirmed: false,
        why: `its confirmation run ${run.candidateId} failed the audit`,
      };
    if (run.lbDelta === null)
      return {
        pending,
        run,
        lbGain: null,
        confirmed: false,
        why: `its confirmation run ${run.candidateId} got no leaderboard score`,
      };
    // Every LB measurement of the same single-knob move in this campaign counts (the ledger's, the pending one's, this
    // run's); the bar for a mean of n is bar / √n, the same multiple of that mean's noise.
    const record =
      pending.changes.length === 1
        ? (previous.moveLedger ?? []).find((m) => m.key === moveKey(pending.changes[0]))
        : undefined;
    const earlier = record
      ? record.lbRounds.map((r, i) => ({ r, g: record.lbGains[i] })).filter((x) => x.r !== evidence.round)
      : [];
    if (!earlier.some((x) => x.r === pending.round)) earlier.push({ r: pending.round, g: pending.lbGain });
    const all = [...earlier.map((x) => x.g), run.lbDelta];
    const n = all.length;
    const mean = r6(all.reduce((a, x) => a + x, 0) / n);
    const nBar = r6(bar / Math.sqrt(n));
    // The ledger's key pools every step along one direction (a lead's step grows), so a grown step is also judged on
    // its own two measurements, the pending gain and this run: the same change on two seeds.
    const pair = r6((pending.lbGain + run.lbDelta) / 2);
    const byPair = n > 2 && pair > meanBar && !(mean > nBar);
    const confirmed = run.lbDelta > 0 && (mean > nBar || byPair);
    const measured = byPair
      ? `LB ${signed(run.lbDelta)} on seed ${run.seeds[0]}, mean of both measurements of this change ${signed(pair)}`
      : `LB ${signed(run.lbDelta)} on seed ${run.seeds[0]}, mean ` +
        `of ${n === 2 ? 'both measurements' : `${n} measurements of the move`} ${signed(mean)}`;
    const barText = n === 2 || byPair ? `${meanBar} (bar / √2)` : `${nBar} (bar / √${n})`;
    return {
      pending,
      run,
      lbGain: run.lbDelta,
      confirmed,
      why: confirmed
        ? `confirmed by ${run.candidateId}: ${measured} > ${barText}`
        : `not confirmed ` +
          `by ${run.candidateId}: ${measured}${run.lbDelta <= 0 ? ' (no gain the second time)' : ` ≤ ${barText}`}`,
    };
  });
}

/**
 * Confirmed gains promoted together: best mean of the two measurements first, each taken only when none of its
 * paths is already changed by one taken before (independent changes stack; the next anchor re-measures the whole).
 */
export function stackPromotions(outcomes: readonly ConfirmationOutcome[]): ConfirmationOutcome[] {
  const confirmed = outcomes
    .filter((o) => o.confirmed)
    .sort(
      (a, b) =>
        (b.pending.lbGain + (b.lbGain ?? 0)) / 2 - (a.pending.lbGain + (a.lbGain ?? 0)) / 2 ||
        a.pending.candidateId.localeCompare(b.pending.candidateId),
    );
  const taken: ConfirmationOutcome[] = [];
  const paths = new Set<string>();
  const overlaps = (p: string) => [...paths].some((q) => p === q || p.startsWith(`${q}.`) || q.startsWith(`${p}.`));
  for (const o of confirmed) {
    if (o.pending.changes.some((c) => overlaps(c.path))) continue;
    o.pending.changes.forEach((c) => paths.add(c.path));
    taken.push(o);
  }
  return taken;
}

/**
 * Pending gains this round left undecided for want of a measurement, not for a bad one: their confirmation run got no
 * slot, or completed without a leaderboard score (the round's quota went to the anchor and better-ranked runs). Each
 * waits one round more, once (only a gain first measured in the round before): a gain is not lost to the quota.
 */
export function unmeasuredConfirmations(
  outcomes: readonly ConfirmationOutcome[],
  round: number,
): PendingConfirmation[] {
  return outcomes
    .filter(
      (o) =>
        !o.confirmed &&
        o.pending.round === round - 1 &&
        (o.run === null || (o.run.status === 'completed' && o.run.lbDelta === null)),
    )
    .map((o) => o.pending);
}

/**
 * The next round's pending confirmations: this round's explorer gains above the bar and the gains still waiting for a
 * measurement (`carried`), best recorded gain first, at most MAX_PENDING_CONFIRMATIONS, one per change set.
 */
export function nextPending(
  eligible: ReadonlyArray<{ candidateId: string; lbGain: number; changes: RecipeChange[] }>,
  evidence: RoundEvidence,
  carried: readonly PendingConfirmation[] = [],
): PendingConfirmation[] {
  const fresh: PendingConfirmation[] = eligible.map((e) => {
    const s = evidence.candidateSummaries.find((c) => c.candidateId === e.candidateId);
    return {
      candidateId: e.candidateId,
      round: evidence.round,
      axis: s?.axis ?? 'baseline',
      changes: e.changes,
      lbGain: e.lbGain,
      devGain: s?.devDelta ?? null,
    };
  });
  const ranked = [...fresh, ...carried].map((p, i) => ({ p, i })).sort((a, b) => b.p.lbGain - a.p.lbGain || a.i - b.i);
  const out: PendingConfirmation[] = [];
  const seen = new Set<string>();
  for (const { p } of ranked) {
    const key = JSON.stringify(p.changes.map((c) => [c.path, c.to]));
    if (seen.has(key) || out.length >= MAX_PENDING_CONFIRMATIONS) continue;
    seen.add(key);
    out.push(p);
  }
  return out;
}
