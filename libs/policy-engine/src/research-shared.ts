import type { RecipeChange } from '@aevo/contracts';

/* Helpers the research designs share; not part of the package's exports. */

/** Rounded to six decimals, without a negative zero (recorded values compare across runs). */
export const r6 = (x: number) => {
  const v = Math.round(x * 1e6) / 1e6;
  return Object.is(v, -0) ? 0 : v;
};

/** A gain as printed in a rationale: signed, four decimals; n/a when unknown. */
export const signed = (x: number | null) => (x === null ? 'n/a' : (x >= 0 ? '+' : '') + x.toFixed(4));

/** The ledger key of a move: its path and direction (or the value it sets). */
export const moveKey = (c: RecipeChange) => {
  const d = changeDirection(c);
  return d === 'set' ? `${c.path}|set|${JSON.stringify(c.to)}` : `${c.path}|${d}`;
};

export function changeDirection(c: RecipeChange): 'increase' | 'decrease' | 'set' {
  if (typeof c.from === 'number' && typeof c.to === 'number')
    return c.to > c.from ? 'increase' : c.to < c.from ? 'decrease' : 'set';
  if (typeof c.from === 'boolean' && typeof c.to === 'boolean') return c.to ? 'increase' : 'decrease';
  return 'set';
}
