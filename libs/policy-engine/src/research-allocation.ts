import { Axis, type MoveRecord, type SearchHints } from '@aevo/contracts';
import { lbContradicts, moveStats } from './research-moves';

/*
 * Explorer allocation and step growth from the move ledger. Workers are memory-free: the policy tells them which axes
 * to explore (its active axes, which the plan fills round-robin) and how far to step along a lead (its search hints).
 */

type Direction = SearchHints['directions'][number];

export interface Lead {
  move: MoveRecord;
  mean: number;
  se: number | null;
}

/**
 * Leads: ledger moves whose mean paired dev gain clears the dev screen and, once measured twice or more, stays above
 * zero by one standard error, and whose leaderboard measurements (if any) do not contradict it; best mean first (ties
 * by key, so the order is a function of the ledger alone).
 */
export function ledgerLeads(ledger: readonly MoveRecord[], devScreen: number): Lead[] {
  return ledger
    .filter((m) => m.devGains.length > 0 && !lbContradicts(m, devScreen))
    .map((m) => ({ move: m, ...moveStats(m) }))
    .filter((x) => x.mean > devScreen && (x.se === null || x.mean - x.se > 0))
    .sort((a, b) => b.mean - a.mean || a.move.key.localeCompare(b.move.key));
}

/**
 * Spent axes: measured twice or more in the ledger (over all their moves) without a single lead. Their explorer
 * slots go to the leads' axes and the category's unspent ones.
 */
export function spentAxes(ledger: readonly MoveRecord[], devScreen: number): Set<Axis> {
  const leadAxes = new Set(ledgerLeads(ledger, devScreen).map((l) => l.move.axis));
  const measured = new Map<Axis, number>();
  for (const m of ledger) measured.set(m.axis, (measured.get(m.axis) ?? 0) + m.devGains.length);
  return new Set([...measured.entries()].filter(([a, n]) => n >= 2 && !leadAxes.has(a)).map(([a]) => a));
}

/** Fewer active axes than this, and the next categories' unspent axes fill the list (see `allocateAxes`). */
export const MIN_ACTIVE_AXES = 4;

/**
 * The axes explorers take next round: the leads' axes first (best lead first) — a direction that keeps paying keeps
 * its explorers whatever category is active — then the active category's axes that are not spent. A nearly spent
 * category (a one-axis category, or one whose axes were measured without a lead) does not hold the round on repeats:
 * while fewer than MIN_ACTIVE_AXES axes stand, `following` (the axes of the categories after the active one, in
 * rotation order) adds its unspent axes, so the categories rotation would reach rounds later are measured now. When
 * that leaves nothing, the category's axes as they are (every axis spent is still better than no explorer).
 */
export function allocateAxes(
  categoryAxes: readonly Axis[],
  ledger: readonly MoveRecord[],
  devScreen: number,
  retired: ReadonlySet<Axis>,
  following: readonly Axis[] = [],
): Axis[] {
  const spent = spentAxes(ledger, devScreen);
  const out: Axis[] = [];
  for (const l of ledgerLeads(ledger, devScreen))
    if (l.move.axis !== 'baseline' && !retired.has(l.move.axis) && !out.includes(l.move.axis)) out.push(l.move.axis);
  for (const a of categoryAxes) if (!spent.has(a) && !out.includes(a)) out.push(a);
  for (const a of following) {
    if (out.length >= MIN_ACTIVE_AXES) break;
    if (a !== 'baseline' && !spent.has(a) && !retired.has(a) && !out.includes(a)) out.push(a);
  }
  return out.length > 0 ? out : [...categoryAxes];
}

/** Rounds, latest first, in which the move's dev gain held (cleared the screen) without a break. */
export function heldStreak(m: MoveRecord, devScreen: number): number {
  let n = 0;
  for (let i = m.devGains.length - 1; i >= 0 && m.devGains[i] > devScreen; i--) n++;
  return n;
}

/**
 * Step growth along the leads: each numeric lead becomes a search direction whose step scale is 1 + the rounds its
 * dev gain has held in a row (at most 4). A larger step that does not hold breaks the streak, and the next move is
 * the usual step again; a lead that stops being one drops its direction.
 */
export function leadDirections(ledger: readonly MoveRecord[], devScreen: number): Direction[] {
  const out: Direction[] = [];
  for (const { move: m } of ledgerLeads(ledger, devScreen)) {
    if (m.direction === 'set' || typeof m.latest.to !== 'number') continue;
    if (out.some((d) => d.path === m.path)) continue;
    out.push({
      path: m.path,
      direction: m.direction,
      paidRounds: [], // no promotion paid yet: the direction lasts while the ledger holds it as a lead
      stepScale: Math.min(4, 1 + heldStreak(m, devScreen)),
    });
  }
  return out;
}
