#!/usr/bin/env node
// `train` (frozen): evaluates the response surface instead of training.
//   node bin/train.mjs --recipe recipe.yaml --data-dir DATA --base base/checkpoint.json --out CKPTS
//                      [--size tiny|cpu|gpu] [--device auto|cpu|cuda] [--seed N]
// Writes CKPTS/step-000123/{checkpoint.json,weights.json} every checkpoint_every steps and at the last step,
// and CKPTS/train-summary.json.  Too high a learning rate diverges: status "diverged", DIVERGED, exit 3.
import { join } from 'node:path';
import { checkSize, LORA_DEFAULTS, pickDevice, SIZES, TRAIN_DEFAULTS } from '../lib/common.mjs';
import { fail, loadRecipe, parseFlags, readCsv, requireFlags, seedFlag, sha256File, writeJson } from '../lib/io.mjs';
import { loadWeights, WEIGHTS } from '../lib/model.mjs';
import { dataStats, divergenceStep, optimisation, qualityAt, SURFACE } from '../lib/surface.mjs';
import { DOMAINS, parsePrompt } from '../lib/world.mjs';

const USAGE =
  'usage: train --recipe FILE --data-dir DIR --base FILE --out DIR [--size tiny|cpu|gpu] [--device auto|cpu|cuda] [--seed N]';
const flags = parseFlags(process.argv.slice(2), ['recipe', 'data-dir', 'base', 'out', 'size', 'device', 'seed'], USAGE);
requireFlags(flags, ['recipe', 'data-dir', 'base', 'out'], USAGE);

let size;
try {
  size = checkSize(flags.size);
} catch (e) {
  fail(e.message);
}
const { recipe, sha256: recipeSha } = loadRecipe(flags.recipe);
const unknown = Object.keys(recipe.train ?? {}).filter((k) => !(k in TRAIN_DEFAULTS));
if (unknown.length) fail(`unknown train settings: ${unknown.join(', ')}; known: ${Object.keys(TRAIN_DEFAULTS).join(', ')}`);
const train = { ...TRAIN_DEFAULTS, ...(recipe.train ?? {}) };
const lora = { ...LORA_DEFAULTS, ...(recipe.lora ?? {}) };
if (!(SURFACE.schedule[train.schedule] > 0)) fail(`unknown schedule ${train.schedule}; expected constant|cosine|linear`);
if (!(Number(train.lr) > 0)) fail(`lr must be positive, got ${train.lr}`);
const seed = seedFlag(flags.seed, recipe.seed);
const device = pickDevice(flags.device);

const rows = readCsv(join(flags['data-dir'], 'train.csv')).map((r) => {
  const p = parsePrompt(r.prompt);
  return { ...r, domain: p?.domain, variant: p?.variant, source: /\[augmented:/.test(r.prompt) ? 'augment' : 'data' };
});
if (!rows.length) fail(`${flags['data-dir']}/train.csv has no rows`);
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

const base = loadWeights(flags.base);
const baseSha = sha256File(flags.base.endsWith('.json') ? flags.base : join(flags.base, WEIGHTS));
const rank = Number(lora.rank);
const opt = optimisation({ ...train, steps }, lora);
// the learning-rate factor is evaluated on the recipe's own steps so warm-up fractions match across sizes
const divergeAt = divergenceStep(train, lora, steps);
const lastGood = divergeAt === null ? steps : divergeAt - 1;
const ctx = { base: base.quality, data, batch, opt, loraRank: rank, seed };

const perStepSeconds = (batch * SURFACE.secondsPerExample) / (device.startsWith('cuda') ? SURFACE.gpuSpeedup : 1);
const lossOf = (quality) => {
  const mean = DOMAINS.reduce((s, d) => s + Object.values(quality[d]).reduce((a, b) => a + b, 0) / Object.keys(quality[d]).length, 0) / DOMAINS.length;
  return Math.round(2.4 * Math.exp(-2.2 * mean) * 1e6) / 1e6;
};

const marks = [];
for (let s = every; s <= lastGood; s += every) marks.push(s);
if (divergeAt === null && marks[marks.length - 1] !== steps) marks.push(steps);

const checkpoints = [];
let finalLoss = null;
const curve = [];
for (const step of marks) {
  const { quality, shares } = qualityAt(step, steps, ctx);
  const loss = lossOf(quality);
  finalLoss = loss;
  const name = `step-${String(step).padStart(6, '0')}`;
  const dir = join(flags.out, name);
  writeJson(join(dir, WEIGHTS), { quality, key: `${recipeSha}:${seed}:${step}:${size}`, step, seed });
  writeJson(join(dir, 'checkpoint.json'), {
    step,
    seed,
    trainLoss: loss,
    recipeSha256: recipeSha,
    size,
    device,
    diverged: false,
    weights: WEIGHTS,
    baseSha256: baseSha,
    loraRank: rank,
    shares,
  });
  checkpoints.push(name);
  curve.push({ step, loss });
  process.stdout.write(`step ${step}/${steps} loss ${loss.toFixed(4)}\n`);
}

const status = divergeAt === null ? 'ok' : 'diverged';
const doneSteps = divergeAt === null ? steps : divergeAt;
if (status === 'diverged') finalLoss = null;
const seconds = Math.round((2 + doneSteps * perStepSeconds + checkpoints.length * SURFACE.secondsPerCheckpoint) * 1000) / 1000;
writeJson(join(flags.out, 'train-summary.json'), {
  status,
  steps: doneSteps,
  checkpoints,
  finalLoss,
  seconds,
  device,
  size,
  seed,
  plannedSteps: steps,
  batchSize: batch,
  rows: rows.length,
  loraRank: rank,
  recipeSha256: recipeSha,
  optimisation: opt,
  lossCurve: curve,
  simulated: true,
});
if (status === 'diverged') {
  process.stdout.write(`step ${divergeAt}: loss nan -- DIVERGED\nDIVERGED\n`);
  process.exit(3);
}
process.stdout.write(`train: done (simulated ${seconds}s), final loss ${finalLoss}, checkpoints ${checkpoints.join(' ')}\n`);
