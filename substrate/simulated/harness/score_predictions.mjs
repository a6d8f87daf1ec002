#!/usr/bin/env node
// Score a predictions CSV against an answer key (per domain + overall), as harness/score_predictions.py does.
//   node harness/score_predictions.mjs --predictions preds.csv --answers public.csv --out score.json [--split public]
// A missing prediction counts as wrong.  Output (dev-scores shape, what the leaderboard service validates):
// { checkpoint: <predictions file>, split: <--split or the answers file's name>, overall, n, domains: { d: { score, n } } }.
import { basename, extname } from 'node:path';
import { parseFlags, readCsv, requireFlags, writeJson } from '../lib/io.mjs';
import { aggregate, scoreOutput } from '../lib/metric.mjs';
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
writeJson(flags.out, { checkpoint: flags.predictions, split, overall: agg.overall, n: agg.n, domains: agg.domains });
process.stdout.write(`score: ${split} overall=${agg.overall.toFixed(4)} n=${agg.n} missing=${missing}\n`);
