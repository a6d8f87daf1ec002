import type * as http from 'node:http';
import { claudeModelProblem } from '@aevo/contracts';

// The Messages API's request shapes and the checks the loopback server (anthropic-loopback.ts) applies to a
// request before its scripted model is asked: what the real API refuses, cache breakpoints, truncation.

export interface LoopbackRequest {
  model: string;
  max_tokens: number;
  system?: Array<{ type: string; text: string; cache_control?: CacheControl }> | string;
  messages: Array<{ role: 'user' | 'assistant'; content: unknown }>;
  tools?: Array<{
    name: string;
    description?: string;
    input_schema: Record<string, unknown>;
    cache_control?: CacheControl;
  }>;
  stream?: boolean;
}
export type CacheControl = { type: string; ttl?: string };

export type ScriptedBlock =
  { type: 'text'; text: string } | { type: 'tool_use'; name: string; input: Record<string, unknown> };

export type ScriptedReply =
  | {
      content: ScriptedBlock[];
      /**
       * end_turn/tool_use are derived from the content when left out; max_tokens comes from the server's own
       * truncation.
       */
      stop_reason?: 'end_turn' | 'tool_use' | 'refusal';
      /** Output tokens the answer costs (default: estimated from its content); above max_tokens it is truncated. */
      outputTokens?: number;
    }
  | { error: { status: number; type: string; message: string }; retryAfterSeconds?: number; shouldRetry?: boolean };

/** The scripted model: sees the validated request and the number of the request (1-based), returns a reply. */
export type ScriptedModel = (req: LoopbackRequest, n: number) => ScriptedReply;

/** The API's error answers, as the live API gives them. */
export const apiErrors = {
  rateLimited: (retryAfterSeconds: number): ScriptedReply => ({
    error: {
      status: 429,
      type: 'rate_limit_error',
      message: 'This request would exceed the rate limit for your organization of 400,000 input tokens per minute.',
    },
    retryAfterSeconds,
  }),
  overloaded: (): ScriptedReply => ({ error: { status: 529, type: 'overloaded_error', message: 'Overloaded' } }),
  internal: (): ScriptedReply => ({ error: { status: 500, type: 'api_error', message: 'Internal server error' } }),
};

export interface LoopbackOptions {
  /** The server's clock in ms (cache TTLs); default Date.now. */
  now?: () => number;
  /** The day model end-of-life dates are compared with; default today. */
  today?: () => Date;
  /** The model's context window in tokens (default 200,000). */
  contextWindowTokens?: number;
  /** The model's max_tokens limit (default 64,000). */
  maxOutputTokens?: number;
  /** Shortest prefix (tokens) that is cached (default 1,024: Sonnet/Opus). */
  minCacheableTokens?: number;
}

export interface LoopbackServer {
  url: string;
  /** Every /v1/messages request body received (also the refused ones). */
  requests: LoopbackRequest[];
  /** Every /v1/messages/count_tokens request body received. */
  countRequests: LoopbackRequest[];
  /** The refusals (status and message) the server answered with, in order. */
  refused: Array<{ status: number; message: string }>;
  /** Requests that got a successful message. */
  served: number;
  close(): Promise<void>;
}

/** Rough token count, as the API would bill: ~4 characters per token. */
export const tokensOf = (v: unknown): number => Math.ceil(JSON.stringify(v ?? '').length / 4);

export type Problem = { status: number; type: string; message: string };
export const invalid = (message: string): Problem => ({ status: 400, type: 'invalid_request_error', message });

export type Block = Record<string, unknown>;
export const blocksOf = (content: unknown): Block[] | null =>
  typeof content === 'string'
    ? [{ type: 'text', text: content }]
    : Array.isArray(content)
      ? (content as Block[])
      : null;

/** Consecutive turns of one role are combined into one (SDK: "Consecutive user or assistant turns … combined"). */
export function combineTurns(
  messages: LoopbackRequest['messages'],
): Array<{ role: string; blocks: Block[]; from: number }> {
  const out: Array<{ role: string; blocks: Block[]; from: number }> = [];
  messages.forEach((m, i) => {
    const blocks = blocksOf(m.content) ?? [];
    const last = out[out.length - 1];
    if (last && last.role === m.role) last.blocks.push(...blocks);
    else out.push({ role: m.role, blocks: [...blocks], from: i });
  });
  return out;
}

