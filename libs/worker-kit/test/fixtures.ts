import type { DeadEnd, RecipeDocument, RollingPolicy } from '@aevo/contracts';
import { policies } from '@aevo/testkit';

export const RECIPE: RecipeDocument = {
  lr: 0.003,
  schedule: 'cosine',
  warmup_steps: 20,
  steps: 200,
  batch_size: 32,
  grad_clip: 1.0,
  lora: { rank: 8, alpha: 16 },
  mix: { bit_manipulation: 1, gravity: 1, unit_conversion: 2, cipher: 1, numeral: 1, equation: 1 },
  filters: { dedupe: true, max_prompt_chars: 600 },
  augment: { shuffle_examples: false, paraphrase: 0.0 },
  synthetic: { equation: 0, bit_manipulation: 0 },
  checkpoint_every: 50,
};

export function policy(over: Partial<RollingPolicy> = {}): RollingPolicy {
  return policies.plain(0, RECIPE, { rationale: 'initial policy', ...over });
}

export const deadEnd = (over: Partial<DeadEnd> & Pick<DeadEnd, 'axis'>): DeadEnd => ({
  id: `de-${over.path ?? 'x'}-${over.direction ?? 'any'}`,
  description: `dead end ${over.path}`,
  round: 1,
  evidence: 'round 1 evidence',
  ...over,
});
