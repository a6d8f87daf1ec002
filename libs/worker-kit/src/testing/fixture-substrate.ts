import * as fs from 'node:fs';
import * as path from 'node:path';
import { stringify } from 'yaml';

/**
 * A small substrate honouring the contract, written in Node so runtime tests need no Python: `train` computes a
 * known response surface of the recipe plus seeded noise, diverges (exit 3, DIVERGED) when lr > 0.02, can be
 * made slow (recipe `sleep_ms`) so a test can kill the worker mid-job, and appends one line per launch to
 * `launches.log` in its output directory (and each evaluation to `evaluations.log` beside its scores) so a test can
 * count them — a job may write nothing but its declared outputs.
 */
export const FIXTURE_DOMAINS = ['bit_manipulation', 'gravity', 'unit_conversion', 'cipher', 'numeral', 'equation'];

export const FIXTURE_RECIPE = `# fixture recipe
data:
  rows: 400
  mix:
    bit_manipulation: 1
    gravity: 1
    unit_conversion: 1
    cipher: 1
    numeral: 1
    equation: 1
  synthetic:
    count: 0
  augment:
    shuffle_examples: 0.0
  filters:
    dedupe: false
    max_answer_chars: 30
train:
  lr: 0.003
  schedule: cosine
  warmup_steps: 10
  steps: 60
  batch_size: 16
  grad_clip: 1.0
  checkpoint_every: 20
  sleep_ms: 0
lora:
  rank: 0
  alpha: 16
`;

/** The yaml package, copied into the substrate: a job sees nothing but the system and its sandbox. */
const yamlPackageDir = path.dirname(require.resolve('yaml/package.json'));

const COMMON = `
const fs = require('fs');
const path = require('path');
const YAML = require('yaml');
const arg = (n) => { const i = process.argv.indexOf('--' + n); return i < 0 ? undefined : process.argv[i + 1]; };
function rnd(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const DOMAINS = ${JSON.stringify(FIXTURE_DOMAINS)};
`;

const PREPARE = `${COMMON}
const recipe = YAML.parse(fs.readFileSync(arg('recipe'), 'utf8'));
const out = arg('out');
fs.mkdirSync(out, { recursive: true });
const mix = recipe.data.mix;
if (Object.values(mix).some((w) => typeof w !== 'number' || w < 0)) { console.error('invalid mix'); process.exit(2); }
fs.appendFileSync(path.join(out, 'launches.log'), (process.env.AEVO_JOB_ID || 'job') + ' ' + process.pid + '\\n');
fs.writeFileSync(
  path.join(out, 'summary.json'),
  JSON.stringify({ rows: recipe.data.rows, mix, synthetic: recipe.data.synthetic.count }),
);
console.log('prepared', recipe.data.rows, 'rows');
`;

const TRAIN = `${COMMON}
const recipe = YAML.parse(fs.readFileSync(arg('recipe'), 'utf8'));
const data = JSON.parse(fs.readFileSync(path.join(arg('data'), 'summary.json'), 'utf8'));
const out = arg('out');
const seed = Number(arg('seed'));
fs.mkdirSync(out, { recursive: true });
fs.appendFileSync(path.join(out, 'launches.log'), (process.env.AEVO_JOB_ID || 'job') + ' ' + process.pid + '\\n');
const t = recipe.train;
const sleep = Number(t.sleep_ms || 0);
const started = Date.now();
while (Date.now() - started < sleep) { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20); }
if (t.lr > 0.02) { console.log('step 10 loss nan'); console.log('DIVERGED at step 10'); process.exit(3); }
const r = rnd(seed * 7919 + 17);
const total = Object.values(data.mix).reduce((a, b) => a + b, 0);
const ckpts = [];
for (let step = t.checkpoint_every; step <= t.steps; step += t.checkpoint_every) {
  const dir = 'step-' + String(step).padStart(6, '0');
  fs.mkdirSync(path.join(out, dir), { recursive: true });
  const lrTerm = -Math.pow(Math.log10(t.lr / 0.005), 2) * 0.1;
  const progress = Math.min(1, step / 80) * 0.2;
  const domains = {};
  for (const d of DOMAINS) {
    const share = data.mix[d] / total;
    const synthetic = data.synthetic > 0 && d === 'equation' ? 0.1 : 0;
    domains[d] = Math.max(
      0,
      Math.min(1, 0.45 + lrTerm + progress + (share - 1 / 6) * 0.6 + synthetic + (r() - 0.5) * 0.02),
    );
  }
  const info = {
    step, seed, trainLoss: 1 - progress, recipeSha256: 'x', size: arg('size'), device: arg('device'), diverged: false,
    domains,
  };
  fs.writeFileSync(path.join(out, dir, 'checkpoint.json'), JSON.stringify(info));
  ckpts.push(dir);
  console.log('step', step, 'saved', dir);
}
const summary = {
  status: 'ok', steps: t.steps, checkpoints: ckpts, finalLoss: 0.5, seconds: (Date.now() - started) / 1000,
  device: arg('device'),
};
fs.writeFileSync(path.join(out, 'train-summary.json'), JSON.stringify(summary));
console.log('done');
`;

