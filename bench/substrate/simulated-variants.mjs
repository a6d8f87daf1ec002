#!/usr/bin/env node
// Recipe variants on the simulated substrate, through its real entrypoints (prepare-data -> train ->
// evaluate every checkpoint -> predict on the hidden split -> score public/private), over several seeds.
//   node bench/substrate/simulated-variants.mjs [--seeds 5] [--secret-seed 424242] [--json out.json]
// Prints a table: mean dev (last checkpoint), equation dev, public LB, private LB, and the LB of the
// checkpoint chosen by raw dev vs by dev reweighted to the leaderboard's domain mix.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const SUB = resolve(here, '../../substrate/simulated');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const SEEDS = Array.from({ length: Number(opt('seeds', 5)) }, (_, i) => i + 1);
const SECRET = opt('secret-seed', '424242');
const { parseYaml } = await import(join(SUB, 'lib/io.mjs'));
const { HIDDEN_MIX, DOMAINS } = await import(join(SUB, 'lib/world.mjs'));
const YAML = (await import('node:module')).createRequire(import.meta.url)('yaml');

export const VARIANTS = {
  baseline: () => {},
  '2x lr': (r) => (r.train.lr *= 2),
  '12x lr (diverges)': (r) => (r.train.lr *= 12),
  '2x steps': (r) => (r.train.steps *= 2),
  'equation weight 3': (r) => (r.data.mix.equation = 3),
  '+6000 synthetic equation': (r) => (r.data.synthetic = { count: 6000, mix: { equation: 1 }, variants: {} }),
  '+6000 synthetic equation, checkpoint every 100': (r) => {
    r.data.synthetic = { count: 6000, mix: { equation: 1 }, variants: {} };
    r.train.checkpoint_every = 100;
  },
  'rebalanced (equation 0.5, bit/cipher 1.5)': (r) => {
    r.data.mix.equation = 0.5;
    r.data.mix.bit_manipulation = 1.5;
    r.data.mix.cipher = 1.5;
  },
  '+3000 synthetic symbolic equation': (r) =>
    (r.data.synthetic = { count: 3000, mix: { equation: 1 }, variants: { equation: { symbolic: 1 } } }),
  'LoRA r=8, lr 1e-2': (r) => {
    r.lora.rank = 8;
    r.train.lr = 0.01;
  },
  'no clipping, no warm-up': (r) => {
    r.train.grad_clip = 0;
    r.train.warmup_steps = 0;
  },
};

const work = mkdtempSync(join(tmpdir(), 'sim-variants-'));
const node = (script, ...a) =>
  execFileSync(process.execPath, [join(SUB, script), ...a], {
    cwd: SUB,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
const readJson = (f) => JSON.parse(readFileSync(f, 'utf8'));
node('harness/hidden_split.mjs', '--secret-seed', SECRET, '--out', join(work, 'hidden'));
const reweighted = (s) => DOMAINS.reduce((a, d) => a + HIDDEN_MIX[d] * s.domains[d].score, 0);
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const std = (xs) => Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)) * (xs.length / Math.max(1, xs.length - 1)));

const results = {};
for (const [name, edit] of Object.entries(VARIANTS)) {
  const recipe = parseYaml(readFileSync(join(SUB, 'recipe.yaml'), 'utf8'));
  edit(recipe);
  const dir = join(work, name.replace(/[^a-z0-9]+/gi, '_'));
  const rpath = `${dir}.yaml`;
  writeFileSync(rpath, YAML.stringify(recipe));
  const rows = [];
  for (const seed of SEEDS) {
    const d = join(dir, String(seed));
    node('bin/prepare-data.mjs', '--recipe', rpath, '--out', join(d, 'data'), '--seed', String(seed));
    let diverged = false;
    try {
      node(
        'bin/train.mjs',
        '--recipe',
        rpath,
        '--data-dir',
        join(d, 'data'),
        '--base',
        'base/checkpoint.json',
        '--out',
        join(d, 'ck'),
        '--seed',
        String(seed),
      );
    } catch (e) {
      if (e.status !== 3) throw e;
      diverged = true;
    }
    const summary = readJson(join(d, 'ck', 'train-summary.json'));
    const evals = summary.checkpoints.map((c) => {
      node('bin/evaluate.mjs', '--checkpoint', join(d, 'ck', c), '--split', 'dev', '--out', join(d, `${c}.dev.json`));
      node(
        'bin/predict.mjs',
        '--checkpoint',
        join(d, 'ck', c),
        '--prompts',
        join(work, 'hidden', 'prompts.csv'),
        '--out',
        join(d, `${c}.pred.csv`),
      );
      const lb = {};
      for (const half of ['public', 'private']) {
        node(
          'harness/score_predictions.mjs',
          '--predictions',
          join(d, `${c}.pred.csv`),
          '--answers',
          join(work, 'hidden', `${half}.csv`),
          '--out',
          join(d, `${c}.${half}.json`),
        );
        lb[half] = readJson(join(d, `${c}.${half}.json`)).overall;
      }
      return { c, dev: readJson(join(d, `${c}.dev.json`)), ...lb };
    });
    if (!evals.length) {
      rows.push({ diverged });
      continue;
    }
    const last = evals[evals.length - 1];
    const byDev = evals.reduce((a, b) => (b.dev.overall > a.dev.overall ? b : a));
    const byRew = evals.reduce((a, b) => (reweighted(b.dev) > reweighted(a.dev) ? b : a));
    rows.push({
      diverged,
      dev: last.dev.overall,
      eq: last.dev.domains.equation.score,
      pub: last.public,
      priv: last.private,
      selDev: byDev.public,
      selRew: byRew.public,
    });
  }
  const ok = rows.filter((r) => r.dev !== undefined);
  const col = (k) => (ok.length ? mean(ok.map((r) => r[k])) : NaN);
  results[name] = {
    diverged: rows.filter((r) => r.diverged).length,
    dev: col('dev'),
    devStd: ok.length > 1 ? std(ok.map((r) => r.dev)) : NaN,
    equation: col('eq'),
    public: col('pub'),
    publicStd: ok.length > 1 ? std(ok.map((r) => r.pub)) : NaN,
    private: col('priv'),
    publicSelectedByDev: col('selDev'),
    publicSelectedByReweighted: col('selRew'),
  };
}
rmSync(work, { recursive: true, force: true });

const f = (x) => (Number.isFinite(x) ? x.toFixed(3) : '—');
console.log(
  `simulated substrate, ${SEEDS.length} seeds, hidden split secret seed ${SECRET} (mean; ± = std over ` + `seeds)\n`,
);
console.log(
  '| recipe | dev | dev equation | public LB | private LB | public LB, ckpt by dev | by reweighted dev | ' +
    'diverged |',
);
console.log('|---|---|---|---|---|---|---|---|');
for (const [name, r] of Object.entries(results))
  console.log(
    `| ${name} | ${f(r.dev)}${Number.isFinite(r.devStd) ? ` ± ${f(r.devStd)}` : ''} | ${f(r.equation)} | ` +
      `${f(r.public)}${Number.isFinite(r.publicStd) ? ` ± ${f(r.publicStd)}` : ''} | ${f(r.private)} | ` +
      `${f(r.publicSelectedByDev)} | ${f(r.publicSelectedByReweighted)} | ${r.diverged}/${SEEDS.length} |`,
  );
const out = opt('json');
if (out) writeFileSync(out, JSON.stringify(results, null, 2) + '\n');