export interface CacheItem {
  key: string;
  tokens: number;
  cache: CacheControl | null;
  where: string;
}

/** The request as the cache sees it: tools, then system, then message blocks, each with its breakpoint if any. */
export function cacheItems(r: LoopbackRequest): CacheItem[] {
  const items: CacheItem[] = [];
  const add = (where: string, v: Record<string, unknown>) => {
    const { cache_control, ...rest } = v;
    items.push({
      key: JSON.stringify(rest),
      tokens: tokensOf(rest),
      cache: (cache_control as CacheControl | undefined) ?? null,
      where,
    });
  };
  (r.tools ?? []).forEach((t, i) => add(`tools.${i}`, t as unknown as Record<string, unknown>));
  if (typeof r.system === 'string') add('system', { type: 'text', text: r.system });
  else (r.system ?? []).forEach((b, i) => add(`system.${i}`, b as unknown as Record<string, unknown>));
  r.messages.forEach((m, i) =>
    (blocksOf(m.content) ?? []).forEach((b, j) => add(`messages.${i}.content.${j}`, { role: m.role, ...b })),
  );
  return items;
}

export function validate(
  req: unknown,
  headers: http.IncomingHttpHeaders,
  opts: Required<LoopbackOptions>,
  counting: boolean,
): Problem | null {
  if (!headers['x-api-key'] && !headers.authorization)
    return { status: 401, type: 'authentication_error', message: 'x-api-key header is required' };
  if (!headers['anthropic-version']) return invalid('anthropic-version: header is required');
  const r = req as LoopbackRequest;
  if (!r || typeof r !== 'object') return invalid('body: expected a JSON object');
  if (typeof r.model !== 'string' || r.model.length === 0) return invalid('model: Field required');
  // The model table of @aevo/contracts is the installed SDK's (its spec checks it against the SDK's files).
  if (claudeModelProblem(r.model, opts.today()))
    return { status: 404, type: 'not_found_error', message: `model: ${r.model}` };
  if (!counting) {
    if (!Number.isInteger(r.max_tokens) || r.max_tokens < 1)
      return invalid('max_tokens: Input should be greater than or equal to 1');
    if (r.max_tokens > opts.maxOutputTokens)
      return invalid(
        `max_tokens: ${r.max_tokens} > ${opts.maxOutputTokens}, which is the maximum allowed number of ` +
          `output tokens for ${r.model}`,
      );
  }
  if (!Array.isArray(r.messages) || r.messages.length === 0)
    return invalid('messages: at least one message is required');
  for (let i = 0; i < r.messages.length; i++) {
    const m = r.messages[i];
    if (m.role !== 'user' && m.role !== 'assistant')
      return invalid(`messages.${i}.role: Input should be 'user' or 'assistant'`);
    const blocks = blocksOf(m.content);
    if (!blocks) return invalid(`messages.${i}.content: Input should be a valid string or list`);
    const finalAssistant = i === r.messages.length - 1 && m.role === 'assistant';
    if (blocks.length === 0 && !finalAssistant)
      return invalid(
        `messages.${i}: all messages must have non-empty content except for the optional final assistant message`,
      );
    for (let j = 0; j < blocks.length; j++) {
      const b = blocks[j];
      if (b.type === 'text' && (typeof b.text !== 'string' || (b.text.trim() === '' && !finalAssistant)))
        return invalid(`messages.${i}.content.${j}: text content blocks must contain non-whitespace text`);
      if (
        m.role === 'assistant' &&
        b.type === 'text' &&
        Object.keys(b).some((k) => !['type', 'text', 'citations', 'cache_control'].includes(k))
      )
        return invalid(`messages.${i}.content.${j}: Extra inputs are not permitted`);
      if (m.role === 'user' && b.type === 'tool_use')
        return invalid(`messages.${i}.content.${j}: tool_use blocks may only appear in assistant turns`);
      if (m.role === 'assistant' && b.type === 'tool_result')
        return invalid(`messages.${i}.content.${j}: tool_result blocks may only appear in user turns`);
    }
  }
  const turns = combineTurns(r.messages);
  if (turns[0].role !== 'user') return invalid('messages: first message must use the "user" role');
  for (let t = 0; t < turns.length; t++) {
    const turn = turns[t];
    const prev = t > 0 ? turns[t - 1] : null;
    const issued = new Set(
      prev?.role === 'assistant' ? prev.blocks.filter((b) => b.type === 'tool_use').map((b) => String(b.id)) : [],
    );
    if (turn.role === 'user') {
      let seenOther = false;
      for (const b of turn.blocks) {
        if (b.type !== 'tool_result') {
          seenOther = true;
          continue;
        }
        if (seenOther)
          return invalid(
            `messages.${turn.from}: tool_result blocks must come first in the user message content, ` +
              `before any other content`,
          );
        if (!issued.has(String(b.tool_use_id)))
          return invalid(
            `messages.${turn.from}.content: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ` +
              `${String(b.tool_use_id)}. Each \`tool_result\` block must have a corresponding \`tool_use\` ` +
              `block in the previous message.`,
          );
        issued.delete(String(b.tool_use_id));
      }
      if (issued.size > 0)
        return invalid(
          `messages.${turn.from}: \`tool_use\` ids were found without \`tool_result\` blocks immediately ` +
            `after: ${[...issued].join(', ')}. Each \`tool_use\` block must have a corresponding ` +
            `\`tool_result\` block in the next message.`,
        );
    } else {
      for (const b of turn.blocks)
        if (
          b.type === 'tool_use' &&
          (typeof b.id !== 'string' || typeof b.name !== 'string' || typeof b.input !== 'object' || b.input === null)
        )
          return invalid(`messages.${turn.from}: tool_use blocks need an id, a name and an input object`);
    }
  }
  // The last assistant turn's tool uses need answers only if the conversation goes on past it.
  const names = new Set<string>();
  for (const [i, t] of (r.tools ?? []).entries()) {
    if (typeof t.name !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(t.name))
      return invalid(`tools.${i}.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'`);
    if (names.has(t.name)) return invalid('tools: Tool names must be unique.');
    names.add(t.name);
    if (!t.input_schema || t.input_schema.type !== 'object')
      return invalid(`tools.${i}.input_schema.type: Input should be 'object'`);
  }
  const breakpoints = cacheItems(r).filter((it) => it.cache);
  if (breakpoints.length > 4)
    return invalid(`A maximum of 4 blocks with cache_control may be provided. Found ${breakpoints.length}.`);
  let seenShort = false;
  for (const bp of breakpoints) {
    const cc = bp.cache!;
    if (cc.type !== 'ephemeral') return invalid(`${bp.where}.cache_control.type: Input should be 'ephemeral'`);
    if (cc.ttl !== undefined && cc.ttl !== '5m' && cc.ttl !== '1h')
      return invalid(`${bp.where}.cache_control.ttl: Input should be '5m' or '1h'`);
    const ttl = cc.ttl ?? '5m';
    if (ttl === '1h' && seenShort)
      return invalid(
        `${bp.where}.cache_control: a ttl='1h' cache_control block must not come after a ttl='5m' cache_control block`,
      );
    if (ttl === '5m') seenShort = true;
  }
  return null;
}

/** The answer cut to `limit` output tokens: whole blocks while they fit, then the crossing block cut. */
export function truncate(content: Block[], limit: number): Block[] {
  const out: Block[] = [];
  let left = limit;
  for (const b of content) {
    const cost = tokensOf(b);
    if (cost <= left) {
      out.push(b);
      left -= cost;
      continue;
    }
    if (b.type === 'text') out.push({ ...b, text: String(b.text).slice(0, Math.max(1, left * 4)) });
    else {
      // A tool_use cut mid-input: its string arguments end early (the "truncated write_file").
      const input = Object.fromEntries(
        Object.entries(b.input as Record<string, unknown>).map(([k, v]) => [
          k,
          typeof v === 'string' ? v.slice(0, Math.floor(v.length / 2)) : v,
        ]),
      );
      out.push({ ...b, input });
    }
    break;
  }
  return out;
}
