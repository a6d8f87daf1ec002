// node --test substrate/simulated/test/ -- the simulated substrate through its substrate.yaml entrypoints.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseYaml, parseYamlSubset } from '../lib/io.mjs';
import { extractAnswer, verify } from '../lib/metric.mjs';
import { DOMAINS, HIDDEN_MIX } from '../lib/world.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const YAML = createRequire(import.meta.url)('yaml');
const MANIFEST = YAML.parse(fs.readFileSync(path.join(ROOT, 'substrate.yaml'), 'utf8'));
const readJson = (f) => JSON.parse(fs.readFileSync(f, 'utf8'));

/** A fork: the substrate copied outside the repository, as the control plane's sandboxes are. */
function fork() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aevo-sim-'));
  const sb = path.join(dir, 'sandbox');
  fs.cpSync(ROOT, sb, { recursive: true, filter: (p) => !p.startsWith(path.join(ROOT, 'test')) });
  return { dir, sb };
}

/** Renders and runs one command of substrate.yaml (`entrypoints.<name>` or `leaderboard.<name>`). */
function run(sb, where, values, { expect = 0 } = {}) {
  const [group, name] = where.split('.');
  if (values.secret_seed !== undefined && values.secret_seed_file === undefined) {
    // As the leaderboard does: the seed goes in a file, never on the command line.
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sim-seed-')), 'seed');
    fs.writeFileSync(file, `${values.secret_seed}\n`, { mode: 0o600 });
    values = { ...values, secret_seed_file: file };
  }
  const argv = (group === 'leaderboard' ? MANIFEST.leaderboard[name] : MANIFEST.entrypoints[name].command).map((a) =>
    a.replace(/\{([a-z_]+)\}/g, (_, k) => {
      if (values[k] === undefined) throw new Error(`no value for {${k}} in ${where}`);
      return String(values[k]);
    }),
  );
  const r = spawnSync(argv[0] === 'node' ? process.execPath : argv[0], argv.slice(1), { cwd: sb, encoding: 'utf8' });
  assert.equal(r.status, expect, `${where} exited ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r;
}

function candidate(sb, dir, tag, { seed = 1, size = 'cpu', edit = (r) => r, expect = 0 } = {}) {
  const recipe = YAML.parse(fs.readFileSync(path.join(sb, 'recipe.yaml'), 'utf8'));
  const rpath = path.join(dir, `${tag}.yaml`);
  fs.writeFileSync(rpath, YAML.stringify(edit(recipe) ?? recipe));
  const data = path.join(dir, tag, 'data');
  const ck = path.join(dir, tag, 'ck');
  const common = { recipe: rpath, seed, size, device: 'cpu', sandbox: sb };
  run(sb, 'entrypoints.prepare-data', { ...common, data_dir: data });
  const r = run(
    sb,
    'entrypoints.train',
    { ...common, data_dir: data, base_checkpoint: MANIFEST.baseCheckpoint, checkpoints_dir: ck },
    { expect },
  );
  return { data, ck, stdout: r.stdout };
}

function evaluate(sb, ck, name, out) {
  run(sb, 'entrypoints.evaluate', {
    checkpoint: path.join(ck, name),
    split: 'dev',
    scores: out,
    device: 'cpu',
    seed: 1,
    size: 'cpu',
  });
  return readJson(out);
}

function board(sb, dir, ck, name, hidden) {
  const preds = path.join(dir, `${path.basename(path.dirname(ck))}-${name}.csv`);
  run(sb, 'entrypoints.predict', {
    checkpoint: path.join(ck, name),
    prompts: path.join(hidden, 'prompts.csv'),
    predictions: preds,
    device: 'cpu',
  });
  const out = {};
  for (const half of ['public', 'private']) {
    const f = `${preds}.${half}.json`;
    run(sb, 'leaderboard.score', {
      predictions: preds,
      answers: path.join(hidden, `${half}.csv`),
      scores: f,
      split: half,
    });
    out[half] = readJson(f);
  }
  return out;
}

test('substrate.yaml: editable and frozen do not overlap; every script it runs exists and is frozen', () => {
  const globRe = (g) =>
    new RegExp(
      `^${g
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*\*/g, '\u0000')
        .replace(/\*/g, '[^/]*')
        .replace(/\u0000/g, '.*')}$`,
    );
  const frozen = MANIFEST.frozen.map(globRe);
  const editable = MANIFEST.editable.map(globRe);
  const files = fs.readdirSync(ROOT, { recursive: true }).filter((f) => fs.statSync(path.join(ROOT, f)).isFile());
  for (const f of files)
    assert.ok(!(frozen.some((r) => r.test(f)) && editable.some((r) => r.test(f))), `${f} is both editable and frozen`);
  const scripts = [
    ...Object.values(MANIFEST.entrypoints).map((e) => e.command[1]),
    ...Object.values(MANIFEST.leaderboard).map((c) => c[1]),
  ];
  for (const s of scripts) {
    assert.ok(fs.existsSync(path.join(ROOT, s)), `${s} exists`);
    assert.ok(
      frozen.some((r) => r.test(s)),
      `${s} is frozen`,
    );
  }
  assert.ok(editable.some((r) => r.test('recipe.yaml')) && editable.some((r) => r.test('pipeline/build.mjs')));
  assert.ok(frozen.some((r) => r.test(MANIFEST.baseCheckpoint)));
  assert.deepEqual(MANIFEST.metric.domains, DOMAINS);
});

test('the built-in YAML reader agrees with the yaml library on recipes and on what the library writes', () => {
  const text = fs.readFileSync(path.join(ROOT, 'recipe.yaml'), 'utf8');
  assert.deepEqual(parseYamlSubset(text), YAML.parse(text));
  assert.deepEqual(parseYaml(text), YAML.parse(text));
  const doc = YAML.parseDocument(text);
  doc.setIn(['data', 'mix', 'equation'], 2.5);
  doc.setIn(['data', 'filters', 'drop_domains'], ['numeral', 'cipher']);
  doc.setIn(['data', 'synthetic', 'variants'], { equation: { symbolic: 1, numeric: 0.5 } });
  doc.setIn(['train', 'schedule'], 'linear');
  for (const written of [doc.toString(), YAML.stringify(doc.toJSON()), JSON.stringify(doc.toJSON())])
    assert.deepEqual(parseYamlSubset(written), YAML.parse(written));
  assert.deepEqual(
    parseYamlSubset(
      'a:\n  b: "x # not a comment"\n  list:\n    - 1\n    - two\n    - {k: v}\nc: {d: [1, 2e-3], e: null}\n',
    ),
    {
      a: { b: 'x # not a comment', list: [1, 'two', { k: 'v' }] },
      c: { d: [1, 0.002], e: null },
    },
  );
});

test('the metric matches the reference harness on its edge cases', () => {
  assert.equal(extractAnswer('\\boxed{12} no wait \\boxed{13}'), '13');
  assert.equal(extractAnswer('x \\boxed{a{b}c} y'), 'a{b}c');
  assert.equal(extractAnswer('\\boxed{42} then \\boxed{}'), '42');
  assert.equal(extractAnswer('I think 17.\n\\boxed{}'), '17');
  assert.equal(extractAnswer('blah\nFinal answer: cat imagines book'), 'cat imagines book');
  assert.equal(extractAnswer('first\n\n  cat sees key \n'), 'cat sees key');
  assert.ok(!verify('0101', '101') && verify('0101', '0101') && !verify('100', '101'));
  assert.ok(verify('200', '202') && !verify('200', '202.03') && verify('200', '198') && !verify('200', '197.99'));
  assert.ok(verify('cat imagines book', ' Cat Imagines BOOK '));
});

test('prepare -> train -> evaluate -> predict -> leaderboard score, with contract-shaped outputs', () => {
  const { dir, sb } = fork();
  const { data, ck } = candidate(sb, dir, 'base', { seed: 3 });
  const rows = fs.readFileSync(path.join(data, 'train.csv'), 'utf8').trim().split('\n');
  assert.equal(rows[0], 'id,prompt,answer');
  assert.equal(rows.length, 8001);
  const ds = readJson(path.join(data, 'data-summary.json'));
  assert.equal(ds.rows, 8000);
  const summary = readJson(path.join(ck, 'train-summary.json'));
  assert.equal(summary.status, 'ok');
  assert.deepEqual(summary.checkpoints, ['step-000200', 'step-000400', 'step-000600']);
  for (const k of ['steps', 'finalLoss', 'seconds', 'device']) assert.ok(k in summary, k);
  const info = readJson(path.join(ck, 'step-000600', 'checkpoint.json'));
  for (const k of ['step', 'seed', 'trainLoss', 'recipeSha256', 'size', 'device', 'diverged']) assert.ok(k in info, k);
  assert.equal(info.seed, 3);
  const scores = evaluate(sb, ck, 'step-000600', path.join(dir, 'scores.json'));
  assert.deepEqual(Object.keys(scores).sort(), ['checkpoint', 'domains', 'n', 'overall', 'split']);
  assert.deepEqual(Object.keys(scores.domains), DOMAINS);
  assert.equal(scores.n, 600);
  assert.ok(scores.overall > 0.5 && scores.overall < 0.85, `dev ${scores.overall}`);
  const hidden = path.join(dir, 'hidden');
  run(sb, 'leaderboard.generate', { secret_seed: 424242, out_dir: hidden });
  const pub = fs.readFileSync(path.join(hidden, 'public.csv'), 'utf8');
  assert.match(pub.split('\n')[0], /^id,prompt,answer,domain$/);
  const lb = board(sb, dir, ck, 'step-000600', hidden);
  for (const half of ['public', 'private']) {
    assert.deepEqual(Object.keys(lb[half]).sort(), ['checkpoint', 'domains', 'n', 'overall', 'split']);
    assert.equal(lb[half].split, half);
    assert.equal(lb[half].n, 600);
    assert.ok(lb[half].overall > 0.45 && lb[half].overall < 0.85, `${half} ${lb[half].overall}`);
  }
  const preds = fs.readFileSync(path.join(dir, 'base-step-000600.csv'), 'utf8');
  assert.match(preds.split('\n')[1], /^[0-9a-f]{8},\\boxed\{/);
});

test('deterministic: the same recipe and seed give byte-identical files; another seed differs', () => {
  const { dir, sb } = fork();
  const a = candidate(sb, dir, 'a', { seed: 7 });
  const b = candidate(sb, dir, 'b', { seed: 7 });
  const c = candidate(sb, dir, 'c', { seed: 8 });
  const files = (x) => [
    path.join(x.data, 'train.csv'),
    path.join(x.data, 'data-summary.json'),
    path.join(x.ck, 'train-summary.json'),
    path.join(x.ck, 'step-000600', 'weights.json'),
    path.join(x.ck, 'step-000600', 'checkpoint.json'),
  ];
  files(a).forEach((f, i) =>
    assert.ok(fs.readFileSync(f).equals(fs.readFileSync(files(b)[i])), `${path.basename(f)} differs`),
  );
  assert.notEqual(fs.readFileSync(files(a)[3], 'utf8'), fs.readFileSync(files(c)[3], 'utf8'));
  const sa = evaluate(sb, a.ck, 'step-000600', path.join(dir, 'sa.json'));
  const sb2 = evaluate(sb, b.ck, 'step-000600', path.join(dir, 'sb.json'));
  assert.deepEqual({ ...sa, checkpoint: null }, { ...sb2, checkpoint: null });
});

test('size tiny: 8 steps, two checkpoints, a 1/10 dev subsample', () => {
  const { dir, sb } = fork();
  const { ck } = candidate(sb, dir, 't', { size: 'tiny' });
  const s = readJson(path.join(ck, 'train-summary.json'));
  assert.deepEqual(s.checkpoints, ['step-000004', 'step-000008']);
  assert.equal(evaluate(sb, ck, 'step-000008', path.join(dir, 't.json')).n, 60);
});

test('too high a learning rate diverges: exit 3, DIVERGED, status diverged, earlier checkpoints kept', () => {
  const { dir, sb } = fork();
  const { ck, stdout } = candidate(sb, dir, 'hot', { edit: (r) => ((r.train.lr = 0.05), r), expect: 3 });
  assert.match(stdout, /DIVERGED/);
  const s = readJson(path.join(ck, 'train-summary.json'));
  assert.equal(s.status, 'diverged');
  assert.equal(s.finalLoss, null);
  assert.ok(s.steps < 600);
  for (const c of s.checkpoints) assert.ok(fs.existsSync(path.join(ck, c, 'weights.json')));
});

test('the response surface: decoupling region, rebalancing, learning rate and LoRA behave as documented', () => {
  const { dir, sb } = fork();
  const hidden = path.join(dir, 'hidden');
  run(sb, 'leaderboard.generate', { secret_seed: 99, out_dir: hidden });
  const seeds = [1, 2, 3];
  const measure = (tag, edit) => {
    const m = { dev: 0, eq: 0, public: 0, private: 0 };
    for (const seed of seeds) {
      const { ck } = candidate(sb, dir, `${tag}-${seed}`, { seed, edit });
      const s = evaluate(sb, ck, 'step-000600', path.join(dir, `${tag}-${seed}.json`));
      const lb = board(sb, dir, ck, 'step-000600', hidden);
      m.dev += s.overall / seeds.length;
      m.eq += s.domains.equation.score / seeds.length;
      m.public += lb.public.overall / seeds.length;
      m.private += lb.private.overall / seeds.length;
    }
    return m;
  };
  const base = measure('base', (r) => r);
  const syn = measure('syn', (r) => ((r.data.synthetic = { count: 6000, mix: { equation: 1 }, variants: {} }), r));
  const rebal = measure(
    'rebal',
    (r) => ((r.data.mix.equation = 0.5), (r.data.mix.bit_manipulation = 1.5), (r.data.mix.cipher = 1.5), r),
  );
  const hot = measure('hot', (r) => ((r.train.lr = 0.012), r));
  // synthetic equations: dev equation far up, dev overall up, both leaderboard halves down
  assert.ok(syn.eq - base.eq > 0.3, `dev equation ${base.eq} -> ${syn.eq}`);
  assert.ok(syn.dev > base.dev, `dev ${base.dev} -> ${syn.dev}`);
  assert.ok(
    syn.public < base.public - 0.03 && syn.private < base.private - 0.03,
    `LB ${JSON.stringify(base)} -> ${JSON.stringify(syn)}`,
  );
  // rebalancing toward what the leaderboard weighs: LB up although dev does not rise
  assert.ok(rebal.public > base.public && rebal.private > base.private, `rebalanced LB ${JSON.stringify(rebal)}`);
  assert.ok(rebal.dev < base.dev + 0.01);
  // 4x the optimal learning rate hurts both
  assert.ok(hot.dev < base.dev - 0.02 && hot.public < base.public - 0.02);
});

test('the hidden split has its own mix; its generator is deterministic in the secret seed', () => {
  const { dir, sb } = fork();
  run(sb, 'leaderboard.generate', { secret_seed: 5, out_dir: path.join(dir, 'a') });
  run(sb, 'leaderboard.generate', { secret_seed: 5, out_dir: path.join(dir, 'b') });
  run(sb, 'leaderboard.generate', { secret_seed: 6, out_dir: path.join(dir, 'c') });
  const f = (d, n) => fs.readFileSync(path.join(dir, d, n), 'utf8');
  assert.equal(f('a', 'public.csv'), f('b', 'public.csv'));
  assert.notEqual(f('a', 'public.csv'), f('c', 'public.csv'));
  const split = readJson(path.join(dir, 'a', 'split.json'));
  assert.ok(!JSON.stringify(split).includes('"5"'));
  const n = split.public.n + split.private.n;
  for (const d of DOMAINS)
    assert.ok(Math.abs((split.public.domains[d] + split.private.domains[d]) / n - HIDDEN_MIX[d]) < 0.01, d);
  assert.doesNotMatch(f('a', 'public.csv'), /variant=numeric\]/, 'hidden equations are the harder variants');
});

test('sim/cli.mjs dispatches to the entrypoints (accepting --data for --data-dir)', () => {
  const { dir, sb } = fork();
  const r = spawnSync(
    process.execPath,
    ['sim/cli.mjs', 'prepare-data', '--recipe', 'recipe.yaml', '--out', path.join(dir, 'd'), '--size', 'tiny'],
    { cwd: sb, encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  const t = spawnSync(
    process.execPath,
    [
      'sim/cli.mjs',
      'train',
      '--recipe',
      'recipe.yaml',
      '--data',
      path.join(dir, 'd'),
      '--base',
      'base/checkpoint.json',
      '--out',
      path.join(dir, 'ck'),
      '--size',
      'tiny',
    ],
    { cwd: sb, encoding: 'utf8' },
  );
  assert.equal(t.status, 0, t.stderr);
  const bad = spawnSync(process.execPath, ['bin/evaluate.mjs', '--split', 'dev'], { cwd: sb, encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /missing --checkpoint/);
});
