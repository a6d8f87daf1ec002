import { DomainError, describeIssues, zodIssues } from '@aevo/contracts';
import type { z } from 'zod';
import type { Submission } from '../manifest-builder';
import { PathRefusedError } from '../sandbox-files';
import { ToolInputs, type ToolName } from './definitions';
import { evaluateCheckpoints } from './evaluate';
import { setRecipe, writeFile } from './files';
import type { ToolHost } from './host';
import { fail, okOut, type StepOutcome } from './outcome';
import { submitManifest } from './submit';

/** A tool's input after its schema parsed it (defaults applied). */
export type ParsedToolInput<N extends ToolName> = z.output<(typeof ToolInputs)[N]>;

type ToolHandler<N extends ToolName> = (
  host: ToolHost,
  input: ParsedToolInput<N>,
  step: number,
) => StepOutcome | Promise<StepOutcome>;

/** Every tool's implementation, typed by its own input schema: adding a tool without a handler does not compile. */
export const TOOL_HANDLERS: { [N in ToolName]: ToolHandler<N> } = {
  list_files: (host, input) => {
    const r = host.files.list(input.dir ?? '.');
    return okOut({
      files: r.files,
      truncated: r.truncated,
      recipe: host.substrate.recipe,
      editable: host.substrate.editable,
      frozen: host.substrate.frozen,
    });
  },
  read_file: (host, input) => okOut(host.files.read(input.path, { offset: input.offset, limit: input.limit })),
  write_file: (host, input) => writeFile(host, input.path, input.content),
  set_recipe: (host, input) => setRecipe(host, input.settings),
  preview_data: (host, _input, k) => host.jobs.preview(k),
  launch_training: (host, input, k) => host.jobs.launch(k, input.seed),
  poll_job: (host, input) => host.jobs.poll(input.jobId, input.waitSeconds ?? 0),
  read_log_tail: (host, input) => host.jobs.readLogTail(input.jobId, input.lines ?? 40),
  evaluate_checkpoints: (host, input) =>
    evaluateCheckpoints(host, input.jobId, input.waitSeconds ?? host.maxWaitSeconds(), input.criterion),
  submit_manifest: (host, input, k) => submitManifest(host, k, input as Submission),
};

/**
 * Runs one tool call: its input validated by the tool's schema, the tool-call budget checked, the handler run, and
 * the refusals a hostile or confused agent causes (paths outside its rights, substrate errors) returned as tool
 * errors rather than thrown.
 */
export async function executeTool(
  host: ToolHost,
  name: ToolName,
  rawInput: unknown,
  step: number,
  budgetSpent: boolean,
  maxToolCalls: number,
): Promise<StepOutcome> {
  const schema = (ToolInputs as Record<string, z.ZodType | undefined>)[name];
  const handler = (TOOL_HANDLERS as Record<string, ToolHandler<ToolName> | undefined>)[name];
  if (!schema || !handler) return fail('UNKNOWN_TOOL', `no tool named ${String(name)}`);
  const parsed = schema.safeParse(rawInput);
  if (!parsed.success) {
    const issues = zodIssues(parsed.error);
    return fail('INVALID_INPUT', `${name}: ${describeIssues(issues)}`, { issues });
  }
  if (budgetSpent)
    return fail('BUDGET_EXHAUSTED', `tool-call budget of ${maxToolCalls} is spent`, { failure: 'budget-exhausted' });
  try {
    return await handler(host, parsed.data as ParsedToolInput<ToolName>, step);
  } catch (err) {
    if (err instanceof PathRefusedError) {
      const refused = err.kind !== 'not-found' && err.kind !== 'invalid' && err.kind !== 'too-large';
      return fail(err.code, err.message, refused ? { failure: 'path-refused' } : {});
    }
    // The record or the messaging is away (a compute cluster's leaf link down): not the agent's business nor a
    // refusal. The step stays in flight; the candidate resumes from its trace when the delivery comes again.
    if (isDependencyOutage(err)) throw err;
    // A substrate whose entrypoints need values the worker cannot give, and the like: the agent sees why.
    if (err instanceof DomainError) return fail(err.code, err.message, { issues: err.issues });
    throw err;
  }
}

/** An error our libraries flag as "a dependency is unavailable, try again later" (e.g. the remote store's). */
export function isDependencyOutage(err: unknown): boolean {
  return (
    typeof err === 'object' &&
    err !== null &&
    (err as { dependencyUnavailable?: unknown }).dependencyUnavailable === true
  );
}
