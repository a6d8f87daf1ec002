import type { Axis, RecipeDocument, SearchHints } from '@aevo/contracts';
import { directionOf } from '../dead-ends';
import { isInt, sig3, type Candidate, type Setting } from './knobs';
import { mixWeights, numericMoves } from './moves';

export type Hint = SearchHints['directions'][number];

/** A hint's path covers itself and everything under it, like a dead end's. */
export const covers = (outer: string, path: string): boolean => path === outer || path.startsWith(`${outer}.`);
export const overlaps = (a: string, b: string): boolean => covers(a, b) || covers(b, a);
const fmt = (x: number): string => String(sig3(x));

/** The hinted direction a move continues: its first setting moves a hinted path the hinted way. */
export function hintOf(c: Candidate, hints: SearchHints | undefined): Hint | null {
  const st = c.settings[0];
  if (!hints || !st) return null;
  const dir = directionOf(st.from, st.value);
  return hints.directions.find((h) => covers(h.path, st.path) && h.direction === dir) ?? null;
}

/**
 * The move continued along a direction that paid, its step widened: factor f becomes f^stepScale (integer knobs
 * rounded, probabilities capped; a setting switched on from 0 widens its start value). Companion settings of
 * the move (LoRA alpha with its rank) follow the first setting's new ratio. The hypothesis says why (`reason`
 * replaces the direction's own: a wider step a round's further explorer takes, say).
 */
export function continueHinted(c: Candidate, h: Hint, reason?: string): Candidate {
  const st = c.settings[0];
  const paid =
    reason ??
    (h.paidRounds.length === 0
      ? `${h.direction} of ${h.path} is a lead of the move ledger (its paired dev gain held; step scale ` +
        `${h.stepScale} from the policy)`
      : `${h.direction} of ${h.path} paid in round${h.paidRounds.length === 1 ? '' : 's'} ${h.paidRounds.join(', ')}`);
  const unchanged = { ...c, why: `${c.why} (continues the direction that paid: ${paid})` };
  if (h.stepScale === 1 || typeof st.from !== 'number' || typeof st.value !== 'number') return unchanged;
  if (st.from === 0) return switchedOnWider(c, h, paid) ?? unchanged;
  const from = st.from;
  const to = st.value;
  const factor = c.step?.factor ?? to / from;
  const integer = c.step?.integer ?? (isInt(from) && isInt(to));
  const f = factor ** h.stepScale;
  let wide = integer ? Math.max(1, Math.round(from * f)) : sig3(from * f);
  // Rounding may eat the widening of a small integer (a mix weight of 1 × 1.5² → 2, as × 1.5): one unit further.
  if (integer && wide === to) wide = to + (to > from ? 1 : -1);
  if (c.step?.max !== undefined) wide = Math.min(c.step.max, wide);
  if (integer && wide < 1) return unchanged;
  if (wide === from || wide === to || directionOf(from, wide) !== h.direction) return unchanged;
  const ratio = wide / from;
  const settings: Setting[] = [
    { ...st, value: wide },
    ...c.settings.slice(1).map((o) =>
      typeof o.from === 'number' && typeof o.value === 'number' && o.from !== 0
        ? {
            ...o,
            value: isInt(o.from) && isInt(o.value) ? Math.max(1, Math.round(o.from * ratio)) : sig3(o.from * ratio),
          }
        : o,
    ),
  ];
  const arrow = `→ ${to}`;
  const base = c.why.includes(arrow) ? c.why.replace(arrow, `→ ${wide}`) : `${c.why}, widened to ${wide}`;
  return {
    ...c,
    settings,
    why:
      `${base} (step widened from ×${fmt(factor)} to ×${fmt(f)} = ×${fmt(factor)}^${h.stepScale}, because ` +
      `the ${paid})`,
  };
}

/**
 * A setting switched on from 0 (an augmenter at 0.25, say) has no ratio to widen: its start value takes the step
 * factor stepScale − 1 more times (0.25 → 0.5 at scale 2 for a ×2 knob), integer knobs rounded, probabilities capped.
 */
function switchedOnWider(c: Candidate, h: Hint, paid: string): Candidate | null {
  const st = c.settings[0];
  const factor = c.step?.factor;
  if (c.settings.length !== 1 || typeof st.value !== 'number' || st.value <= 0 || !factor || factor <= 1) return null;
  if (h.direction !== 'increase') return null;
  const f = factor ** (h.stepScale - 1);
  let wide = c.step?.integer ? Math.round(st.value * f) : sig3(st.value * f);
  if (c.step?.max !== undefined) wide = Math.min(c.step.max, wide);
  if (wide <= st.value) return null;
  const arrow = `→ ${st.value}`;
  const base = c.why.includes(arrow) ? c.why.replace(arrow, `→ ${wide}`) : `${c.why}, widened to ${wide}`;
  return {
    ...c,
    settings: [{ ...st, value: wide }],
    why: `${base} (start value ${st.value} × ${fmt(factor)}^${h.stepScale - 1}, because the ${paid})`,
  };
}

/**
 * Moves the axis owns although its operator would not propose them now: a mix domain's weight that paid when
 * raised (or lowered) is the data-mix axis's to move again, however its weight compares with the others'.
 */
export function hintedOwnMoves(axis: Axis, recipe: RecipeDocument, hints: SearchHints): Candidate[] {
  if (axis !== 'data-mix') return [];
  const mix = mixWeights(recipe);
  if (!mix) return [];
  const out: Candidate[] = [];
  for (const h of hints.directions) {
    const domain = h.path.startsWith(`${mix.path}.`) ? h.path.slice(mix.path.length + 1) : null;
    const w = domain === null ? undefined : mix.weights[domain];
    if (w === undefined) continue;
    const moves = numericMoves(
      h.path,
      w,
      h.direction === 'increase' ? { up: [1.5], down: [] } : { up: [], down: [0.5] },
      `weight of ${domain}`,
    );
    out.push(
      ...moves.map((c) => ({ ...c, why: c.why.replace(/^raise/, 'up-weight').replace(/^lower/, 'down-weight') })),
    );
  }
  return out;
}

/** Fisher–Yates on a copy, driven by the operator's seeded generator. */
export function shuffled<T>(xs: readonly T[], random: () => number): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
