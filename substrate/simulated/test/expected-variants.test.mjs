// node --test substrate/simulated/test/ -- the benchmark-only tools: bin/expected-score.mjs (noise-free expected
// scores) and sim/make-variant.mjs (surface variants), and that the designed surface did not move.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const YAML = createRequire(import.meta.url)('yaml');
const MANIFEST = YAML.parse(fs.readFileSync(path.join(ROOT, 'substrate.yaml'), 'utf8'));
const readJson = (f) => JSON.parse(fs.readFileSync(f, 'utf8'));
const tmp = (p) => fs.mkdtempSync(path.join(os.tmpdir(), p));

function node(cwd, args, expect = 0) {
  const r = spawnSync(process.execPath, args, { cwd, encoding: 'utf8' });
  assert.equal(r.status, expect, `${args.join(' ')} exited ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** A copy of the designed substrate (as the control plane forks it), or a variant made by make-variant. */
function substrate(variant = null) {
  const sb = path.join(tmp('aevo-simx-'), 'sandbox');
  if (variant) node(ROOT, ['sim/make-variant.mjs', '--variant', variant, '--out', sb]);
  else fs.cpSync(ROOT, sb, { recursive: true });
  return sb;
}

function recipeFile(sb, dir, tag, edit) {
  const r = YAML.parse(fs.readFileSync(path.join(sb, 'recipe.yaml'), 'utf8'));
  const f = path.join(dir, `${tag}.yaml`);
  fs.writeFileSync(f, YAML.stringify(edit(r) ?? r));
  return f;
}

/** prepare-data (+ train unless train: false) + expected-score for one recipe in substrate sb. */
function candidate(sb, dir, tag, { seed = 1, size = 'cpu', edit = (r) => r, train = true, trainExit = 0 } = {}) {
  const recipe = recipeFile(sb, dir, tag, edit);
  const data = path.join(dir, tag, 'data');
  const ck = path.join(dir, tag, 'ck');
  node(sb, ['bin/prepare-data.mjs', '--recipe', recipe, '--out', data, '--size', size, '--seed', String(seed)]);
  if (train)
    node(
      sb,
      [
        'bin/train.mjs',
        '--recipe',
        recipe,
        '--data-dir',
        data,
        '--base',
        'base/checkpoint.json',
        '--out',
        ck,
        '--size',
        size,
        '--seed',
        String(seed),
      ],
      trainExit,
    );
  const es = path.join(dir, tag, 'expected.json');
  node(sb, ['bin/expected-score.mjs', '--recipe', recipe, '--data-dir', data, '--size', size, '--out', es]);
  return { recipe, data, ck, es, expected: readJson(es) };
}

function hidden(sb, dir, secret) {
  const out = path.join(dir, `hidden-${secret}`);
  if (!fs.existsSync(out)) node(sb, ['harness/hidden_split.mjs', '--secret-seed', String(secret), '--out', out]);
  return out;
}

function devScore(sb, ck, step, out) {
  node(sb, ['bin/evaluate.mjs', '--checkpoint', path.join(ck, step), '--split', 'dev', '--out', out]);
  return readJson(out);
}

function boardScores(sb, dir, ck, step, hid, tag) {
  const preds = path.join(dir, `${tag}-preds.csv`);
  node(sb, [
    'bin/predict.mjs',
    '--checkpoint',
    path.join(ck, step),
    '--prompts',
    path.join(hid, 'prompts.csv'),
    '--out',
    preds,
  ]);
  const out = {};
  for (const half of ['public', 'private']) {
    const f = path.join(dir, `${tag}-${half}.json`);
    node(sb, [
      'harness/score_predictions.mjs',
      '--predictions',
      preds,
      '--answers',
      path.join(hid, `${half}.csv`),
      '--out',
      f,
      '--split',
      half,
    ]);
    out[half] = readJson(f);
  }
  return out;
}

const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length;
const sd = (a) => Math.sqrt(a.reduce((x, y) => x + (y - mean(a)) ** 2, 0) / (a.length - 1));
const stepName = (s) => `step-${String(s).padStart(6, '0')}`;
const qualitySha = (ck, step) =>
  createHash('sha256')
    .update(JSON.stringify(readJson(path.join(ck, step, 'weights.json')).quality))
    .digest('hex');

test('the designed surface is unchanged (latent qualities pinned from before expected-score and variants)', () => {
  const sb = substrate();
  const dir = tmp('aevo-simx-pin-');
  assert.ok(!fs.existsSync(path.join(ROOT, 'lib', 'variant.json')), 'the designed substrate has no lib/variant.json');
  const base = candidate(sb, dir, 'base', { seed: 5 });
  assert.equal(qualitySha(base.ck, 'step-000600'), 'fd809781aecb9c4f4d2f6d273ffe1c8da49e8d92150610561a0dcc47581352ae');
  const syn = candidate(sb, dir, 'syn', {
    seed: 5,
    edit: (r) => ((r.data.synthetic = { count: 6000, mix: { equation: 1 }, variants: {} }), r),
  });
  assert.equal(qualitySha(syn.ck, 'step-000600'), '8452b4a31721e4ad17db090f59e335b06794202907a7d37e8f2ab1bca725b9f2');
  // expected-score is not an entrypoint: the control plane never calls it
  const commands = JSON.stringify([MANIFEST.entrypoints, MANIFEST.leaderboard]);
  assert.doesNotMatch(commands, /expected-score|make-variant/);
});

test('expected-score: within 2 sd of the mean of 5 real runs (dev and leaderboard), same checkpoints as train', (t) => {
  const sb = substrate();
  const dir = tmp('aevo-simx-es-');
  const dev = [];
  const lb = [];
  let expected = null;
  for (const seed of [1, 2, 3, 4, 5]) {
    const c = candidate(sb, dir, `base-${seed}`, { seed });
    const summary = readJson(path.join(c.ck, 'train-summary.json'));
    assert.deepEqual(
      c.expected.checkpoints.map((x) => stepName(x.step)),
      summary.checkpoints,
    );
    if (expected) assert.deepEqual(c.expected, expected, 'expected scores do not depend on the training seed');
    expected = c.expected;
    dev.push(devScore(sb, c.ck, 'step-000600', path.join(dir, `dev-${seed}.json`)).overall);
    // each run its own hidden split (another secret seed): the leaderboard's *expected* composition
    const b = boardScores(sb, dir, c.ck, 'step-000600', hidden(sb, dir, 1000 + seed), `b-${seed}`);
    lb.push((b.public.overall + b.private.overall) / 2);
  }
  const last = expected.checkpoints[expected.checkpoints.length - 1];
  assert.equal(expected.variant, null);
  assert.equal(expected.size, 'cpu');
  assert.equal(expected.diverged, false);
  assert.equal(expected.last, 600);
  assert.equal(expected.bestByDev, 600);
  t.diagnostic(
    `dev: expected ${last.dev.overall}, real ${mean(dev).toFixed(4)} ± ${sd(dev).toFixed(4)}; LB: ` +
      `expected ${last.leaderboard.overall}, real ${mean(lb).toFixed(4)} ± ${sd(lb).toFixed(4)}`,
  );
  assert.ok(
    Math.abs(last.dev.overall - mean(dev)) <= 2 * sd(dev),
    `dev expected ${last.dev.overall} vs ${mean(dev)} ± ${sd(dev)} (${dev})`,
  );
  assert.ok(
    Math.abs(last.leaderboard.overall - mean(lb)) <= 2 * sd(lb),
    `LB expected ${last.leaderboard.overall} vs ${mean(lb)} ± ${sd(lb)} (${lb})`,
  );
  assert.deepEqual(last.decoupling, {
    domain: 'equation',
    active: false,
    devGain: 0,
    lbLoss: 0,
    domainDevGain: 0,
    domainLbLoss: 0,
  });
});

test('expected-score: deterministic, honours divergence, sizes and the designed decoupling region', () => {
  const sb = substrate();
  const dir = tmp('aevo-simx-det-');
  const a = candidate(sb, dir, 'a', {
    train: false,
    edit: (r) => ((r.data.synthetic = { count: 6000, mix: { equation: 1 }, variants: {} }), r),
  });
  const again = path.join(dir, 'again.json');
  node(sb, [
    'bin/expected-score.mjs',
    '--recipe',
    a.recipe,
    '--data-dir',
    a.data,
    '--out',
    again,
    '--base',
    'base/checkpoint.json',
  ]);
  assert.ok(fs.readFileSync(a.es).equals(fs.readFileSync(again)), 'byte-identical');
  const last = a.expected.checkpoints[a.expected.checkpoints.length - 1];
  assert.equal(last.decoupling.domain, 'equation');
  assert.ok(
    last.decoupling.active && last.decoupling.devGain > 0 && last.decoupling.lbLoss > 0,
    JSON.stringify(last.decoupling),
  );
  assert.equal(a.expected.checkpoints[0].decoupling.active, false, 'dev gains only in the second half');
  // a diverged run: only the checkpoints before divergence
  const hot = candidate(sb, dir, 'hot', {
    edit: (r) => ((r.train.lr = 0.035), (r.train.checkpoint_every = 100), r),
    trainExit: 3,
  });
  assert.equal(hot.expected.diverged, true);
  assert.deepEqual(
    hot.expected.checkpoints.map((x) => stepName(x.step)),
    readJson(path.join(hot.ck, 'train-summary.json')).checkpoints,
  );
  assert.ok(hot.expected.checkpoints.length >= 1);
  const tiny = candidate(sb, dir, 'tiny', { size: 'tiny' });
  assert.deepEqual(
    tiny.expected.checkpoints.map((x) => x.step),
    [4, 8],
  );
  for (const c of tiny.expected.checkpoints)
    for (const x of [c.dev.overall, c.leaderboard.overall]) assert.ok(x > 0 && x < 1);
});

test('make-variant: a full copy of the substrate plus lib/variant.json; unknown variants refused', () => {
  for (const name of ['late-decoupling', 'noisy-public']) {
    const sb = substrate(name);
    const files = (d) =>
      fs
        .readdirSync(d, { recursive: true })
        .filter((f) => fs.statSync(path.join(d, f)).isFile())
        .sort();
    const mine = files(ROOT);
    assert.deepEqual(files(sb), [...mine, 'lib/variant.json'].sort());
    for (const f of mine) assert.ok(fs.readFileSync(path.join(ROOT, f)).equals(fs.readFileSync(path.join(sb, f))), f);
    assert.equal(readJson(path.join(sb, 'lib', 'variant.json')).variant, name);
    // every frozen glob still covers the variant file; it is not editable
    const m = YAML.parse(fs.readFileSync(path.join(sb, 'substrate.yaml'), 'utf8'));
    assert.ok(m.frozen.includes('lib/**') && !m.editable.some((g) => g.startsWith('lib')));
  }
  const bad = spawnSync(
    process.execPath,
    ['sim/make-variant.mjs', '--variant', 'nope', '--out', path.join(tmp('aevo-simx-bad-'), 'x')],
    { cwd: ROOT, encoding: 'utf8' },
  );
  assert.equal(bad.status, 2);
});

test('late-decoupling: cipher weight 1.5 -> 2.25 enters the late region (dev up, leaderboard down)', (t) => {
  const sb = substrate('late-decoupling');
  const dir = tmp('aevo-simx-late-');
  const w15 = (r) => ((r.data.mix.cipher = 1.5), r);
  const w225 = (r) => ((r.data.mix.cipher = 2.25), r);
  const lastOf = (e) => e.checkpoints[e.checkpoints.length - 1];
  // expected scores (noise-free)
  const a = candidate(sb, dir, 'w15', { train: false, edit: w15 }).expected;
  const b = candidate(sb, dir, 'w225', { train: false, edit: w225 }).expected;
  assert.equal(b.variant, 'late-decoupling');
  const [la, lb] = [lastOf(a), lastOf(b)];
  assert.ok(lb.dev.overall > la.dev.overall, `dev ${la.dev.overall} -> ${lb.dev.overall}`);
  assert.ok(
    lb.leaderboard.overall < la.leaderboard.overall - 0.02,
    `LB ${la.leaderboard.overall} -> ${lb.leaderboard.overall}`,
  );
  assert.ok(
    lb.dev.domains.cipher > la.dev.domains.cipher && lb.leaderboard.domains.cipher < la.leaderboard.domains.cipher,
  );
  assert.equal(la.decoupling.active, false);
  assert.equal(lb.decoupling.domain, 'cipher');
  assert.ok(
    lb.decoupling.active && lb.decoupling.devGain > 0 && lb.decoupling.lbLoss > 0,
    JSON.stringify(lb.decoupling),
  );
  // later onset: nothing before the last third of training
  assert.ok(b.checkpoints.filter((c) => c.step <= 400).every((c) => !c.decoupling.active));
  // synthetic cipher rows (pipeline/build.mjs synthesize) enter it too
  const syn = candidate(sb, dir, 'syn', {
    train: false,
    edit: (r) => ((r.data.synthetic = { count: 2000, mix: { cipher: 1 }, variants: {} }), r),
  }).expected;
  assert.ok(lastOf(syn).decoupling.active);
  // the designed substrate has no cipher region: the same recipe is outside any decoupling there
  const designed = candidate(substrate(), dir, 'designed', { train: false, edit: w225 }).expected;
  assert.equal(designed.variant, null);
  assert.deepEqual(lastOf(designed).decoupling, {
    domain: 'equation',
    active: false,
    devGain: 0,
    lbLoss: 0,
    domainDevGain: 0,
    domainLbLoss: 0,
  });
  // real runs: dev cipher up, leaderboard cipher and overall down (3 seeds, one hidden split)
  const hid = hidden(sb, dir, 4242);
  assert.match(fs.readFileSync(path.join(hid, 'public.csv'), 'utf8'), /domain=cipher variant=keyed/);
  const real = (tag, edit) => {
    const m = { dev: [], devCipher: [], lb: [], lbCipher: [] };
    for (const seed of [1, 2, 3]) {
      const c = candidate(sb, dir, `${tag}-${seed}`, { seed, edit });
      const d = devScore(sb, c.ck, 'step-000600', path.join(dir, `${tag}-${seed}-dev.json`));
      const s = boardScores(sb, dir, c.ck, 'step-000600', hid, `${tag}-${seed}`);
      m.dev.push(d.overall);
      m.devCipher.push(d.domains.cipher.score);
      m.lb.push((s.public.overall + s.private.overall) / 2);
      m.lbCipher.push((s.public.domains.cipher.score + s.private.domains.cipher.score) / 2);
    }
    return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, mean(v)]));
  };
  const ra = real('r15', w15);
  const rb = real('r225', w225);
  t.diagnostic(
    `expected: dev ${la.dev.overall} -> ${lb.dev.overall}, LB ${la.leaderboard.overall} -> ` +
      `${lb.leaderboard.overall}; real (3 seeds): ${JSON.stringify(ra)} -> ${JSON.stringify(rb)}`,
  );
  assert.ok(rb.devCipher > ra.devCipher + 0.1, `dev cipher ${JSON.stringify(ra)} -> ${JSON.stringify(rb)}`);
  assert.ok(rb.lbCipher < ra.lbCipher - 0.03, `LB cipher ${JSON.stringify(ra)} -> ${JSON.stringify(rb)}`);
  assert.ok(rb.lb < ra.lb - 0.02, `LB ${JSON.stringify(ra)} -> ${JSON.stringify(rb)}`);
});

test(
  'noisy-public: 150 public rows + per-submission noise; public sd over seeds clearly larger, expectations ' +
    'unchanged',
  (t) => {
    const designed = substrate();
    const noisy = substrate('noisy-public');
    const dir = tmp('aevo-simx-noisy-');
    const hd = hidden(designed, path.join(dir, 'd'), 424242);
    const hn = hidden(noisy, path.join(dir, 'n'), 424242);
    assert.equal(readJson(path.join(hn, 'split.json')).public.n, 150);
    assert.equal(readJson(path.join(hn, 'split.json')).private.n, 600);
    const pd = [];
    const pn = [];
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      // the surface is the designed one, so the same checkpoint serves both boards
      const c = candidate(designed, dir, `s${seed}`, { seed });
      pd.push(boardScores(designed, dir, c.ck, 'step-000600', hd, `d${seed}`).public.overall);
      const n = boardScores(noisy, dir, c.ck, 'step-000600', hn, `n${seed}`);
      pn.push(n.public.overall);
      const again = path.join(dir, `n${seed}-again.json`);
      node(noisy, [
        'harness/score_predictions.mjs',
        '--predictions',
        path.join(dir, `n${seed}-preds.csv`),
        '--answers',
        path.join(hn, 'public.csv'),
        '--out',
        again,
        '--split',
        'public',
      ]);
      assert.equal(readJson(again).overall, n.public.overall, 'the same predictions get the same public score');
      if (seed === 1) {
        const e = candidate(noisy, dir, 'ne', { seed, train: false }).expected;
        assert.equal(e.variant, 'noisy-public');
        assert.deepEqual({ ...e, variant: null }, c.expected);
      }
    }
    t.diagnostic(`public sd over 6 training seeds: designed ${sd(pd).toFixed(4)}, noisy-public ${sd(pn).toFixed(4)}`);
    assert.ok(sd(pn) > 1.5 * sd(pd), `public sd designed ${sd(pd)} (${pd}) vs noisy ${sd(pn)} (${pn})`);
  },
);
