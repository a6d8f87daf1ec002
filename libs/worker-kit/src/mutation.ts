import { Axis, seededRandom, type RecipeDocument, type RollingPolicy, type SearchHints } from '@aevo/contracts';
import { matchingDeadEnd, directionOf } from './dead-ends';
import { getPath } from './recipe-doc';

import { findKnob, isInt, sig3, type Candidate, type Knob, type Proposal, type Setting } from './mutation/knobs';
import { candidatesFor, numericMoves, tiersFor } from './mutation/moves';
import { continueHinted, covers, hintedOwnMoves, hintOf, overlaps, shuffled } from './mutation/hints';
import { prescribedMoveKeys, slotVariants, type ExplorerSlot } from './mutation/variants';

export { KNOB_PATHS, SCHEDULES, findKnob, type Knob, type Proposal, type Setting } from './mutation/knobs';
export { explorerSlot, type ExplorerSlot } from './mutation/variants';

/**
 * The heuristic worker's mutation operator: a deterministic, seeded choice of one admissible change on the
 * axis. Admissible = changes a setting the standing recipe has, and matches no dead end of the policy. Under
 * `transfer-to-lb` the operators prefer rebalancing over-represented domains to pumping the weak dev domain:
 * the preferred moves come first and the seed picks among the first admissible group.
 *
 * The policy's search hints (absent: exactly the behaviour above) change the size and combination of moves:
 * a move of the axis that continues a direction that paid is preferred to every other, with its step widened
 * (factor f → f^stepScale); and with `maxKnobsPerMove` k > 1 the proposal combines up to k settings on distinct
 * paths — the axis's move plus further moves along hinted directions (any axis) or other admissible moves of the
 * axis, never two settings on one path, never a dead end, chosen by the same seeded generator.
 *
 * With the explorer's `slot` (its place among the round's explorers of the axis), the first move is not drawn by the
 * seed but taken at the slot's position in the axis's distinct variants (`slotVariants`), so explorers of one axis in
 * one round make different moves, none of them a move a prescribed run of the round already makes.
 */
export function proposeMutation(
  axis: Axis,
  recipe: RecipeDocument,
  policy: RollingPolicy,
  seed: number,
  domains: readonly string[] = [],
  slot?: ExplorerSlot,
): Proposal {
  const random = seededRandom(seed);
  const tiers = tiersFor(axis, recipe, policy, domains);
  const avoided: string[] = [];
  const deadEndOf = (c: Candidate): string | null => {
    for (const st of c.settings) {
      const d = matchingDeadEnd({ path: st.path, from: st.from, to: st.value }, policy.deadEnds);
      if (d) return `${st.path} ${directionOf(st.from, st.value)} (dead end ${d.id}: ${d.description})`;
    }
    return null;
  };
  const admissibleOf = (moves: Candidate[]) =>
    moves.filter((c) => {
      const d = deadEndOf(c);
      if (d) avoided.push(d);
      return d === null;
    });
  const perTier = tiers.map(admissibleOf);
  const hints = policy.searchHints;
  /** A hinted move, widened; the usual-size move where the widened one would run into a dead end. */
  const continued = (c: Candidate): Candidate | null => {
    const h = hintOf(c, hints);
    if (!h) return null;
    const wide = continueHinted(c, h);
    return deadEndOf(wide) === null
      ? wide
      : { ...c, why: `${c.why} (continues the direction that paid; the widened step is a dead end)` };
  };
  // With hints, the axis owns every move of its operators (all tiers) and the hinted moves of its knobs.
  const owned = hints ? [...perTier.flat()] : [];
  if (hints)
    for (const c of admissibleOf(hintedOwnMoves(axis, recipe, hints))) {
      const dir = directionOf(c.settings[0].from, c.settings[0].value);
      if (
        !owned.some(
          (o) =>
            o.settings[0]?.path === c.settings[0].path && directionOf(o.settings[0].from, o.settings[0].value) === dir,
        )
      )
        owned.push(c);
    }
  const hinted = owned.flatMap((c) => continued(c) ?? []);
  const preferred = hinted.length > 0 ? hinted : (perTier.find((t) => t.length > 0) ?? []);
  const anyMove = tiers.some((t) => t.length > 0);
  if (preferred.length === 0) {
    return {
      settings: [],
      avoided,
      hypothesis: !anyMove
        ? `no setting of axis ${axis} exists in the standing recipe; running it unchanged as an extra noise sample`
        : `every change on axis ${axis} is a registered dead end; running the standing recipe unchanged`,
    };
  }
  let pick = preferred[Math.floor(random() * preferred.length)];
  if (slot) {
    const hintedRaw = owned.filter((c) => hintOf(c, hints) !== null);
    const firstTier = perTier.find((t) => t.length > 0) ?? [];
    const variants = slotVariants(
      hintedRaw.length > 0 ? hintedRaw : preferred,
      hintedRaw.length > 0 ? firstTier.filter((c) => hintOf(c, hints) === null) : [],
      axis,
      hints,
      continued,
      (c) => deadEndOf(c) !== null,
      slot.sharedSeed,
      prescribedMoveKeys(policy),
    );
    if (variants.length > 0) pick = variants[slot.occurrence % variants.length];
  }
  const extras =
    hints && hints.maxKnobsPerMove > 1
      ? combine(pick, axis, recipe, policy, domains, hints, owned, deadEndOf, avoided, random)
      : [];
  const settings = [...pick.settings, ...extras.flatMap((e) => e.settings)];
  const why = [
    pick.why,
    ...extras.map((e) => `combined with: ${e.why}`),
    extras.length > 0
      ? `one move of ${settings.length} knobs (at most ${hints!.maxKnobsPerMove}): ` +
        `${settings.map((s) => s.path).join(', ')}`
      : '',
    policy.objective === 'transfer-to-lb' && (axis === 'data-mix' || axis === 'synthetic-data')
      ? 'objective transfer-to-lb: prefer rebalancing over-represented domains to chasing the weak dev domain'
      : '',
    avoided.length > 0 ? `avoided dead ends: ${avoided.join('; ')}` : '',
  ]
    .filter(Boolean)
    .join('; ');
  return { settings, criterion: pick.criterion, hypothesis: why, avoided };
}

