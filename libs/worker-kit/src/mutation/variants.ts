import {
  canonicalJson,
  deriveSeed,
  seededRandom,
  type Axis,
  type RecipeChange,
  type RollingPolicy,
  type SearchHints,
} from '@aevo/contracts';
import { directionOf } from '../dead-ends';
import type { Candidate } from './knobs';
import { continueHinted, hintOf, shuffled, type Hint } from './hints';

/*
 * Distinct explorers without a shared memory. Two explorers of one axis in one round train on the same (paired) seed:
 * when both make the same move, the second measures nothing. Each worker therefore places itself among its round's
 * explorers of the axis (its occurrence) and takes that position in a list of distinct variants every one of them
 * builds the same way (same moves, same seeded order): the first explorer the move at the policy's step, the next the
 * same move one step further along it, the next another move, and so on.
 */

/** Where an explorer stands among its round's explorers of the same axis. */
export interface ExplorerSlot {
  /** Consecutive explorers of one axis in a round have consecutive occurrences (the absolute value does not matter). */
  occurrence: number;
  /** Shared by every explorer of the axis in the round: they order the same variants the same way. */
  sharedSeed: number;
}

/**
 * The slot of an explorer. The round's plan (orchestrator `planRound`) puts its prescribed runs first and then takes
 * the policy's active axes round-robin, so two explorers of one axis stand exactly `activeAxes.length` plan indices
 * apart (in the first two passes, which is every explorer at 8 workers): ⌊(index − 1) / n⌋ differs by one between
 * them, whatever the number of prescribed runs before them. An axis outside the active ones (a further slot of the
 * plan) has one explorer: occurrence 0. None for the anchor.
 */
export function explorerSlot(
  fork: { round: number; index: number; axis: Axis; isAnchor: boolean; seeds: readonly number[] },
  policy: Pick<RollingPolicy, 'activeAxes'>,
): ExplorerSlot | undefined {
  const axes = policy.activeAxes.filter((a) => a !== 'baseline');
  if (fork.isAnchor || fork.axis === 'baseline' || fork.index < 1 || axes.length === 0) return undefined;
  const occurrence = axes.includes(fork.axis) ? Math.floor((fork.index - 1) / axes.length) : 0;
  return { occurrence, sharedSeed: deriveSeed('explorer-variants', fork.round, fork.axis, fork.seeds.join(',')) };
}

/** What a move sets (paths with values, and a selection criterion), the same for a prescribed change. */
const moveKey = (settings: ReadonlyArray<{ path: string; value: unknown }>, criterion?: unknown): string =>
  canonicalJson({
    set: [...settings].sort((a, b) => a.path.localeCompare(b.path)).map((s) => [s.path, s.value]),
    criterion: criterion ?? null,
  });

/**
 * The moves the policy already has trained this round as prescribed runs on the paired seed (confirmations,
 * decoupling probes repeating a suspect's move, the combination): an explorer repeating one measures nothing new.
 */
export function prescribedMoveKeys(policy: RollingPolicy): Set<string> {
  const of = (changes: readonly RecipeChange[]) => moveKey(changes.map((c) => ({ path: c.path, value: c.to })));
  const keys = new Set<string>();
  for (const p of policy.pendingConfirmations ?? []) keys.add(of(p.changes));
  for (const h of policy.decouplingHypotheses ?? []) if (h.status === 'suspected') keys.add(of(h.suspectChanges));
  if (policy.combination) keys.add(of(policy.combination.changes));
  return keys;
}

/**
 * The distinct variants of an axis's moves, in the order every explorer of the axis builds: the preferred moves (the
 * hinted ones, when the axis has any) in the shared seeded order, each followed by the same move one step further (a
 * hinted one at stepScale + 1, any other numeric step at its factor squared), then the same for `others` (the axis's
 * further moves: a lead's two steps can round to one on a small integer knob); never a dead end, never a move a
 * prescribed run of the round makes (unless nothing else is left), no two alike.
 */
export function slotVariants(
  raw: readonly Candidate[],
  others: readonly Candidate[],
  axis: Axis,
  hints: SearchHints | undefined,
  continued: (c: Candidate) => Candidate | null,
  isDeadEnd: (c: Candidate) => boolean,
  sharedSeed: number,
  prescribed: ReadonlySet<string>,
): Candidate[] {
  const all: Candidate[] = [];
  const seen = new Set<string>();
  const add = (c: Candidate) => {
    const k = moveKey(c.settings, c.criterion);
    if (seen.has(k)) return;
    seen.add(k);
    all.push(c);
  };
  const random = seededRandom(sharedSeed);
  for (const c of [...shuffled(raw, random), ...shuffled(others, random)]) {
    add(continued(c) ?? c);
    const wider = furtherStep(c, axis, hintOf(c, hints));
    if (wider && !isDeadEnd(wider) && moveKey(wider.settings) !== moveKey(c.settings)) add(wider);
  }
  const fresh = all.filter((c) => !prescribed.has(moveKey(c.settings, c.criterion)));
  return fresh.length > 0 ? fresh : all;
}

/** The move one step further along its own direction; null for a move without a numeric step. */
function furtherStep(c: Candidate, axis: Axis, h: Hint | null): Candidate | null {
  const st = c.settings[0];
  if (!st || !c.step || typeof st.from !== 'number' || typeof st.value !== 'number' || st.from === st.value)
    return null;
  const direction = directionOf(st.from, st.value);
  if (direction !== 'increase' && direction !== 'decrease') return null;
  const scale = (h?.stepScale ?? 1) + 1;
  const reason = h
    ? `${h.direction} of ${h.path} holds at the policy's step scale ${h.stepScale}; a further explorer of axis ` +
      `${axis} this round measures the next step (scale ${scale})`
    : `further explorers of axis ${axis} in one round measure distinct moves: this one the next step along the same ` +
      `direction`;
  return continueHinted(c, { path: st.path, direction, paidRounds: h?.paidRounds ?? [], stepScale: scale }, reason);
}
