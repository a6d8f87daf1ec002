import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback HTTP server speaking the Anthropic Messages API (POST /v1/messages, non-streaming): it checks the
 * request as the real API would (headers, model, max_tokens, messages alternating and starting with a user turn,
 * every tool_use answered by a tool_result in the next user turn, tools with input schemas) and answers with a
 * message whose content comes from a scripted model. Errors use the API's error envelope and status codes
 * (e.g. 529 overloaded_error), so the real SDK is exercised end to end. The only fake here is the model.
 */
export interface LoopbackRequest {
  model: string;
  max_tokens: number;
  system?: Array<{ type: string; text: string; cache_control?: { type: string } }> | string;
  messages: Array<{ role: 'user' | 'assistant'; content: unknown }>;
  tools?: Array<{ name: string; description?: string; input_schema: Record<string, unknown> }>;
}

export type ScriptedBlock = { type: 'text'; text: string } | { type: 'tool_use'; name: string; input: Record<string, unknown> };

export type ScriptedReply =
  | { content: ScriptedBlock[]; stop_reason?: 'end_turn' | 'tool_use' | 'max_tokens' }
  | { error: { status: number; type: string; message: string } };

/** The scripted model: sees the validated request and the number of the request (1-based), returns a reply. */
export type ScriptedModel = (req: LoopbackRequest, n: number) => ScriptedReply;

export interface LoopbackServer {
  url: string;
  /** Every request body received (also the refused ones). */
  requests: LoopbackRequest[];
  /** Requests that got a successful message. */
  served: number;
  close(): Promise<void>;
}

/** Rough token count, as the API would bill: ~4 characters per token. */
export const tokensOf = (v: unknown): number => Math.ceil(JSON.stringify(v ?? '').length / 4);

function invalid(message: string): { status: number; body: unknown } {
  return { status: 400, body: { type: 'error', error: { type: 'invalid_request_error', message } } };
}

function validate(req: unknown, headers: http.IncomingHttpHeaders): string | null {
  if (!headers['x-api-key'] && !headers.authorization) return 'missing x-api-key header';
  if (!headers['anthropic-version']) return 'missing anthropic-version header';
  const r = req as LoopbackRequest;
  if (!r || typeof r !== 'object') return 'body: expected a JSON object';
  if (typeof r.model !== 'string' || r.model.length === 0) return 'model: Field required';
  if (!Number.isInteger(r.max_tokens) || r.max_tokens < 1) return 'max_tokens: expected an integer >= 1';
  if (!Array.isArray(r.messages) || r.messages.length === 0) return 'messages: at least one message is required';
  if (r.messages[0].role !== 'user') return 'messages: first message must use the "user" role';
  const pendingToolUse = new Set<string>();
  for (let i = 0; i < r.messages.length; i++) {
    const m = r.messages[i];
    if (i > 0 && m.role === r.messages[i - 1].role) return `messages.${i}: roles must alternate between "user" and "assistant"`;
    const blocks = typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : (m.content as Array<Record<string, unknown>>);
    if (!Array.isArray(blocks)) return `messages.${i}.content: expected a string or a list of blocks`;
    if (m.role === 'user') {
      for (const b of blocks) if (b.type === 'tool_result') pendingToolUse.delete(String(b.tool_use_id));
      if (pendingToolUse.size > 0) return `messages.${i}: tool_use ids were found without tool_result blocks immediately after: ${[...pendingToolUse].join(', ')}`;
    } else {
      for (const b of blocks) {
        if (b.type === 'tool_use') {
          if (typeof b.id !== 'string' || typeof b.name !== 'string') return `messages.${i}: tool_use blocks need id and name`;
          pendingToolUse.add(b.id);
        }
        if (b.type === 'text' && Object.keys(b).some((k) => !['type', 'text', 'citations', 'cache_control'].includes(k))) return `messages.${i}: unexpected field in text block`;
      }
    }
  }
  for (const t of r.tools ?? []) {
    if (!/^[a-zA-Z0-9_-]{1,64}$/.test(t.name)) return `tools: invalid tool name ${t.name}`;
    if (!t.input_schema || t.input_schema.type !== 'object') return `tools.${t.name}.input_schema: type must be "object"`;
  }
  return null;
}

