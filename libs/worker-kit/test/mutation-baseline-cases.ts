import * as fs from 'node:fs';
import * as path from 'node:path';
import { Axis, type RecipeDocument, type RollingPolicy } from '@aevo/contracts';
import { deadEnd, policy, RECIPE } from './fixtures';
import { parseRecipeYaml } from '../src/recipe-doc';

/**
 * The fixed cases whose proposals were recorded (test/mutation-baseline.json) before search hints
 * existed: without hints, proposeMutation must keep returning exactly these.
 */
export function mutationBaselineCases(): Array<{
  id: string;
  axis: Axis;
  recipe: RecipeDocument;
  policy: RollingPolicy;
  seed: number;
  domains: string[];
}> {
  const domains = ['bit_manipulation', 'gravity', 'unit_conversion', 'cipher', 'numeral', 'equation'];
  const wonderland = parseRecipeYaml(
    fs.readFileSync(path.resolve(__dirname, '../../../substrate/wonderland/recipe.yaml'), 'utf8'),
  );
  const deadEndSets = {
    none: [],
    some: [
      deadEnd({ axis: 'learning-rate', path: 'lr', direction: 'increase' }),
      deadEnd({ axis: 'data-mix', path: 'mix.equation', direction: 'increase' }),
      deadEnd({ axis: 'data-mix', path: 'data.mix.equation', direction: 'increase' }),
      deadEnd({ axis: 'schedule', path: 'schedule', direction: 'set', value: 'linear' }),
      deadEnd({ axis: 'steps', path: 'train.steps', direction: 'decrease' }),
    ],
  };
  const out: ReturnType<typeof mutationBaselineCases> = [];
  for (const [rname, recipe] of [
    ['fixture', RECIPE],
    ['wonderland', wonderland],
  ] as const)
    for (const objective of ['raise-dev-and-lb', 'transfer-to-lb'] as const)
      for (const [dname, des] of Object.entries(deadEndSets))
        for (const axis of Axis.options)
          for (let seed = 0; seed < 12; seed++)
            out.push({
              id: `${rname}/${objective}/${dname}/${axis}/${seed * 7919}`,
              axis,
              recipe,
              policy: policy({ standingRecipe: recipe, objective, deadEnds: des }),
              seed: seed * 7919,
              domains,
            });
  return out;
}
