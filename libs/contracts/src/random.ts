import { sha256Hex } from './hash';

/**
 * The one seeded generator of the control plane (mulberry32): the same seed gives the same sequence on every
 * machine, uniform in [0, 1). Every seeded choice the loop records (round plans, the heuristic worker's
 * proposals, sample logs) draws from it, so a recorded seed rebuilds the same choice on replay. Changing the
 * algorithm changes recorded outputs.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A non-negative 31-bit seed derived from labelled parts (the first 8 hex digits of sha256 of the parts joined
 * by ':'), so independent choices get independent streams.
 */
export function deriveSeed(...parts: Array<string | number>): number {
  return parseInt(sha256Hex(parts.join(':')).slice(0, 8), 16) & 0x7fffffff;
}

/** Fisher–Yates with the given generator (returns a new array; the input is left as it is). */
export function shuffled<T>(items: readonly T[], rnd: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
