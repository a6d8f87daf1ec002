import type { RecipeDocument, SelectionCriterion } from '@aevo/contracts';
import { getPath } from '../recipe-doc';

/**
 * Where a recipe keeps each knob. Recipes are substrate-specific; the operators look the knob up under these
 * dotted paths and only ever change settings the standing recipe already has, so they never invent a key the
 * substrate would not understand.
 */
export const KNOB_PATHS = {
  lr: ['lr', 'learning_rate', 'optim.lr', 'optimizer.lr', 'train.lr', 'training.lr'],
  schedule: ['schedule', 'lr_schedule', 'scheduler', 'optim.schedule', 'train.schedule'],
  warmup: ['warmup_steps', 'warmup', 'warmup_ratio', 'optim.warmup_steps', 'train.warmup_steps'],
  steps: ['steps', 'max_steps', 'train_steps', 'train.steps', 'training.steps', 'epochs'],
  batch: ['batch_size', 'train.batch_size', 'training.batch_size', 'batch'],
  loraRank: ['lora.rank', 'lora_rank', 'lora.r', 'adapter.rank', 'rank'],
  loraAlpha: ['lora.alpha', 'lora_alpha', 'adapter.alpha'],
  clip: ['grad_clip', 'clip', 'max_grad_norm', 'clip_grad_norm', 'optim.grad_clip', 'train.grad_clip'],
  mix: ['mix', 'data.mix', 'data_mix', 'mixture'],
  filters: ['filters', 'filter', 'data.filters'],
  augment: ['augment', 'augmentation', 'augmenters', 'data.augment'],
  synthetic: ['synthetic', 'synthetic_data', 'data.synthetic'],
  checkpointEvery: ['checkpoint_every', 'save_every', 'eval_every', 'ckpt_every', 'train.checkpoint_every'],
} as const;
export type Knob = keyof typeof KNOB_PATHS;

export const SCHEDULES = ['cosine', 'linear', 'constant'];

export function findKnob(recipe: RecipeDocument, knob: Knob): { path: string; value: unknown } | null {
  for (const p of KNOB_PATHS[knob]) {
    const v = getPath(recipe, p);
    if (v !== undefined) return { path: p, value: v };
  }
  return null;
}

export interface Setting {
  path: string;
  from: unknown;
  value: unknown;
}

export interface Proposal {
  settings: Setting[];
  hypothesis: string;
  /** A different checkpoint-selection rule (checkpoint-selection axis). */
  criterion?: SelectionCriterion;
  /** Dead ends the operator steered around (recorded in the hypothesis for the audit). */
  avoided: string[];
}

export const sig3 = (x: number): number => (x === 0 ? 0 : Number(x.toPrecision(3)));
export const scale = (v: number, f: number, integer: boolean): number =>
  integer ? Math.max(1, Math.round(v * f)) : sig3(v * f);
export const isInt = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v);

/** A move an operator may propose: its settings, why, and how its first step was taken. */
export interface Candidate {
  settings: Setting[];
  why: string;
  criterion?: SelectionCriterion;
  /**
   * How the first setting's value was reached from its current one (a step factor), so that a hinted direction
   * can widen it (factor f → f^stepScale). Absent: the realised ratio to/from stands in for the factor.
   */
  step?: { factor: number; integer: boolean; max?: number };
}
