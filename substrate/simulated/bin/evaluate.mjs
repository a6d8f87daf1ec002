#!/usr/bin/env node
// `evaluate` (frozen): per-domain accuracy of one checkpoint on a split, through the real metric path.
//   node bin/evaluate.mjs --checkpoint CKPT --split dev --out scores.json [--device auto] [--limit N]
// --split dev is data/dev.csv; anything else is read as a CSV path (id,prompt,answer).  A checkpoint
// trained at size tiny is evaluated on every 10th row.  Output: { checkpoint, split, overall, n, domains }.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DEV_CSV, SIZES } from '../lib/common.mjs';
import { fail, parseFlags, readCsv, readJson, requireFlags, writeJson } from '../lib/io.mjs';
import { aggregate, scoreOutput } from '../lib/metric.mjs';
import { loadWeights, solve, weightsKey } from '../lib/model.mjs';
import { DOMAINS, parsePrompt } from '../lib/world.mjs';

const USAGE = 'usage: evaluate --checkpoint CKPT --split dev|FILE.csv --out FILE [--device auto|cpu|cuda] [--limit N]';
const flags = parseFlags(process.argv.slice(2), ['checkpoint', 'split', 'out', 'device', 'limit'], USAGE);
requireFlags(flags, ['checkpoint', 'out'], USAGE);
const split = flags.split ?? 'dev';
let weights;
try {
  weights = loadWeights(flags.checkpoint);
} catch (e) {
  fail(e.message);
}
const info = join(flags.checkpoint, 'checkpoint.json');
const size = existsSync(info) ? readJson(info).size : 'cpu';
let rows = readCsv(split === 'dev' ? DEV_CSV : split);
rows = rows.filter((_, i) => i % (SIZES[size]?.evalStride ?? 1) === 0);
if (Number(flags.limit) > 0) rows = rows.slice(0, Number(flags.limit));
const key = weightsKey(weights);
const results = rows.map((r) => [
  r.domain || parsePrompt(r.prompt)?.domain || 'unknown',
  scoreOutput(r.answer, solve(weights, r.prompt, key)),
]);
const agg = aggregate(results, DOMAINS);
writeJson(flags.out, { checkpoint: flags.checkpoint, split, overall: agg.overall, n: agg.n, domains: agg.domains });
const per = Object.entries(agg.domains).map(([d, v]) => `${d}=${v.score.toFixed(3)}`).join(' ');
process.stdout.write(`evaluate: ${split} overall=${agg.overall.toFixed(4)} n=${agg.n} ${per}\n`);
