import { z } from 'zod';
import { JsonValue, SelectionCriterion } from '@aevo/contracts';

/**
 * The worker's tools: one definition serves the heuristic agent (typed calls), the Claude agent (Anthropic tool
 * definitions generated from the same zod schemas) and input validation in the runtime.
 */
export const ToolInputs = {
  list_files: z
    .object({
      dir: z
        .string()
        .min(1)
        .optional()
        .describe(
          'Sandbox-relative directory; default the sandbox root (job outputs under runs/ and prepared/ ' +
            'are listed only when named).',
        ),
    })
    .strict(),
  read_file: z
    .object({
      path: z.string().min(1).describe('Sandbox-relative file path.'),
      offset: z.number().int().min(0).optional().describe('Byte offset to start at.'),
      limit: z.number().int().min(1).max(65536).optional().describe('Maximum bytes to return.'),
    })
    .strict(),
  write_file: z
    .object({
      path: z.string().min(1).describe('Sandbox-relative path; must match an editable glob of substrate.yaml.'),
      content: z.string().describe('The whole new file content.'),
    })
    .strict(),
  set_recipe: z
    .object({
      settings: z
        .array(
          z
            .object({
              path: z.string().min(1).describe('Dotted path into the recipe, e.g. "lr" or "mix.equation".'),
              value: JsonValue,
            })
            .strict(),
        )
        .min(1)
        .describe('Recipe settings to change; comments and key order of the recipe file are kept.'),
    })
    .strict(),
  preview_data: z.object({}).strict(),
  launch_training: z
    .object({ seed: z.number().int().describe('Training seed; use the seeds the fork lists.') })
    .strict(),
  poll_job: z
    .object({
      jobId: z.string().min(1),
      waitSeconds: z
        .number()
        .int()
        .min(0)
        .max(3600)
        .optional()
        .describe('Long poll: wait up to this long for the job to finish (default 0).'),
    })
    .strict(),
  read_log_tail: z.object({ jobId: z.string().min(1), lines: z.number().int().min(1).max(500).optional() }).strict(),
  evaluate_checkpoints: z
    .object({
      jobId: z
        .string()
        .min(1)
        .describe('A training job id returned by launch_training; all its checkpoints are scored on the dev split.'),
      waitSeconds: z.number().int().min(0).max(3600).optional(),
      criterion: SelectionCriterion.optional().describe(
        'Selection rule the evaluation service selects this run’s checkpoint by (default: the policy criterion).',
      ),
    })
    .strict(),
  submit_manifest: z
    .object({
      status: z.enum(['completed', 'failed']).default('completed'),
      hypothesis: z.string().min(1).max(4000).describe('What you changed and why you expected it to help.'),
      chosenCheckpoint: z
        .string()
        .min(1)
        .optional()
        .describe(
          'One of the evaluated checkpoints; default: the evaluation service’s selection (over seeds: the ' +
            'best selection by its recorded score).',
        ),
      reason: z.string().min(1).max(4000).describe('Why this checkpoint (or why the candidate failed).'),
    })
    .strict(),
} as const;

export type ToolName = keyof typeof ToolInputs;
export type ToolInput<N extends ToolName> = z.input<(typeof ToolInputs)[N]>;
export const TOOL_NAMES = Object.keys(ToolInputs) as ToolName[];

export const TOOL_DESCRIPTIONS: Record<ToolName, string> = {
  list_files: 'List files of your sandbox with their size and whether each is editable or frozen.',
  read_file: 'Read a file of your sandbox (UTF-8).',
  write_file:
    'Replace a file of your sandbox. Only editable paths (the recipe and the data pipeline) may be ' +
    'written; "..", absolute paths, symlinks and frozen paths are refused and recorded as failures.',
  set_recipe: 'Change recipe settings by dotted path (the recipe file is rewritten keeping comments).',
  preview_data:
    'Run the data pipeline (prepare-data) on the current recipe and return its log tail and outputs, without training.',
  launch_training:
    'Launch one training run of the current recipe with the given seed; returns a jobId. Prepares the ' +
    'data first if needed.',
  poll_job: 'Status of a job (queued/running/succeeded/failed/cancelled) with its failure reason; can wait for it.',
  read_log_tail: 'The last lines of a job log.',
  evaluate_checkpoints:
    'Score every checkpoint of a finished training job on the dev split, per domain; a finished ' +
    'evaluation is returned, never repeated.',
  submit_manifest:
    'Finish the candidate: the runtime assembles the result manifest (diff, scores, failures, cost) and ' +
    'validates it. Call exactly once, at the end.',
};

/** Anthropic Messages API tool definitions. */
export function anthropicTools(): Array<{ name: string; description: string; input_schema: Record<string, unknown> }> {
  return TOOL_NAMES.map((name) => {
    const schema = z.toJSONSchema(ToolInputs[name], { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
    delete schema.$schema;
    return { name, description: TOOL_DESCRIPTIONS[name], input_schema: { ...schema, type: 'object' } };
  });
}

/** Errors a tool returns to the agent. `failure` marks the ones that are failure modes of the candidate. */
export interface ToolError {
  code: string;
  message: string;
  issues?: Array<{ path: string; message: string }>;
  failure?:
    | 'path-refused'
    | 'job-failed'
    | 'diverged'
    | 'timeout'
    | 'invalid-output'
    | 'evaluation-failed'
    | 'budget-exhausted'
    | 'agent-error';
}

export type ToolResult<T = unknown> = { ok: true; value: T } | { ok: false; error: ToolError };
