import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CLAUDE_MODELS, claudeModelProblem } from '@aevo/contracts';

/**
 * A loopback HTTP server speaking the Anthropic Messages API (POST /v1/messages, plain or streamed as server-sent
 * events, and POST /v1/messages/count_tokens), strict where the real API is strict. Checked against the installed
 * `@anthropic-ai/sdk` 1.14.0 (its request/response types, doc comments, `StopReason`, `CacheControlEphemeral`,
 * its model list and deprecation data, its retry rules: `x-should-retry`, `retry-after`) and the error messages
 * the live API is seen to return ("prompt is too long: N tokens > M maximum", "max_tokens: N > M, which is the
 * maximum allowed number of output tokens for …", "A maximum of 4 blocks with cache_control may be provided").
 *
 * It refuses what the real API refuses: a model id the SDK does not know or one past its end of life (404
 * not_found_error), max_tokens < 1 or above the model's output limit, a conversation not starting with a user
 * turn, a message with empty content (but an optional final assistant turn), empty text blocks, a tool_use not
 * answered by a tool_result in the next user turn, a tool_result whose tool_use_id the previous assistant turn did
 * not issue, a tool_result after other content, more than 4 cache_control breakpoints, a cache_control type other
 * than 'ephemeral' or a ttl other than '5m'/'1h', a 1h breakpoint after a 5m one, duplicate or invalid tool names.
 * Consecutive turns of one role are combined into one turn first, as the SDK documents the API doing.
 *
 * Caching is modelled, not invented: a request reads from the cache only the longest prefix (tools, system,
 * messages in that order, looking back up to 20 blocks from each breakpoint) that an earlier request wrote at one
 * of its breakpoints within that breakpoint's TTL (5 minutes or 1 hour, refreshed on a hit, on the server's clock);
 * prefixes shorter than the minimum cacheable length are not cached. Tokens are estimated as ~4 characters each.
 *
 * The scripted model decides the answer: content (tool uses, text, or nothing), a refusal, an error with a
 * status and `retry-after`. The server itself truncates an answer longer than max_tokens (stop_reason
 * max_tokens, the last tool_use's strings cut), refuses a prompt beyond the context window and stops with
 * model_context_window_exceeded when prompt plus answer pass it. Errors carry the API's envelope and
 * `x-should-retry` (true only for 408, 409, 429, 5xx, 529).
 */
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
type CacheControl = { type: string; ttl?: string };

export type ScriptedBlock =
  { type: 'text'; text: string } | { type: 'tool_use'; name: string; input: Record<string, unknown> };

