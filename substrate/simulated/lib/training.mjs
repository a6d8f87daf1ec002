// The run plan shared by bin/train.mjs and the benchmark-only bin/expected-score.mjs (frozen): how a recipe
// + size + training rows become steps, batch, checkpoint steps, optimisation quality and divergence, and
// the surface context qualityAt() evaluates.  One code path, so expected scores are those of the real run.
import { join } from 'node:path';
import { LORA_DEFAULTS, SIZES, TRAIN_DEFAULTS } from './common.mjs';
import { readCsv } from './io.mjs';
import { dataStats, divergenceStep, optimisation, SURFACE } from './surface.mjs';
import { parsePrompt } from './world.mjs';

/** The recipe's train and lora settings with defaults; throws on an invalid recipe (train's messages). */
export function resolveTrain(recipe) {
  const unknown = Object.keys(recipe.train ?? {}).filter((k) => !(k in TRAIN_DEFAULTS));
  if (unknown.length)
    throw new Error(
      `unknown train settings: ${unknown.join(', ')}; known: ${Object.keys(TRAIN_DEFAULTS).join(', ')}`,
    );
  const train = { ...TRAIN_DEFAULTS, ...(recipe.train ?? {}) };
  const lora = { ...LORA_DEFAULTS, ...(recipe.lora ?? {}) };
  if (!(SURFACE.schedule[train.schedule] > 0))
    throw new Error(`unknown schedule ${train.schedule}; expected constant|cosine|linear`);
  if (!(Number(train.lr) > 0)) throw new Error(`lr must be positive, got ${train.lr}`);
  return { train, lora };
}

/** DATA/train.csv as rows with the (domain, variant) of their prompt and whether they are augmented copies. */
export function readTrainRows(dataDir) {
  return readCsv(join(dataDir, 'train.csv')).map((r) => {
    const p = parsePrompt(r.prompt);
    return { ...r, domain: p?.domain, variant: p?.variant, source: /\[augmented:/.test(r.prompt) ? 'augment' : 'data' };
  });
}

/**
 * The run: { batch, steps, every, rank, opt, divergeAt, lastGood, marks (checkpoint steps), ctx (for qualityAt) }.
 * base: the base checkpoint's latent quality; seed: the training seed (seed noise).
 */
export function planRun({ train, lora }, size, rows, base, seed) {
  const data = dataStats(rows);
  const sz = SIZES[size];
  let batch = Number(train.batch_size);
  let steps = train.epochs ? Math.ceil((Number(train.epochs) * rows.length) / batch) : Number(train.steps);
  let every = Math.max(1, Number(train.checkpoint_every));
  if (size === 'tiny') {
    steps = Math.min(steps, sz.maxSteps);
    batch = Math.min(batch, sz.maxBatch);
    every = Math.max(1, Math.floor(steps / 2));
  } else {
    steps = Math.round(steps * sz.stepsScale);
    batch *= sz.batchScale;
  }
  steps = Math.max(1, steps);
  const rank = Number(lora.rank);
  const opt = optimisation({ ...train, steps }, lora);
  // the learning-rate factor is evaluated on the recipe's own steps so warm-up fractions match across sizes
  const divergeAt = divergenceStep(train, lora, steps);
  const lastGood = divergeAt === null ? steps : divergeAt - 1;
  const marks = [];
  for (let s = every; s <= lastGood; s += every) marks.push(s);
  if (divergeAt === null && marks[marks.length - 1] !== steps) marks.push(steps);
  const ctx = { base, data, batch, opt, loraRank: rank, seed };
  return { batch, steps, every, rank, opt, divergeAt, lastGood, marks, ctx };
}