export async function startAnthropicLoopback(model: ScriptedModel): Promise<LoopbackServer> {
  const requests: LoopbackRequest[] = [];
  let n = 0;
  let ids = 0;
  const state = { served: 0 };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', 'request-id': `req_${++ids}`, ...headers });
        res.end(JSON.stringify(body));
      };
      if (req.method !== 'POST' || req.url?.split('?')[0] !== '/v1/messages') return send(404, { type: 'error', error: { type: 'not_found_error', message: `${req.method} ${req.url}` } });
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return send(400, invalid('body is not valid JSON').body);
      }
      requests.push(body as LoopbackRequest);
      const problem = validate(body, req.headers);
      if (problem) return send(400, invalid(problem).body);
      const r = body as LoopbackRequest;
      const reply = model(r, ++n);
      if ('error' in reply) return send(reply.error.status, { type: 'error', error: { type: reply.error.type, message: reply.error.message } }, { 'x-should-retry': 'true' });
      const content = reply.content.map((b) => (b.type === 'tool_use' ? { type: 'tool_use', id: `toolu_${n}_${++ids}`, name: b.name, input: b.input } : { type: 'text', text: b.text, citations: null }));
      const systemBlocks = Array.isArray(r.system) ? r.system : [];
      const cached = systemBlocks.filter((b) => b.cache_control?.type === 'ephemeral');
      const cachedTokens = tokensOf(cached.map((b) => b.text));
      const inputTokens = tokensOf({ s: r.system, m: r.messages, t: r.tools });
      let outputTokens = tokensOf(content);
      let stop = reply.stop_reason ?? (content.some((b) => b.type === 'tool_use') ? 'tool_use' : 'end_turn');
      if (outputTokens > r.max_tokens) {
        // Out of tokens: the API truncates; a cut tool_use cannot be returned, so only text survives.
        outputTokens = r.max_tokens;
        stop = 'max_tokens';
        content.splice(0, content.length, { type: 'text', text: 'I was going to…', citations: null });
      }
      state.served++;
      send(200, {
        id: `msg_${n}`,
        type: 'message',
        role: 'assistant',
        model: r.model,
        content,
        stop_reason: stop,
        stop_sequence: null,
        usage: {
          input_tokens: Math.max(1, inputTokens - (n > 1 ? cachedTokens : 0)),
          output_tokens: outputTokens,
          cache_creation_input_tokens: n === 1 ? cachedTokens : 0,
          cache_read_input_tokens: n > 1 ? cachedTokens : 0,
        },
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get served() {
      return state.served;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The last user turn's tool results, parsed (the scripted model reads them like a model reads its context). */
export function lastToolResults(req: LoopbackRequest): Array<{ ok: boolean; value: Record<string, unknown> }> {
  const last = req.messages[req.messages.length - 1];
  if (!Array.isArray(last.content)) return [];
  return (last.content as Array<Record<string, unknown>>)
    .filter((b) => b.type === 'tool_result')
    .map((b) => ({ ok: b.is_error !== true, value: JSON.parse(String(b.content)) as Record<string, unknown> }));
}

/**
 * A scripted model that works one candidate the way a model would: it reads its tool results from the conversation
 * (job ids, statuses) and answers with tool_use blocks — look around, change the recipe, train with `seed`, poll,
 * evaluate, submit. With `tryEscape` it also tries a write outside the sandbox (which must be refused).
 */
export function scriptedCandidateModel(opts: { settings: Array<{ path: string; value: unknown }>; seed?: number; tryEscape?: boolean }): ScriptedModel {
  return (req) => {
    const turn = req.messages.filter((m) => m.role === 'assistant').length;
    const results = lastToolResults(req);
    switch (turn) {
      case 0:
        return { content: [{ type: 'text', text: 'Let me look at the sandbox.' }, { type: 'tool_use', name: 'list_files', input: {} }, { type: 'tool_use', name: 'read_file', input: { path: 'recipe.yaml' } }] };
      case 1:
        return {
          content: [
            ...(opts.tryEscape ? [{ type: 'tool_use' as const, name: 'write_file', input: { path: '../outside.yaml', content: 'x' } }] : []),
            { type: 'tool_use', name: 'set_recipe', input: { settings: opts.settings } },
          ],
        };
      case 2:
        return { content: [{ type: 'tool_use', name: 'launch_training', input: { seed: opts.seed ?? 1 } }] };
      default: {
        const r = results[0]?.value ?? {};
        if (Array.isArray(r.checkpoints))
          return { content: [{ type: 'tool_use', name: 'submit_manifest', input: { status: 'completed', hypothesis: 'a lower learning rate reduces overfitting on the small mix', reason: 'best mean dev among checkpoints' } }] };
        if (r.status === 'succeeded') return { content: [{ type: 'tool_use', name: 'evaluate_checkpoints', input: { jobId: r.jobId } }] };
        if (typeof r.jobId === 'string' && (r.status === undefined || r.status === 'running' || r.status === 'pending'))
          return { content: [{ type: 'tool_use', name: 'poll_job', input: { jobId: r.jobId, waitSeconds: 60 } }] };
        return { content: [{ type: 'text', text: `I am confused by ${JSON.stringify(r).slice(0, 100)}` }] };
      }
    }
  };
}
