// Surface variants (frozen; BENCHMARK-ONLY).  A substrate directory made by `node sim/make-variant.mjs`
// carries lib/variant.json ({ "variant": NAME, ... }); without it (the designed substrate) VARIANT is null
// and every other module behaves exactly as designed.  The variant's parameters live here, not in the
// JSON file, so they are documented in one place (README.md, "Benchmark-only: expected scores and variants").
import { existsSync, readFileSync } from 'node:fs';

export const VARIANT_DEFS = {
  // A second dev/leaderboard decoupling region, on cipher, with a later onset than equation's: above a
  // cipher share of `threshold` of the training rows, the last third of training memorises the pool's
  // (dev-style) cipher template: standard cipher (what dev measures) gains up to devBonus x excess while
  // the leaderboard-only `keyed` cipher loses up to lbOverfit x excess (both ramp in linearly from
  // `start` of training to the end).  The hidden split's cipher rows are 30% standard, 70% keyed.
  'late-decoupling': {
    description: 'a second, later dev/leaderboard decoupling region on cipher (leaderboard-only keyed cipher)',
    decoupling: {
      domain: 'cipher',
      devVariant: 'standard',
      lbVariant: 'keyed',
      threshold: 0.24,
      start: 2 / 3,
      devBonus: 2.5,
      lbOverfit: 3.0,
    },
    // the keyed cipher skill: learns from keyed rows + `transfer` of the standard cipher effective examples
    skill: { rate: 0.8, ceil: 0.75, transfer: 0.5, base: 0.05 },
    hiddenVariants: { cipher: { standard: 0.3, keyed: 0.7 } },
  },
  // A noisier public board: 150 public rows instead of 600 (private unchanged), plus a per-submission
  // shift N(0, publicScoreNoise) of every public score (keyed by the predictions and the answer key, so
  // the same predictions always get the same score).  Expected scores are unchanged.
  'noisy-public': {
    description: 'a noisier public leaderboard half (150 rows, per-submission score noise); expectations unchanged',
    publicRows: 150,
    publicScoreNoise: 0.02,
  },
};

function load() {
  const file = new URL('./variant.json', import.meta.url);
  if (!existsSync(file)) return null;
  const doc = JSON.parse(readFileSync(file, 'utf8'));
  const def = VARIANT_DEFS[doc?.variant];
  if (!def)
    throw new Error(
      `lib/variant.json names an unknown variant ${JSON.stringify(doc?.variant)}; ` +
        `known: ${Object.keys(VARIANT_DEFS).join(', ')}`,
    );
  return { name: doc.variant, ...def };
}

/** The active variant ({ name, ...definition }) or null for the designed surface. */
export const VARIANT = load();
export const VARIANT_NAME = VARIANT?.name ?? null;
/** The variant's extra decoupling region, or null. */
export const VARIANT_DECOUPLING = VARIANT?.decoupling ?? null;
