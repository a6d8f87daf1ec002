import { z } from 'zod';
import { defineEvent } from '../envelope';
import { ScoreVector } from '../manifest';
import { SelectionCriterion } from '../policy';
import { Slug } from '../ids';

/**
 * One EvaluationRequested (worker) is handled on the stream `evaluation:<campaignId>:<requestId>`:
 * EvaluationStarted, one JobRequested per checkpoint (jobId `<requestId>-eval-<i>`), then per checkpoint exactly one
 * CheckpointEvaluated or EvaluationFailed{checkpoint}, and last either CheckpointSelected or
 * EvaluationFailed{checkpoint: null} (nothing could be evaluated, or the sandbox failed verification).
 */
export const EvaluationStarted = defineEvent(
  'EvaluationStarted',
  {
    owners: ['evaluation'],
    description: 'The sandbox passed frozen-path verification and the evaluate jobs were requested.',
  },
  z
    .object({
      requestId: Slug,
      candidateId: Slug,
      round: z.number().int().min(1),
      sandboxPath: z.string().min(1),
      checkpoints: z.array(z.string().min(1)).min(1),
      seed: z.number().int(),
      criterion: SelectionCriterion,
      /** How the frozen paths were verified before evaluating. */
      verifiedBy: z.enum(['substrate-service', 'substrate-kit']),
    })
    .strict(),
);

export const CheckpointEvaluated = defineEvent(
  'CheckpointEvaluated',
  { owners: ['evaluation'], description: 'The frozen evaluate entrypoint scored one checkpoint on the dev split.' },
  z
    .object({
      requestId: Slug,
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
      requestId: Slug,
      candidateId: Slug,
      round: z.number().int().min(1),
      checkpoint: z.string().min(1),
      step: z.number().int().min(0),
      criterion: SelectionCriterion,
      /** The criterion's value for the chosen checkpoint (mean: overall; reweighted: Σ w·score / Σ w). */
      score: z.number(),
      dev: ScoreVector,
      considered: z.number().int().min(1),
    })
    .strict(),
);

export const EvaluationFailed = defineEvent(
  'EvaluationFailed',
  {
    owners: ['evaluation'],
    description:
      'A checkpoint could not be evaluated (job failed or output did not validate); checkpoint null: the ' +
      'whole request failed.',
  },
  z
    .object({
      requestId: Slug,
      candidateId: Slug,
      round: z.number().int().min(1),
      /** The checkpoint that failed, or null when the whole request failed (no selection follows). */
      checkpoint: z.string().min(1).nullable(),
      kind: z.enum(['frozen-path-violated', 'job-failed', 'invalid-scores', 'invalid-request', 'nothing-evaluated']),
      reason: z.string().min(1),
      /** The offending fields, for invalid scores or an invalid request. */
      issues: z.array(z.object({ path: z.string(), message: z.string() }).strict()).default([]),
    })
    .strict(),
);
