#!/usr/bin/env node
// Score a predictions CSV against an answer key (per domain + overall), as harness/score_predictions.py does.
//   node harness/score_predictions.mjs --predictions preds.csv --answers public.csv --out score.json [--split public]
// A missing prediction counts as wrong.  Output (dev-scores shape, what the leaderboard service validates):
// { checkpoint: <predictions file>, split: <--split or the answers file's name>, overall, n,
//   domains: { d: { score, n } } }.
import { basename, extname } from 'node:path';
import { parseFlags, readCsv, requireFlags, sha256File, writeJson } from '../lib/io.mjs';
import { aggregate, scoreOutput } from '../lib/metric.mjs';
import { normal } from '../lib/rng.mjs';
import { VARIANT } from '../lib/variant.mjs';
import { DOMAINS, parsePrompt } from '../lib/world.mjs';

const USAGE = 'usage: score_predictions --predictions FILE.csv --answers FILE.csv --out FILE.json [--split NAME]';
const flags = parseFlags(process.argv.slice(2), ['predictions', 'answers', 'out', 'split'], USAGE);
requireFlags(flags, ['predictions', 'answers', 'out'], USAGE);
const preds = readCsv(flags.predictions);
if (preds.length && (!('id' in preds[0]) || !('answer' in preds[0]))) {
  process.stderr.write('invalid predictions: need columns id,answer\n');
  process.exit(2);
}
const byId = new Map(preds.map((r) => [r.id, r.answer]));
let missing = 0;
const results = readCsv(flags.answers).map((r) => {
  const domain = r.domain || parsePrompt(r.prompt)?.domain || 'unknown';
  if (!byId.has(r.id)) {
    missing++;
    return [domain, false];
  }
  return [domain, scoreOutput(r.answer, byId.get(r.id))];
});
const agg = aggregate(results, DOMAINS);
const split = flags.split && flags.split !== '{split}' ? flags.split : basename(flags.answers, extname(flags.answers));
const noiseSd = VARIANT?.publicScoreNoise ?? 0;
if (noiseSd > 0 && split === 'public') {
  // benchmark-only noisy-public variant (lib/variant.mjs): one per-submission shift of every public score,
  // keyed by the predictions and the answer key (the same predictions always get the same score)
  const z = noiseSd * normal(`public-score-noise:${sha256File(flags.predictions)}:${sha256File(flags.answers)}`);
  const shift = (x) => Math.round(Math.min(1, Math.max(0, x + z)) * 1e6) / 1e6;
  agg.overall = shift(agg.overall);
  for (const v of Object.values(agg.domains)) if (v.n > 0) v.score = shift(v.score);
}
writeJson(flags.out, { checkpoint: flags.predictions, split, overall: agg.overall, n: agg.n, domains: agg.domains });
process.stdout.write(`score: ${split} overall=${agg.overall.toFixed(4)} n=${agg.n} missing=${missing}\n`);
