import { z } from 'zod';
import { defineEvent } from '../envelope';
import { ScoreVector } from '../manifest';
import { SelectionCriterion } from '../policy';
import { Slug } from '../ids';

export const CheckpointEvaluated = defineEvent(
  'CheckpointEvaluated',
  { owners: ['evaluation'], description: 'The frozen evaluate entrypoint scored one checkpoint on the dev split.' },
  z
    .object({
      candidateId: Slug,
      round: z.number().int().min(1),
      checkpoint: z.string().min(1),
      step: z.number().int().min(0),
      seed: z.number().int(),
      split: z.string(),
      dev: ScoreVector,
      n: z.number().int().min(0),
      jobId: Slug,
    })
    .strict(),
);

export const CheckpointSelected = defineEvent(
  'CheckpointSelected',
  { owners: ['evaluation'], description: 'A candidate’s checkpoint was chosen by the policy’s criterion.' },
  z
    .object({
      candidateId: Slug,
      round: z.number().int().min(1),
      checkpoint: z.string().min(1),
      criterion: SelectionCriterion,
      score: z.number(),
      considered: z.number().int().min(1),
    })
    .strict(),
);

export const EvaluationFailed = defineEvent(
  'EvaluationFailed',
  { owners: ['evaluation'], description: 'A checkpoint could not be evaluated (job failed or output did not validate).' },
  z.object({ candidateId: Slug, round: z.number().int().min(1), checkpoint: z.string(), reason: z.string() }).strict(),
);
