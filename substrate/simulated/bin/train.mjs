#!/usr/bin/env node
// `train` (frozen): evaluates the response surface instead of training.
//   node bin/train.mjs --recipe recipe.yaml --data-dir DATA --base base/checkpoint.json --out CKPTS
//                      [--size tiny|cpu|gpu] [--device auto|cpu|cuda] [--seed N]
// Writes CKPTS/step-000123/{checkpoint.json,weights.json} every checkpoint_every steps and at the last step,
// and CKPTS/train-summary.json.  Too high a learning rate diverges: status "diverged", DIVERGED, exit 3.
import { join } from 'node:path';
import { checkSize, pickDevice } from '../lib/common.mjs';
import { fail, loadRecipe, parseFlags, requireFlags, seedFlag, sha256File, writeJson } from '../lib/io.mjs';
import { loadWeights, WEIGHTS } from '../lib/model.mjs';
import { qualityAt, SURFACE } from '../lib/surface.mjs';
import { planRun, readTrainRows, resolveTrain } from '../lib/training.mjs';
import { DOMAINS } from '../lib/world.mjs';

const USAGE =
  'usage: train --recipe FILE --data-dir DIR --base FILE --out DIR ' +
  '[--size tiny|cpu|gpu] [--device auto|cpu|cuda] [--seed N]';
const flags = parseFlags(process.argv.slice(2), ['recipe', 'data-dir', 'base', 'out', 'size', 'device', 'seed'], USAGE);
requireFlags(flags, ['recipe', 'data-dir', 'base', 'out'], USAGE);

let size;
try {
  size = checkSize(flags.size);
} catch (e) {
  fail(e.message);
}
const { recipe, sha256: recipeSha } = loadRecipe(flags.recipe);
let settings;
try {
  settings = resolveTrain(recipe);
} catch (e) {
  fail(e.message);
}
const seed = seedFlag(flags.seed, recipe.seed);
const device = pickDevice(flags.device);

const rows = readTrainRows(flags['data-dir']);
if (!rows.length) fail(`${flags['data-dir']}/train.csv has no rows`);

const base = loadWeights(flags.base);
const baseSha = sha256File(flags.base.endsWith('.json') ? flags.base : join(flags.base, WEIGHTS));
// the plan (steps, batch, checkpoint steps, optimisation, divergence) is shared with bin/expected-score.mjs
const { batch, steps, rank, opt, divergeAt, marks, ctx } = planRun(settings, size, rows, base.quality, seed);

const perStepSeconds = (batch * SURFACE.secondsPerExample) / (device.startsWith('cuda') ? SURFACE.gpuSpeedup : 1);
const lossOf = (quality) => {
  const mean =
    DOMAINS.reduce(
      (s, d) => s + Object.values(quality[d]).reduce((a, b) => a + b, 0) / Object.keys(quality[d]).length,
      0,
    ) / DOMAINS.length;
  return Math.round(2.4 * Math.exp(-2.2 * mean) * 1e6) / 1e6;
};

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
const seconds =
  Math.round((2 + doneSteps * perStepSeconds + checkpoints.length * SURFACE.secondsPerCheckpoint) * 1000) / 1000;
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
process.stdout.write(
  `train: done (simulated ${seconds}s), final loss ${finalLoss}, checkpoints ${checkpoints.join(' ')}\n`,
);
