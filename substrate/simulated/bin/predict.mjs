#!/usr/bin/env node
// `predict` (frozen): answers for a prompts CSV.
//   node bin/predict.mjs --checkpoint CKPT --prompts prompts.csv --out predictions.csv [--device auto]
// Reads id,prompt; writes id,answer with the model's \boxed{...} output.
import { fail, parseFlags, readCsv, requireFlags, writeCsv } from '../lib/io.mjs';
import { loadWeights, solve, weightsKey } from '../lib/model.mjs';

const USAGE = 'usage: predict --checkpoint CKPT --prompts FILE.csv --out FILE.csv [--device auto|cpu|cuda]';
const flags = parseFlags(process.argv.slice(2), ['checkpoint', 'prompts', 'out', 'device'], USAGE);
requireFlags(flags, ['checkpoint', 'prompts', 'out'], USAGE);
let weights;
try {
  weights = loadWeights(flags.checkpoint);
} catch (e) {
  fail(e.message);
}
const key = weightsKey(weights);
const rows = readCsv(flags.prompts);
writeCsv(flags.out, rows.map((r) => ({ id: r.id, answer: solve(weights, r.prompt, key) })), ['id', 'answer']);
process.stdout.write(`predict: ${rows.length} rows -> ${flags.out}\n`);
