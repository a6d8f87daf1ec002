import { z } from 'zod';
import { defineEvent } from '../envelope';
import { JsonValue, RecipeChange } from '../recipe';
import { ResultManifest } from '../manifest';
import { Sha256, Slug } from '../ids';
import { SelectionCriterion } from '../policy';

/** Which worker brief was in force, pinned by its content hash. */
export const WorkerBriefRef = z
  .object({
    source: z.enum(['default', 'substrate']),
    /** `worker-kit:brief/worker-brief.md` for the default; the substrate-relative path of the substrate's own. */
    path: z.string().min(1).max(512),
    sha256: Sha256,
  })
  .strict();
export type WorkerBriefRef = z.infer<typeof WorkerBriefRef>;

export const WorkerStarted = defineEvent(
  'WorkerStarted',
  { owners: ['worker'], description: 'A worker replica took a candidate (first time or resuming from its trace).' },
  z
    .object({
      candidateId: Slug,
      round: z.number().int().min(1),
      workerId: z.string().min(1),
      agentKind: z.enum(['heuristic', 'claude']),
      resumedFromStep: z.number().int().min(0).nullable(),
      /**
       * The brief (rules) the agent was given: worker-kit's default or the substrate's own; absent for the heuristic
       * agent and in older logs.
       */
      brief: WorkerBriefRef.optional(),
    })
    .strict(),
);

export const TraceStepRecorded = defineEvent(
  'TraceStepRecorded',
  {
    owners: ['worker'],
    description: 'One tool call (intent recorded before it acts) or its outcome; the append-only execution trace.',
  },
  z
    .object({
      candidateId: Slug,
      step: z.number().int().min(0),
      phase: z.enum(['intent', 'outcome']),
      tool: z.string().min(1),
      input: JsonValue,
      output: JsonValue.optional(),
      ok: z.boolean().optional(),
      /** Model, usage and stop reason of the LLM turn that produced this call, when an LLM did. */
      llm: z
        .object({
          model: z.string(),
          inputTokens: z.number().int().min(0),
          outputTokens: z.number().int().min(0),
          cacheReadTokens: z.number().int().min(0).default(0),
          stopReason: z.string().nullable(),
        })
        .strict()
        .optional(),
    })
    .strict(),
);

export const RecipeChanged = defineEvent(
  'RecipeChanged',
  { owners: ['worker'], description: 'A worker edited its sandbox recipe or pipeline.' },
  z.object({ candidateId: Slug, file: z.string(), changes: z.array(RecipeChange), diff: z.string() }).strict(),
);

export const ManifestSubmitted = defineEvent(
  'ManifestSubmitted',
  { owners: ['worker'], description: 'A worker finished its candidate with a validated result manifest.' },
  z.object({ candidateId: Slug, round: z.number().int().min(1), manifest: ResultManifest }).strict(),
);

export const WorkerFailed = defineEvent(
  'WorkerFailed',
  {
    owners: ['worker'],
    description: 'A worker gave up on its candidate; a failed manifest follows or the candidate is lost.',
  },
  z
    .object({
      candidateId: Slug,
      round: z.number().int().min(1),
      reason: z.string(),
      step: z.number().int().min(0).nullable(),
    })
    .strict(),
);

export const EvaluationRequested = defineEvent(
  'EvaluationRequested',
  {
    owners: ['worker'],
    description: 'A worker asked the evaluation service to score the checkpoints of one training run.',
  },
  z
    .object({
      requestId: Slug,
      candidateId: Slug,
      round: z.number().int().min(1),
      sandboxPath: z.string().min(1),
      /** Checkpoint directories relative to the sandbox, e.g. "runs/seed-1/ckpt/step-000100". */
      checkpoints: z.array(z.string().min(1)).min(1),
      seed: z.number().int(),
      criterion: SelectionCriterion,
    })
    .strict(),
);
