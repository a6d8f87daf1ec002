import type { CandidateEvent, LlmCall } from '../trace';
import type { JobView } from '../summary';
import type { ToolError } from './definitions';

/** What one trace step ends with: its recorded outcome and the facts appended with it. */
export interface StepOutcome {
  ok: boolean;
  output: unknown;
  /** Facts appended atomically with the outcome (RecipeChanged, ManifestSubmitted, …). */
  events?: CandidateEvent[];
  llm?: LlmCall;
}

/** A value as the trace will hold it (JSON: undefined becomes null, key order as stored). */
export const toJson = (v: unknown): unknown => (v === undefined ? null : JSON.parse(JSON.stringify(v)));

/** A tool error the agent sees (and the summary reads failure modes from). */
export const fail = (
  code: string,
  message: string,
  extra: Partial<ToolError> & { job?: JobView } = {},
): StepOutcome => ({
  ok: false,
  output: { error: { code, message, ...extra } },
});

export const okOut = (output: unknown, events?: CandidateEvent[]): StepOutcome => ({
  ok: true,
  output: toJson(output),
  events,
});
