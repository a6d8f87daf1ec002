import type Anthropic from '@anthropic-ai/sdk';

/**
 * How long the worker keeps asking an API that answers 429, 529, 5xx or not at all. The SDK's own retries (its
 * `maxRetries`, honouring `retry-after`) absorb short blips inside one attempt; this policy outlasts storms.
 */
export interface ClaudeRetryPolicy {
  /** Give up on a request when the next wait would end later than this after its first attempt. */
  patienceMs: number;
  /** Backoff without a `retry-after`: base·2^(n-1), capped, with jitter (a random half of it). */
  baseDelayMs: number;
  maxDelayMs: number;
}

/**
 * How the conversation is kept inside the context window. Before each request the prompt is counted (the
 * Messages API's count_tokens); above `clearAtTokens` every tool result older than the last `keepRecentTurns`
 * turns is replaced by a one-line note (the model can call the tool again), so the prompt stays bounded and the
 * cached prefix changes only when a batch is cleared. A request refused as too long, or stopped because the
 * window filled, is retried once with every tool result but the latest cleared.
 */
export interface ClaudeContextPolicy {
  clearAtTokens: number;
  keepRecentTurns: number;
  /** A tool result longer than this (characters) is cut, with a note saying how to read the rest. */
  maxToolResultChars: number;
}

export interface ClaudeAgentOptions {
  /** A real SDK client; tests point its `baseURL` at a loopback server speaking the Messages API. */
  client: Anthropic;
  /**
   * A model id of the installed SDK's list (@aevo/contracts CLAUDE_MODELS), not retired (checked when the agent is
   * made).
   */
  model: string;
  /** The frozen constitution text (or the part workers need); sent as a cached system block. */
  constitutionExcerpt: string;
  /** max_tokens of a turn. */
  maxTokensPerTurn?: number;
  /**
   * A turn cut at max_tokens is asked again with twice the room, up to this (default 32,000; within the model's
   * max_tokens limit). Beyond what the SDK sends without streaming (~21,333 tokens) the request is streamed.
   */
  maxTokensCeiling?: number;
  retry?: Partial<ClaudeRetryPolicy>;
  context?: Partial<ClaudeContextPolicy>;
  /** TTL of the cache breakpoints: 1h outlives the worker's waits on jobs (up to 10 minutes); 5m does not. */
  cacheTtl?: '5m' | '1h';
  /** Count the prompt's tokens (count_tokens) before each request (default true). */
  countTokens?: boolean;
  /** Ends without submit_manifest (or empty turns) tolerated (the model is reminded) before the candidate is closed. */
  maxNudges?: number;
  sleep?: (ms: number) => Promise<void>;
  /** Clock of the retry policy (ms). */
  now?: () => number;
  /** Jitter source in [0, 1). */
  random?: () => number;
}

export const DEFAULT_RETRY_POLICY: ClaudeRetryPolicy = {
  patienceMs: 15 * 60_000,
  baseDelayMs: 2_000,
  maxDelayMs: 60_000,
};
export const DEFAULT_CONTEXT_POLICY: ClaudeContextPolicy = {
  clearAtTokens: 60_000,
  keepRecentTurns: 4,
  maxToolResultChars: 16_000,
};
