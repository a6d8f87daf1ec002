import { z } from 'zod';
import { Axis, RecipeChange } from './recipe';

export const ScoreVector = z
  .object({
    overall: z.number().min(0).max(1),
    domains: z.record(z.string(), z.number().min(0).max(1)),
  })
  .strict();
export type ScoreVector = z.infer<typeof ScoreVector>;

export const FailureMode = z
  .object({
    kind: z.enum([
      'job-failed',
      'diverged',
      'timeout',
      'path-refused',
      'frozen-path-violated',
      'invalid-output',
      'budget-exhausted',
      'agent-error',
      'evaluation-failed',
    ]),
    detail: z.string(),
    step: z.number().int().min(0).optional(),
  })
  .strict();
export type FailureMode = z.infer<typeof FailureMode>;

export const CheckpointResult = z
  .object({
    checkpoint: z.string().min(1),
    step: z.number().int().min(0),
    seed: z.number().int(),
    dev: ScoreVector,
  })
  .strict();

/** What every worker submits at the end of its candidate. */
export const ResultManifest = z
  .object({
    campaignId: z.string().min(1),
    round: z.number().int().min(1),
    candidateId: z.string().min(1),
    axis: Axis,
    isAnchor: z.boolean(),
    status: z.enum(['completed', 'failed']),
    hypothesis: z.string(),
    recipeChanges: z.array(RecipeChange),
    /**
     * Unified diff of every edited file, relative to the candidate's starting point: the fork with the policy's
     * standing recipe applied (so the anchor's diff is empty).
     */
    recipeDiff: z.string(),
    filesChanged: z.array(z.string()),
    seeds: z.array(z.number().int()).min(1),
    checkpoints: z.array(CheckpointResult),
    chosenCheckpoint: z
      .object({
        checkpoint: z.string().min(1),
        seed: z.number().int(),
        criterion: z.string().min(1),
        reason: z.string().min(1),
        dev: ScoreVector,
      })
      .strict()
      .nullable(),
    failureModes: z.array(FailureMode),
    cost: z
      .object({
        gpuSeconds: z.number().min(0),
        inputTokens: z.number().int().min(0),
        outputTokens: z.number().int().min(0),
        toolCalls: z.number().int().min(0),
        jobs: z.number().int().min(0),
      })
      .strict(),
    traceLength: z.number().int().min(0),
    /** The rolling-policy revision the worker was told (its only round-specific input besides the fork). */
    policyRevision: z.number().int().min(0).optional(),
    agentKind: z.enum(['heuristic', 'claude']).optional(),
  })
  .strict()
  .superRefine((m, ctx) => {
    if (m.status === 'completed' && m.chosenCheckpoint === null)
      ctx.addIssue({
        code: 'custom',
        path: ['chosenCheckpoint'],
        message: 'a completed manifest must name its chosen checkpoint',
      });
    if (m.isAnchor && m.recipeChanges.length > 0)
      ctx.addIssue({
        code: 'custom',
        path: ['recipeChanges'],
        message: 'the baseline anchor runs the standing recipe unchanged',
      });
  });
export type ResultManifest = z.infer<typeof ResultManifest>;
