import { sha256Hex } from '@aevo/contracts';

/** mulberry32: a small, fast, seeded PRNG; the same seed gives the same sequence on every machine. */
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

/** A non-negative 31-bit seed derived from a label, so independent choices get independent streams. */
export function deriveSeed(...parts: Array<string | number>): number {
  return parseInt(sha256Hex(parts.join(':')).slice(0, 8), 16) & 0x7fffffff;
}

/** Fisher–Yates with the given generator (returns a new array). */
export function shuffled<T>(items: readonly T[], rnd: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