export type ScriptedReply =
  | {
      content: ScriptedBlock[];
      /** end_turn/tool_use are derived from the content when left out; max_tokens comes from the server's own truncation. */
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

type Problem = { status: number; type: string; message: string };
const invalid = (message: string): Problem => ({ status: 400, type: 'invalid_request_error', message });

type Block = Record<string, unknown>;
const blocksOf = (content: unknown): Block[] | null =>
  typeof content === 'string'
    ? [{ type: 'text', text: content }]
    : Array.isArray(content)
      ? (content as Block[])
      : null;

/** Consecutive turns of one role are combined into one (SDK: "Consecutive user or assistant turns … combined"). */
function combineTurns(messages: LoopbackRequest['messages']): Array<{ role: string; blocks: Block[]; from: number }> {
  const out: Array<{ role: string; blocks: Block[]; from: number }> = [];
  messages.forEach((m, i) => {
    const blocks = blocksOf(m.content) ?? [];
    const last = out[out.length - 1];
    if (last && last.role === m.role) last.blocks.push(...blocks);
    else out.push({ role: m.role, blocks: [...blocks], from: i });
  });
  return out;
}

interface CacheItem {
  key: string;
  tokens: number;
  cache: CacheControl | null;
  where: string;
}

/** The request as the cache sees it: tools, then system, then message blocks, each with its breakpoint if any. */
function cacheItems(r: LoopbackRequest): CacheItem[] {
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

function validate(
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
        `max_tokens: ${r.max_tokens} > ${opts.maxOutputTokens}, which is the maximum allowed number of output tokens for ${r.model}`,
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
            `messages.${turn.from}: tool_result blocks must come first in the user message content, before any other content`,
          );
        if (!issued.has(String(b.tool_use_id)))
          return invalid(
            `messages.${turn.from}.content: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${String(b.tool_use_id)}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`,
          );
        issued.delete(String(b.tool_use_id));
      }
      if (issued.size > 0)
        return invalid(
          `messages.${turn.from}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${[...issued].join(', ')}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`,
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
function truncate(content: Block[], limit: number): Block[] {
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

export async function startAnthropicLoopback(
  model: ScriptedModel,
  options: LoopbackOptions = {},
): Promise<LoopbackServer> {
  const opts: Required<LoopbackOptions> = {
    now: options.now ?? Date.now,
    today: options.today ?? (() => new Date()),
    contextWindowTokens: options.contextWindowTokens ?? 200_000,
    maxOutputTokens: options.maxOutputTokens ?? 64_000,
    minCacheableTokens: options.minCacheableTokens ?? 1024,
  };
  const requests: LoopbackRequest[] = [];
  const countRequests: LoopbackRequest[] = [];
  const refused: Array<{ status: number; message: string }> = [];
  /** prefix hash → when it expires and for how long a hit extends it */
  const cache = new Map<string, { expiresAt: number; ttlMs: number }>();
  let n = 0;
  let ids = 0;
  const state = { served: 0 };

  const prefixHashes = (items: CacheItem[]): string[] => {
    let h = '';
    return items.map((it) => (h = createHash('sha256').update(h).update(it.key).digest('hex')));
  };

  /** Cache reads and writes of a valid request, and the tokens left as plain input. */
  const account = (r: LoopbackRequest) => {
    const items = cacheItems(r);
    const hashes = prefixHashes(items);
    const cum: number[] = [];
    items.reduce((s, it, i) => (cum[i] = s + it.tokens), 0);
    const total = cum[cum.length - 1] ?? 0;
    const now = opts.now();
    const bps = items.map((it, i) => (it.cache ? i : -1)).filter((i) => i >= 0);
    let hit = -1;
    for (const b of bps)
      for (let p = b; p >= Math.max(0, b - 19); p--) {
        const e = cache.get(hashes[p]);
        if (e && e.expiresAt > now && p > hit) hit = p;
      }
    if (hit >= 0) {
      const e = cache.get(hashes[hit])!;
      e.expiresAt = now + e.ttlMs;
    }
    const read = hit >= 0 ? cum[hit] : 0;
    let written = read;
    for (const b of bps) {
      if (b <= hit || cum[b] < opts.minCacheableTokens) continue;
      const ttlMs = items[b].cache!.ttl === '1h' ? 3_600_000 : 300_000;
      cache.set(hashes[b], { expiresAt: now + ttlMs, ttlMs });
      written = Math.max(written, cum[b]);
    }
    return { total, read, creation: written - read };
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', 'request-id': `req_${++ids}`, ...headers });
        res.end(JSON.stringify(body));
      };
      const sendError = (p: Problem, headers: Record<string, string> = {}, shouldRetry?: boolean) => {
        refused.push({ status: p.status, message: p.message });
        const retry = shouldRetry ?? ([408, 409, 429].includes(p.status) || p.status >= 500);
        send(
          p.status,
          { type: 'error', error: { type: p.type, message: p.message } },
          { 'x-should-retry': String(retry), ...headers },
        );
      };
      const route = req.url?.split('?')[0];
      if (req.method !== 'POST' || (route !== '/v1/messages' && route !== '/v1/messages/count_tokens'))
        return sendError({ status: 404, type: 'not_found_error', message: `${req.method} ${req.url}` });
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return sendError(invalid('body is not valid JSON'));
      }
      const counting = route === '/v1/messages/count_tokens';
      (counting ? countRequests : requests).push(body as LoopbackRequest);
      const problem = validate(body, req.headers, opts, counting);
      if (problem) return sendError(problem);
      const r = body as LoopbackRequest;
      if (counting) return send(200, { input_tokens: cacheItems(r).reduce((s, it) => s + it.tokens, 0) });
      const inputTotal = cacheItems(r).reduce((s, it) => s + it.tokens, 0);
      if (inputTotal > opts.contextWindowTokens)
        return sendError(invalid(`prompt is too long: ${inputTotal} tokens > ${opts.contextWindowTokens} maximum`));
      const reply = model(r, ++n);
      if ('error' in reply)
        return sendError(
          reply.error,
          reply.retryAfterSeconds !== undefined ? { 'retry-after': String(reply.retryAfterSeconds) } : {},
          reply.shouldRetry,
        );
      let content: Block[] = reply.content.map((b) =>
        b.type === 'tool_use'
          ? { type: 'tool_use', id: `toolu_${n}_${++ids}`, name: b.name, input: b.input }
          : { type: 'text', text: b.text, citations: null },
      );
      let outputTokens = reply.outputTokens ?? tokensOf(content);
      let stop: string = reply.stop_reason ?? (content.some((b) => b.type === 'tool_use') ? 'tool_use' : 'end_turn');
      const room = Math.min(r.max_tokens, opts.contextWindowTokens - inputTotal);
      if (outputTokens > room) {
        stop = room < r.max_tokens ? 'model_context_window_exceeded' : 'max_tokens';
        content = truncate(content, room);
        outputTokens = room;
      }
      const { total, read, creation } = account(r);
      state.served++;
      const message = {
        id: `msg_${n}`,
        type: 'message',
        role: 'assistant',
        model: r.model,
        content,
        stop_reason: stop,
        stop_sequence: null,
        usage: {
          input_tokens: total - read - creation,
          output_tokens: outputTokens,
          cache_creation_input_tokens: creation,
          cache_read_input_tokens: read,
        },
      };
      if ((body as { stream?: unknown }).stream !== true) return send(200, message);
      // Server-sent events as the SDK's MessageStream reads them: message_start, per block start/delta/stop,
      // message_delta with the stop reason and output tokens, message_stop.
      const events: Array<[string, unknown]> = [
        [
          'message_start',
          {
            type: 'message_start',
            message: { ...message, content: [], stop_reason: null, usage: { ...message.usage, output_tokens: 1 } },
          },
        ],
      ];
      content.forEach((b, index) => {
        const start =
          b.type === 'tool_use'
            ? { type: 'tool_use', id: b.id, name: b.name, input: {} }
            : { type: 'text', text: '', citations: null };
        const delta =
          b.type === 'tool_use'
            ? { type: 'input_json_delta', partial_json: JSON.stringify(b.input) }
            : { type: 'text_delta', text: b.text };
        events.push(['content_block_start', { type: 'content_block_start', index, content_block: start }]);
        events.push(['content_block_delta', { type: 'content_block_delta', index, delta }]);
        events.push(['content_block_stop', { type: 'content_block_stop', index }]);
      });
      events.push([
        'message_delta',
        {
          type: 'message_delta',
          delta: { stop_reason: stop, stop_sequence: null },
          usage: { output_tokens: outputTokens },
        },
      ]);
      events.push(['message_stop', { type: 'message_stop' }]);
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        'request-id': `req_${++ids}`,
      });
      res.end(events.map(([event, data]) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`).join(''));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    countRequests,
    refused,
    get served() {
      return state.served;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Known model ids the fake accepts (re-exported for tests that build requests by hand). */
export const LOOPBACK_MODELS: readonly string[] = CLAUDE_MODELS.map((m) => m.id);

/** The last user turn's tool results, parsed (the scripted model reads them like a model reads its context). */
export function lastToolResults(req: LoopbackRequest): Array<{ ok: boolean; value: Record<string, unknown> }> {
  const last = req.messages[req.messages.length - 1];
  if (!Array.isArray(last.content)) return [];
  return (last.content as Array<Record<string, unknown>>)
    .filter((b) => b.type === 'tool_result')
    .map((b) => {
      const text = typeof b.content === 'string' ? b.content : '';
      let value: Record<string, unknown>;
      try {
        value = JSON.parse(text) as Record<string, unknown>;
      } catch {
        value = { text };
      }
      return { ok: b.is_error !== true, value };
    });
}

/**
 * A scripted model that works one candidate the way a model would: it reads its tool results from the conversation
 * (job ids, statuses) and answers with tool_use blocks — look around, change the recipe, train with `seed`, poll,
 * evaluate, submit. With `tryEscape` it also tries a write outside the sandbox (which must be refused).
 */
export function scriptedCandidateModel(opts: {
  settings: Array<{ path: string; value: unknown }>;
  seed?: number;
  tryEscape?: boolean;
}): ScriptedModel {
  return (req) => {
    const turn = req.messages.filter((m) => m.role === 'assistant').length;
    const results = lastToolResults(req);
    switch (turn) {
      case 0:
        return {
          content: [
            { type: 'text', text: 'Let me look at the sandbox.' },
            { type: 'tool_use', name: 'list_files', input: {} },
            { type: 'tool_use', name: 'read_file', input: { path: 'recipe.yaml' } },
          ],
        };
      case 1:
        return {
          content: [
            ...(opts.tryEscape
              ? [{ type: 'tool_use' as const, name: 'write_file', input: { path: '../outside.yaml', content: 'x' } }]
              : []),
            { type: 'tool_use', name: 'set_recipe', input: { settings: opts.settings } },
          ],
        };
      case 2:
        return { content: [{ type: 'tool_use', name: 'launch_training', input: { seed: opts.seed ?? 1 } }] };
      default: {
        const r = results[0]?.value ?? {};
        if (Array.isArray(r.checkpoints))
          return {
            content: [
              {
                type: 'tool_use',
                name: 'submit_manifest',
                input: {
                  status: 'completed',
                  hypothesis: 'a lower learning rate reduces overfitting on the small mix',
                  reason: 'best mean dev among checkpoints',
                },
              },
            ],
          };
        if (r.status === 'succeeded')
          return { content: [{ type: 'tool_use', name: 'evaluate_checkpoints', input: { jobId: r.jobId } }] };
        if (typeof r.jobId === 'string' && (r.status === undefined || r.status === 'running' || r.status === 'pending'))
          return { content: [{ type: 'tool_use', name: 'poll_job', input: { jobId: r.jobId, waitSeconds: 60 } }] };
        return { content: [{ type: 'text', text: `I am confused by ${JSON.stringify(r).slice(0, 100)}` }] };
      }
    }
  };
}
