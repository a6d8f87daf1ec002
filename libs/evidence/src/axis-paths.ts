import type { Axis } from '@aevo/contracts';

/**
 * Which recipe settings belong to which axis. Recipes are substrate-specific, so the default judges a dotted
 * path ("optim.lr", "mix.equation") by its segments; a substrate with other names passes its own patterns.
 * A pattern is a regular expression matched against every segment of the path.
 */
export type AxisPathPatterns = Record<Axis, RegExp[]>;

export const DEFAULT_AXIS_PATTERNS: AxisPathPatterns = {
  baseline: [],
  'learning-rate': [/^(lr|learning[_-]?rate|peak[_-]?lr|base[_-]?lr|weight[_-]?decay)$/i],
  schedule: [/^(schedule|scheduler|lr[_-]?schedule|decay|lr[_-]?decay|min[_-]?lr([_-].*)?|cosine|cooldown)$/i],
  warmup: [/warmup/i],
  steps: [/^(steps|max[_-]?steps|train[_-]?steps|epochs|iterations|num[_-]?steps|batch[_-]?size|batch)$/i],
  clipping: [/clip/i],
  'lora-capacity': [
    /^(lora|lora[_-].*|rank|alpha|capacity|d[_-]?model|hidden([_-].*)?|layers|n[_-]?layers?|width|depth|dropout)$/i,
  ],
  'data-mix': [/^(mix|data[_-]?mix|mixture|domain[_-]?weights|weights|domains|rows)$/i],
  filtering: [/filter|dedup|min[_-]?len|max[_-]?len|quality/i],
  augmentation: [/augment/i],
  'synthetic-data': [/synth|generated|extra[_-]?data/i],
  'checkpoint-selection': [/checkpoint|select|criterion|eval[_-]?every|save[_-]?every/i],
};

const DATA_AXES: ReadonlySet<Axis> = new Set<Axis>(['data-mix', 'filtering', 'augmentation', 'synthetic-data']);

/** True when the recipe setting at `path` belongs to `axis`. */
export function pathBelongsToAxis(
  path: string,
  axis: Axis,
  patterns: AxisPathPatterns = DEFAULT_AXIS_PATTERNS,
): boolean {
  const segments = path.split('.');
  return patterns[axis].some((re) => segments.some((s) => re.test(s)));
}

/**
 * True when editing `file` (other than the recipe) belongs to `axis`: only the data axes may edit the data
 * pipeline; the recipe file itself is judged setting by setting.
 */
export function fileBelongsToAxis(file: string, axis: Axis, recipeFile: string): boolean {
  if (file === recipeFile) return true;
  return DATA_AXES.has(axis);
}
