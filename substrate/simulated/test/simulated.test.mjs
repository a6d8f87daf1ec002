// node --test substrate/simulated/test/ — the simulated substrate's entrypoints, determinism and surface shape.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseYaml } from '../sim/yaml-lite.mjs';
import { dataCounts, devScores, latent } from '../sim/surface.mjs';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

/** Copies the substrate to a temp dir outside the repository, as a fork would be. */
function fork() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aevo-sim-'));
  fs.cpSync(root, path.join(dir, 'sb'), { recursive: true, filter: (p) => !p.includes(`${path.sep}test`) });
  return { dir, sb: path.join(dir, 'sb') };
}
const sim = (sb, ...args) => execFileSync('node', ['sim/cli.mjs', ...args], { cwd: sb, encoding: 'utf8' });
const readJson = (f) => JSON.parse(fs.readFileSync(f, 'utf8'));

function runCandidate(sb, dir, tag, seed, recipeEdit = (t) => t) {
  const recipe = path.join(dir, `${tag}.yaml`);
  fs.writeFileSync(recipe, recipeEdit(fs.readFileSync(path.join(sb, 'recipe.yaml'), 'utf8')));
  sim(sb, 'prepare-data', '--recipe', recipe, '--out', path.join(dir, tag, 'data'));
  sim(sb, 'train', '--recipe', recipe, '--data', path.join(dir, tag, 'data'), '--base', 'base/checkpoint.json', '--out', path.join(dir, tag, 'ck'), '--seed', String(seed), '--size', 'tiny');
  return path.join(dir, tag, 'ck');
}

test('the yaml reader reads the recipe and what the yaml library writes', () => {
  const recipe = parseYaml(fs.readFileSync(path.join(root, 'recipe.yaml'), 'utf8'));
  assert.equal(recipe.train.lr, 0.003);
  assert.deepEqual(recipe.data.synthetic.mix, { equation: 1 });
  assert.deepEqual(recipe.data.filters.drop_domains, []);
  const blockList = parseYaml('a:\n  b: "x # not a comment"\n  list:\n    - 1\n    - two\nc: {d: [1, 2], e: null}\n');
  assert.deepEqual(blockList, { a: { b: 'x # not a comment', list: [1, 'two'] }, c: { d: [1, 2], e: null } });
  assert.throws(() => parseYaml('a: 1\n  ] bad'), /cannot parse YAML line/);
});

test('what the yaml library writes (workers edit recipes with it) reads back identically', async () => {
  const { createRequire } = await import('node:module');
  const YAML = createRequire(import.meta.url)('yaml');
  const text = fs.readFileSync(path.join(root, 'recipe.yaml'), 'utf8');
  const doc = YAML.parseDocument(text);
  doc.setIn(['data', 'mix', 'equation'], 2.5);
  doc.setIn(['data', 'filters', 'drop_domains'], ['numeral']);
  doc.setIn(['train', 'schedule'], 'linear');
  for (const written of [doc.toString(), YAML.stringify(doc.toJSON())]) assert.deepEqual(parseYaml(written), YAML.parse(written));
});