/**
 * Further moves for a combined proposal: first moves along hinted directions from any axis's operators (a hinted
 * numeric path no operator moves gets the usual ×1.5 / ×0.5 step), then the axis's other admissible moves; each
 * group in seeded order, taken while the settings fit in k and no path overlaps one already set.
 */
function combine(
  pick: Candidate,
  axis: Axis,
  recipe: RecipeDocument,
  policy: RollingPolicy,
  domains: readonly string[],
  hints: SearchHints,
  sameAxis: Candidate[],
  deadEndOf: (c: Candidate) => string | null,
  avoided: string[],
  random: () => number,
): Candidate[] {
  const budget = hints.maxKnobsPerMove;
  const usable = (c: Candidate) => c.settings.length > 0 && !c.criterion;
  const fromHints: Candidate[] = [];
  const seen = new Set<string>();
  const consider = (c: Candidate) => {
    if (!usable(c)) return;
    const h = hintOf(c, hints);
    if (!h) return;
    const d = deadEndOf(c);
    if (d) {
      if (!avoided.includes(d)) avoided.push(d);
      return;
    }
    let wide = continueHinted(c, h);
    if (deadEndOf(wide) !== null) wide = c;
    const key = JSON.stringify(wide.settings);
    if (seen.has(key)) return;
    seen.add(key);
    fromHints.push(wide);
  };
  for (const ax of Axis.options)
    for (const c of ax === axis ? sameAxis : candidatesFor(ax, recipe, policy, domains)) consider(c);
  // A hinted numeric setting no operator moves: the usual step of a numeric leaf.
  for (const h of hints.directions) {
    if (fromHints.some((c) => c.settings.some((st) => covers(h.path, st.path)))) continue;
    const v = getPath(recipe, h.path);
    if (typeof v === 'number')
      for (const c of numericMoves(
        h.path,
        v,
        h.direction === 'increase' ? { up: [1.5], down: [] } : { up: [], down: [0.5] },
        h.path,
      ))
        consider(c);
  }
  const others = sameAxis.filter((c) => usable(c) && c !== pick && hintOf(c, hints) === null);
  const chosen: Candidate[] = [];
  const paths = [...pick.settings.map((s) => s.path)];
  let count = pick.settings.length;
  for (const c of [...shuffled(fromHints, random), ...shuffled(others, random)]) {
    if (count >= budget) break;
    if (count + c.settings.length > budget) continue;
    if (c.settings.some((st) => paths.some((p) => overlaps(p, st.path)))) continue;
    chosen.push(c);
    paths.push(...c.settings.map((s) => s.path));
    count += c.settings.length;
  }
  return chosen;
}

export interface RetryFix {
  settings: Setting[];
  note: string;
}

/**
 * One retry after a failed training job, with a fix that fits the failure: lower the learning rate after a
 * divergence, fewer steps and a smaller batch after a timeout, a smaller batch after running out of memory, and
 * the same recipe again after an infrastructure loss. The anchor never changes its recipe.
 */
export function retryFix(
  reason: string | null,
  logTail: string,
  recipe: RecipeDocument,
  policy: RollingPolicy,
  isAnchor: boolean,
): RetryFix {
  if (isAnchor) return { settings: [], note: 'anchor: retry the standing recipe unchanged' };
  const admissible = (s: Setting) => !matchingDeadEnd({ path: s.path, from: s.from, to: s.value }, policy.deadEnds);
  const halve = (knob: Knob, label: string): Setting | null => {
    const k = findKnob(recipe, knob);
    if (!k || typeof k.value !== 'number' || k.value <= 0) return null;
    const to = isInt(k.value) ? Math.max(1, Math.round(k.value / 2)) : sig3(k.value / 2);
    const s = { path: k.path, from: k.value, value: to };
    void label;
    return to !== k.value && admissible(s) ? s : null;
  };
  const diverged = reason === 'diverged' || /DIVERGED|nan|inf loss/i.test(logTail);
  if (diverged) {
    const lr = halve('lr', 'learning rate');
    if (lr) return { settings: [lr], note: `diverged: halve the learning rate ${lr.from} → ${lr.value}` };
    const clip = findKnob(recipe, 'clip');
    if (clip) {
      const s = {
        path: clip.path,
        from: clip.value,
        value: typeof clip.value === 'number' && clip.value > 0 ? sig3(clip.value / 2) : 1.0,
      };
      if (admissible(s)) return { settings: [s], note: `diverged: tighten gradient clipping → ${s.value}` };
    }
    return { settings: [], note: 'diverged, and no admissible fix: retry unchanged' };
  }
  if (reason === 'timeout' || reason === 'deadline-exceeded') {
    const settings = [halve('steps', 'steps'), halve('batch', 'batch size')].filter((s): s is Setting => s !== null);
    return {
      settings,
      note: settings.length
        ? `timed out: ${settings.map((s) => `${s.path} ${s.from} → ${s.value}`).join(', ')}`
        : 'timed out: retry unchanged',
    };
  }
  if (/out of memory|MemoryError|Killed|OOM/i.test(logTail)) {
    const b = halve('batch', 'batch size');
    if (b) return { settings: [b], note: `out of memory: batch size ${b.from} → ${b.value}` };
  }
  return { settings: [], note: `failed (${reason ?? 'unknown'}): retry unchanged once` };
}
