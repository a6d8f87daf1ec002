import * as fs from 'node:fs';
import * as path from 'node:path';
import { stringify } from 'yaml';

/**
 * Writes a small substrate that honours the contract (used by tests and benchmarks; real substrates live in
 * `substrate/`). `manifest` patches the default substrate.yaml (a key set to undefined is removed);
 * `baseCheckpointBytes` sizes the base checkpoint, written sparse (a hole) when `sparse` is set.
 */
export interface FixtureOptions {
  manifest?: Record<string, unknown>;
  baseCheckpointBytes?: number;
  sparse?: boolean;
  recipe?: string;
  /** Extra files: relative path → content. */
  files?: Record<string, string>;
}

export function defaultFixtureManifest(): Record<string, unknown> {
  const res = { cpu: 1, memoryMiB: 512, gpu: 0 };
  return {
    apiVersion: 'aevo.dev/v1',
    name: 'fixture',
    version: '0.1.0',
    description: 'a tiny substrate for tests',
    entrypoints: {
      'prepare-data': {
        command: ['python3', 'pipeline/build.py', '--recipe', '{recipe}', '--out', '{data_dir}', '--seed', '{seed}'],
        inputs: ['recipe'],
        outputs: ['data_dir'],
      },
      train: {
        command: [
          'python3',
          'harness/train.py',
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
          'python3',
          'harness/evaluate.py',
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
          'python3',
          'harness/predict.py',
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
    metric: { name: 'accuracy', higherIsBetter: true, domains: ['gravity', 'cipher'] },
    outputs: { checkpointDir: 'step-{step:06d}', scores: 'dev-scores', predictions: 'csv' },
    sizes: ['tiny', 'cpu'],
  };
}

export const DEFAULT_FIXTURE_RECIPE = `# editable recipe
lr: 0.001   # learning rate
steps: 100
mix:
  gravity: 1
  cipher: 1
`;

export function writeSubstrateFixture(dir: string, opts: FixtureOptions = {}): string {
  const manifest = defaultFixtureManifest();
  for (const [k, v] of Object.entries(opts.manifest ?? {})) {
    if (v === undefined) delete manifest[k];
    else manifest[k] = v;
  }
  const files: Record<string, string> = {
    'recipe.yaml': opts.recipe ?? DEFAULT_FIXTURE_RECIPE,
    'pipeline/build.py': 'print("build data")\n',
    'pipeline/mix/weights.py': 'WEIGHTS = {}\n',
    'harness/train.py': 'print("train")\n',
    'harness/evaluate.py': 'print("evaluate")\n',
    'harness/predict.py': 'print("predict")\n',
    'harness/metric.py': 'def score(a, b):\n    return a == b\n',
    'README.md': '# fixture\n',
    ...(opts.files ?? {}),
  };
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'substrate.yaml'), stringify(manifest));
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), content);
  }
  fs.chmodSync(path.join(dir, 'harness/train.py'), 0o755);
  const ckpt = path.join(dir, 'base/checkpoint.pt');
  fs.mkdirSync(path.dirname(ckpt), { recursive: true });
  writeCheckpoint(ckpt, opts.baseCheckpointBytes ?? 4096, opts.sparse ?? false);
  return dir;
}

/** A checkpoint-like file of `bytes` bytes: sparse (truncate) or real pseudo-random-ish content. */
export function writeCheckpoint(file: string, bytes: number, sparse: boolean): void {
  if (sparse) {
    const fd = fs.openSync(file, 'w');
    try {
      fs.writeSync(fd, Buffer.from('CKPT'), 0, 4, 0);
      fs.ftruncateSync(fd, bytes);
    } finally {
      fs.closeSync(fd);
    }
    return;
  }
  const chunk = Buffer.alloc(Math.min(bytes, 1 << 20));
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 2654435761) >>> 24;
  const fd = fs.openSync(file, 'w');
  try {
    for (let off = 0; off < bytes; off += chunk.length)
      fs.writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - off), off);
  } finally {
    fs.closeSync(fd);
  }
}
