// Shared by the entrypoints (frozen): sizes, recipe defaults, paths.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Sizes scale the recipe (written for `cpu`), as in the reference substrate. */
export const SIZES = {
  tiny: { maxSteps: 8, maxBatch: 16, maxRows: 300, evalStride: 10 },
  cpu: { stepsScale: 1, batchScale: 1, evalStride: 1 },
  gpu: { stepsScale: 4, batchScale: 4, evalStride: 1 },
};

export const TRAIN_DEFAULTS = {
  lr: 3e-3,
  schedule: 'cosine',
  warmup_steps: 30,
  min_lr_ratio: 0.1,
  steps: 600,
  epochs: null,
  batch_size: 64,
  grad_clip: 1.0,
  weight_decay: 0.01,
  checkpoint_every: 200,
  prompt_loss_weight: 0.0,
};
export const LORA_DEFAULTS = { rank: 0, alpha: 16 };

export function checkSize(size) {
  const s = String(size ?? 'cpu').toLowerCase();
  if (!SIZES[s]) throw new Error(`unknown size ${size}; expected one of ${Object.keys(SIZES).join(', ')}`);
  return s;
}

export function pickDevice(requested) {
  const r = String(requested ?? 'auto').toLowerCase();
  return r === 'auto' || r === '' || r === '{device}' ? 'cpu' : r;
}

export const DEV_CSV = join(ROOT, 'data', 'dev.csv');
