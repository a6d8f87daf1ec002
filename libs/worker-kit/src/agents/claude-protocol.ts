import { canonicalJson } from '@aevo/contracts';
import { TraceDivergedError } from '../trace-engine';
import type { ToolResult } from '../tools';

export type Block = { type: string; [k: string]: unknown };
export type Message = { role: 'user' | 'assistant'; content: string | Block[] };

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
}

/** What a model step records as its outcome: the final response, how it was obtained and what was sent. */
export interface RecordedResponse {
  id: string | null;
  model: string;
  stop_reason: string | null;
  content: Block[];
  usage: Usage;
  /** The request that produced `content` (after any clearing or extra room): model, max_tokens, prompt hash. */
  request: ModelRequestRecord;
  /** Messages before this index had their tool results cleared when the request was sent. */
  clearedBefore: number;
  /** Prompt tokens counted before the request, or null when not counted. */
  countedTokens: number | null;
  /** HTTP attempts (the SDK's own retries inside one attempt are not counted). */
  attempts: number;
  errors: string[];
  /** Earlier answers of this step that were cut at max_tokens or by the context window and asked again. */
  retriedStops: string[];
  /** Whether the final request was streamed (its max_tokens beyond the SDK's non-streaming range). */
  streamed: boolean;
}

/** A model request as recorded in the trace: enough to tell whether a resumed worker asks the same thing. */
export interface ModelRequestRecord {
  model: string;
  max_tokens: number;
  /** sha256 of the canonical JSON of system, tools and messages as sent. */
  promptSha256: string;
}

/** A resumed worker would send a different request than the recorded one: prompts, tools or model changed. */
export class ModelRequestChangedError extends TraceDivergedError {
  constructor(step: number, recorded: unknown, now: unknown) {
    super(step, { tool: 'llm', input: recorded }, 'llm', now);
    this.message =
      `model request of trace step ${step} differs from the recorded one (recorded ` +
      `${canonicalJson(recorded)}, now ${canonicalJson(now)}); the model, its parameters, the prompts or the ` +
      `tools changed since the candidate started`;
    this.name = 'ModelRequestChangedError';
  }
}

/** The parameters of a Messages API request as composed (system, tools and messages with their cache breakpoints). */
export interface ModelRequestParams {
  model: string;
  max_tokens: number;
  system: Block[];
  tools: Block[];
  messages: Message[];
}

/** Only the fields the Messages API accepts back in an assistant turn. */
export function sanitise(block: Block): Block {
  if (block.type === 'text') return { type: 'text', text: block.text };
  if (block.type === 'tool_use') return { type: 'tool_use', id: block.id, name: block.name, input: block.input };
  return block;
}

export const isEmptyTurn = (content: Block[]): boolean =>
  content.every((b) => b.type === 'text' && String(b.text ?? '').trim() === '');

/**
 * What the model is shown of a tool result: a written file is not echoed back (the model wrote it), and anything
 * longer than `maxChars` is cut with a note saying how much is missing (with the default 16,000 characters a
 * 64 KiB read_file or a 500-line log tail costs at most ~4,000 tokens).
 */
export function toolResultText(name: string, r: ToolResult, maxChars: number): string {
  let value: unknown = r.ok ? r.value : { error: r.error };
  if (r.ok && name === 'write_file' && value && typeof value === 'object') {
    const { content: _written, ...rest } = value as Record<string, unknown>;
    void _written;
    value = rest;
  }
  // Canonical (sorted keys): a replayed result comes back from the event store with its keys in another order,
  // and the resumed worker must send the very same prompt.
  const text = canonicalJson(value);
  if (text.length <= maxChars) return text;
  return (
    `${text.slice(0, maxChars)}\n[cut: ${text.length - maxChars} more characters; read_file with ` +
    `offset/limit, or read_log_tail with fewer lines, shows a part]`
  );
}
