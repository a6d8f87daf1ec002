import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CLAUDE_MODELS } from '@aevo/contracts';
import {
  cacheItems,
  invalid,
  tokensOf,
  truncate,
  validate,
  type Block,
  type CacheItem,
  type LoopbackOptions,
  type LoopbackRequest,
  type LoopbackServer,
  type Problem,
  type ScriptedModel,
} from './loopback-protocol';

export {
  apiErrors,
  tokensOf,
  type LoopbackOptions,
  type LoopbackRequest,
  type LoopbackServer,
  type ScriptedBlock,
  type ScriptedModel,
  type ScriptedReply,
} from './loopback-protocol';

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