test('prepare → train → evaluate → generate → predict → score, with schema-shaped outputs', () => {
  const { dir, sb } = fork();
  const ck = runCandidate(sb, dir, 'base', 1);
  const summary = readJson(path.join(ck, 'train-summary.json'));
  assert.equal(summary.status, 'ok');
  assert.deepEqual(summary.checkpoints, ['step-000200', 'step-000400', 'step-000600']);
  const info = readJson(path.join(ck, 'step-000600', 'checkpoint.json'));
  assert.deepEqual(Object.keys(info).sort(), ['device', 'diverged', 'recipeSha256', 'seed', 'size', 'step', 'trainLoss']);
  sim(sb, 'evaluate', '--checkpoint', path.join(ck, 'step-000600'), '--split', 'dev', '--out', path.join(dir, 'scores.json'));
  const scores = readJson(path.join(dir, 'scores.json'));
  assert.equal(Object.keys(scores.domains).length, 6);
  assert.ok(scores.overall > 0.4 && scores.overall < 0.9, `overall ${scores.overall}`);
  sim(sb, 'generate', '--secret-seed', '99', '--out', path.join(dir, 'lb'));
  const pub = fs.readFileSync(path.join(dir, 'lb', 'public.csv'), 'utf8');
  assert.match(pub.split('\n')[0], /^id,prompt,answer,domain$/);
  // The predictor sees prompts only.
  const prompts = pub.split('\n').filter(Boolean).map((l) => l.split(',').slice(0, -2).join(',')).join('\n') + '\n';
  fs.writeFileSync(path.join(dir, 'prompts.csv'), prompts.replace(/^id,prompt[^\n]*/, 'id,prompt'));
  sim(sb, 'predict', '--checkpoint', path.join(ck, 'step-000600'), '--prompts', path.join(dir, 'prompts.csv'), '--out', path.join(dir, 'pred.csv'));
  sim(sb, 'score', '--predictions', path.join(dir, 'pred.csv'), '--answers', path.join(dir, 'lb', 'public.csv'), '--out', path.join(dir, 'lb.json'));
  const lb = readJson(path.join(dir, 'lb.json'));
  assert.equal(lb.n, 600);
  assert.ok(lb.overall > 0.4 && lb.overall < 0.9, `public LB ${lb.overall}`);
  assert.ok(!fs.readFileSync(path.join(dir, 'pred.csv'), 'utf8').includes('ans-'), 'predictions never contain hidden answers');
});

test('deterministic per seed: byte-identical outputs; another seed differs', () => {
  const { dir, sb } = fork();
  const a = runCandidate(sb, dir, 'a', 7);
  const b = runCandidate(sb, dir, 'b', 7);
  const c = runCandidate(sb, dir, 'c', 8);
  const w = (ck) => fs.readFileSync(path.join(ck, 'step-000600', 'weights.json'), 'utf8');
  assert.equal(w(a), w(b));
  assert.notEqual(w(a), w(c));
});

test('too high a learning rate diverges with exit code 3 and DIVERGED', () => {
  const { dir, sb } = fork();
  const recipe = path.join(dir, 'hot.yaml');
  fs.writeFileSync(recipe, fs.readFileSync(path.join(sb, 'recipe.yaml'), 'utf8').replace('lr: 0.003', 'lr: 0.05'));
  sim(sb, 'prepare-data', '--recipe', recipe, '--out', path.join(dir, 'data'));
  const r = spawnSync('node', ['sim/cli.mjs', 'train', '--recipe', recipe, '--data', path.join(dir, 'data'), '--base', 'base/checkpoint.json', '--out', path.join(dir, 'ck'), '--seed', '1'], { cwd: sb, encoding: 'utf8' });
  assert.equal(r.status, 3);
  assert.match(r.stdout, /DIVERGED/);
  assert.equal(readJson(path.join(dir, 'ck', 'train-summary.json')).status, 'diverged');
});

test('bad arguments get a clear error naming the argument', () => {
  const r = spawnSync('node', ['sim/cli.mjs', 'evaluate', '--split', 'dev'], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /missing --checkpoint/);
});

/** Mean over seeds of dev and of the leaderboard-weighted skill, straight from the surface. */
function surface(edit) {
  const recipe = parseYaml(fs.readFileSync(path.join(root, 'recipe.yaml'), 'utf8'));
  edit(recipe);
  let dev = 0, eq = 0;
  const seeds = [1, 2, 3, 4, 5];
  for (const s of seeds) {
    const w = latent(recipe, dataCounts(recipe), recipe.train.steps, s);
    const d = devScores(w, `t${s}`);
    dev += d.overall / seeds.length;
    eq += d.domains.equation.score / seeds.length;
  }
  return { dev, eq };
}

test('the decoupling region: synthetic equation data raises dev (equation) far beyond noise', () => {
  const base = surface(() => {});
  const syn = surface((r) => { r.data.synthetic.count = 4000; });
  assert.ok(syn.eq - base.eq > 0.2, `equation dev ${base.eq} → ${syn.eq}`);
  assert.ok(syn.dev - base.dev > 0.02, `overall dev ${base.dev} → ${syn.dev}`);
});
