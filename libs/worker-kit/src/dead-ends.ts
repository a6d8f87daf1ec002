import { canonicalJson, type DeadEnd } from '@aevo/contracts';

export type Direction = 'increase' | 'decrease' | 'set';

/** The direction of a settings change: numeric moves are increase/decrease, anything else is a set. */
export function directionOf(from: unknown, to: unknown): Direction {
  if (typeof from === 'number' && typeof to === 'number')
    return to > from ? 'increase' : to < from ? 'decrease' : 'set';
  if (typeof from === 'boolean' && typeof to === 'boolean') return to ? 'increase' : 'decrease';
  return 'set';
}

/** A dead end's path covers itself and everything under it ("mix" covers "mix.equation"). */
const covers = (deadPath: string, path: string): boolean => path === deadPath || path.startsWith(`${deadPath}.`);

/**
 * The dead end a proposed change runs into, if any. Only dead ends with a recipe path can be matched
 * mechanically; a dead end without a direction forbids any change of that path, and a `set` dead end with a
 * value forbids exactly that value.
 */
export function matchingDeadEnd(
  change: { path: string; from?: unknown; to: unknown },
  deadEnds: readonly DeadEnd[],
): DeadEnd | null {
  const dir = directionOf(change.from, change.to);
  for (const d of deadEnds) {
    if (!d.path || !covers(d.path, change.path)) continue;
    if (!d.direction) return d;
    if (d.direction === 'set') {
      if (d.value === undefined || canonicalJson(d.value) === canonicalJson(change.to)) return d;
      continue;
    }
    if (d.direction === dir) return d;
  }
  return null;
}