const EVALUATE = `${COMMON}
const ckpt = arg('checkpoint');
fs.mkdirSync(path.dirname(arg('out')), { recursive: true });
fs.appendFileSync(
  path.join(path.dirname(arg('out')), 'evaluations.log'),
  (process.env.AEVO_JOB_ID || 'job') + ' ' + path.basename(ckpt) + '\\n',
);
const info = JSON.parse(fs.readFileSync(path.join(ckpt, 'checkpoint.json'), 'utf8'));
const n = 50;
const domains = {};
let sum = 0;
for (const d of DOMAINS) { domains[d] = { score: Math.round(info.domains[d] * n) / n, n }; sum += domains[d].score; }
fs.mkdirSync(path.dirname(arg('out')), { recursive: true });
const scores = { checkpoint: ckpt, split: arg('split'), overall: sum / DOMAINS.length, n: n * DOMAINS.length, domains };
fs.writeFileSync(arg('out'), JSON.stringify(scores));
`;

export function writeFixtureSubstrate(dir: string, opts: { recipe?: string } = {}): string {
  const res = { cpu: 1, memoryMiB: 256, gpu: 0 };
  const manifest = {
    apiVersion: 'aevo.dev/v1',
    name: 'worker-fixture',
    version: '0.1.0',
    description: 'node substrate for worker runtime tests',
    entrypoints: {
      'prepare-data': {
        command: ['node', 'pipeline/prepare.js', '--recipe', '{recipe}', '--out', '{data_dir}'],
        inputs: ['recipe'],
        outputs: ['data_dir'],
      },
      train: {
        command: [
          'node',
          'harness/train.js',
          '--recipe',
          '{recipe}',
          '--data',
          '{data_dir}',
          '--base',
          '{base_checkpoint}',
          '--out',
          '{checkpoints_dir}',
          '--seed',
          '{seed}',
          '--size',
          '{size}',
          '--device',
          '{device}',
        ],
        inputs: ['recipe', 'data_dir', 'base_checkpoint'],
        outputs: ['checkpoints_dir'],
      },
      evaluate: {
        command: [
          'node',
          'harness/evaluate.js',
          '--checkpoint',
          '{checkpoint}',
          '--split',
          '{split}',
          '--out',
          '{scores}',
        ],
        inputs: ['checkpoint', 'split'],
        outputs: ['scores'],
      },
      predict: {
        command: [
          'node',
          'harness/evaluate.js',
          '--checkpoint',
          '{checkpoint}',
          '--prompts',
          '{prompts}',
          '--out',
          '{predictions}',
        ],
        inputs: ['checkpoint', 'prompts'],
        outputs: ['predictions'],
      },
    },
    recipe: 'recipe.yaml',
    editable: ['recipe.yaml', 'pipeline/**'],
    frozen: ['harness/**', 'base/**', 'substrate.yaml'],
    baseCheckpoint: 'base/checkpoint.pt',
    resources: { 'prepare-data': res, train: res, evaluate: res, predict: res },
    metric: { name: 'accuracy', higherIsBetter: true, domains: FIXTURE_DOMAINS },
    outputs: { checkpointDir: 'step-{step:06d}', scores: 'dev-scores', predictions: 'csv' },
    sizes: ['tiny'],
  };
  const files: Record<string, string> = {
    'substrate.yaml': stringify(manifest),
    'recipe.yaml': opts.recipe ?? FIXTURE_RECIPE,
    'pipeline/prepare.js': PREPARE,
    'harness/train.js': TRAIN,
    'harness/evaluate.js': EVALUATE,
    'base/checkpoint.pt': 'CKPT',
  };
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), content);
  }
  for (const part of ['package.json', 'dist'])
    fs.cpSync(path.join(yamlPackageDir, part), path.join(dir, 'node_modules', 'yaml', part), { recursive: true });
  return dir;
}

/** A fresh sandbox: a copy of the substrate (what the substrate service's fork gives a candidate). */
export function forkSandbox(substrateDir: string, sandboxDir: string): string {
  fs.cpSync(substrateDir, sandboxDir, { recursive: true });
  return sandboxDir;
}
