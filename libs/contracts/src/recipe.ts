import { z } from 'zod';

/**
 * A recipe is substrate-specific YAML; the control plane treats it as a JSON object and reasons about it
 * through dotted paths ("lr", "mix.equation"). Values must be JSON scalars, arrays or objects.
 */
export const JsonValue: z.ZodType<unknown> = z.lazy(() =>
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(JsonValue), z.record(z.string(), JsonValue)]),
);
export const RecipeDocument = z.record(z.string(), JsonValue);
export type RecipeDocument = z.infer<typeof RecipeDocument>;

/** One changed setting, dotted path into the recipe. */
export const RecipeChange = z
  .object({
    path: z.string().min(1),
    from: JsonValue.optional(),
    to: JsonValue,
  })
  .strict();
export type RecipeChange = z.infer<typeof RecipeChange>;

/** Axes a worker can be told to explore; each belongs to a category used by the rotation meta-rule. */
export const Axis = z.enum([
  'baseline',
  'learning-rate',
  'schedule',
  'warmup',
  'steps',
  'lora-capacity',
  'clipping',
  'data-mix',
  'filtering',
  'augmentation',
  'synthetic-data',
  'checkpoint-selection',
]);
export type Axis = z.infer<typeof Axis>;

export const AxisCategory = z.enum(['anchor', 'optimisation', 'capacity', 'data', 'selection']);
export type AxisCategory = z.infer<typeof AxisCategory>;

export const AXIS_CATEGORY: Record<Axis, AxisCategory> = {
  baseline: 'anchor',
  'learning-rate': 'optimisation',
  schedule: 'optimisation',
  warmup: 'optimisation',
  steps: 'optimisation',
  clipping: 'optimisation',
  'lora-capacity': 'capacity',
  'data-mix': 'data',
  filtering: 'data',
  augmentation: 'data',
  'synthetic-data': 'data',
  'checkpoint-selection': 'selection',
};
