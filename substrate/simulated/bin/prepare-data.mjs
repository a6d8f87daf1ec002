#!/usr/bin/env node
// `prepare-data` (frozen wrapper around the editable pipeline/build.mjs).
//   node bin/prepare-data.mjs --recipe recipe.yaml --out DATA_DIR [--size tiny|cpu|gpu] [--seed N]
// Writes DATA_DIR/train.csv (id,prompt,answer; ids made unique) and DATA_DIR/data-summary.json.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { checkSize, SIZES } from '../lib/common.mjs';
import { fail, loadRecipe, parseFlags, requireFlags, seedFlag, writeCsv, writeJson } from '../lib/io.mjs';
import { DOMAINS, parsePrompt } from '../lib/world.mjs';

const USAGE = 'usage: prepare-data --recipe FILE --out DATA_DIR [--size tiny|cpu|gpu] [--seed N]';
const flags = parseFlags(process.argv.slice(2), ['recipe', 'out', 'size', 'seed'], USAGE);
requireFlags(flags, ['recipe', 'out'], USAGE);
let size;
try {
  size = checkSize(flags.size);
} catch (e) {
  fail(e.message);
}
const { recipe, sha256 } = loadRecipe(flags.recipe);
const seed = seedFlag(flags.seed, recipe.seed);

// the pipeline is the sandbox's own code: load it from the working directory when it has one
const local = resolve(process.cwd(), 'pipeline', 'build.mjs');
let pipelinePath = local;
try {
  readFileSync(local);
} catch {
  pipelinePath = new URL('../pipeline/build.mjs', import.meta.url).pathname;
}
const { build } = await import(pathToFileURL(pipelinePath).href);
let { rows, summary } = build(recipe, seed);
if (size === 'tiny') rows = rows.slice(0, SIZES.tiny.maxRows);

const used = new Map();
const out = rows.map((r) => {
  if (!r.prompt || r.answer === undefined || r.answer === '')
    fail('the pipeline produced a row without prompt or answer');
  const id = String(r.id ?? 'row');
  const k = (used.get(id) ?? 0) + 1;
  used.set(id, k);
  return {
    id: k === 1 ? id : `${id}-${k - 1}`,
    prompt: r.prompt,
    answer: String(r.answer),
    source: r.source ?? 'unknown',
  };
});
const trainPath = join(flags.out, 'train.csv');
writeCsv(trainPath, out, ['id', 'prompt', 'answer']);
const domains = Object.fromEntries(DOMAINS.map((d) => [d, 0]));
const sources = {};
for (const r of out) {
  const p = parsePrompt(r.prompt);
  if (p) domains[p.domain]++;
  sources[r.source] = (sources[r.source] ?? 0) + 1;
}
writeJson(join(flags.out, 'data-summary.json'), {
  rows: out.length,
  domains,
  sources: Object.fromEntries(Object.entries(sources).sort()),
  uniquePrompts: new Set(out.map((r) => r.prompt)).size,
  seed,
  size,
  recipeSha256: sha256,
  trainSha256: createHash('sha256').update(readFileSync(trainPath)).digest('hex'),
  pipeline: summary ?? {},
});
process.stdout.write(`prepare-data: ${out.length} rows ${JSON.stringify(domains)} -> ${trainPath}\n`);
