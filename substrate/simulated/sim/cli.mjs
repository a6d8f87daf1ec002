#!/usr/bin/env node
// One-command front door (kept for callers of the first version of this substrate):
//   node sim/cli.mjs <prepare-data|train|evaluate|predict|generate|score> --flag value ...
// dispatches to bin/*.mjs and harness/*.mjs with the same flags (`--data` is accepted for `--data-dir`).
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const SCRIPTS = {
  'prepare-data': 'bin/prepare-data.mjs',
  train: 'bin/train.mjs',
  evaluate: 'bin/evaluate.mjs',
  predict: 'bin/predict.mjs',
  generate: 'harness/hidden_split.mjs',
  score: 'harness/score_predictions.mjs',
};
const [cmd, ...rest] = process.argv.slice(2);
if (!SCRIPTS[cmd]) {
  process.stderr.write(`unknown command "${cmd ?? ''}" (expected one of ${Object.keys(SCRIPTS).join(', ')})\n`);
  process.exit(2);
}
const args = rest.map((a) => (a === '--data' ? '--data-dir' : a));
const r = spawnSync(process.execPath, [join(root, SCRIPTS[cmd]), ...args], { stdio: 'inherit' });
process.exit(r.status ?? 1);
