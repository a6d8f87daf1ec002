// Deterministic randomness: everything is a pure function of strings (seeds, ids), never of time.
import { createHash } from 'node:crypto';

export function sha256(text) {
  return createHash('sha256').update(text).digest('hex');
}

/** Uniform [0, 1) from a string key. */
export function hash01(key) {
  const h = createHash('sha256').update(String(key)).digest();
  return h.readUInt32BE(0) / 4294967296;
}

/** Standard normal from a string key (Box-Muller over two hashed uniforms). */
export function normal(key) {
  const u1 = Math.max(hash01(`${key}#u1`), 1e-12);
  const u2 = hash01(`${key}#u2`);
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/** A seeded PRNG (mulberry32 over a hashed 32-bit seed) for sequential draws: rng() in [0, 1). */
export function makeRng(key) {
  let a = createHash('sha256').update(`rng:${key}`).digest().readUInt32BE(0);
  const rng = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  rng.int = (n) => Math.floor(rng() * n);
  rng.pick = (arr) => arr[Math.floor(rng() * arr.length)];
  rng.shuffle = (arr) => {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [arr[i], arr[j]] = [arr[j], arr[i]];
    }
    return arr;
  };
  return rng;
}
