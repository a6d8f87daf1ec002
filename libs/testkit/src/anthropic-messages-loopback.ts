import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CLAUDE_MODELS, claudeModelProblem } from '@aevo/contracts';
import { structuredOutputProblem } from './anthropic-structured-output';

export { structuredOutputProblem } from './anthropic-structured-output';

/**
 * What the meta agent and the collector send, as far as this server reads it. The field names and shapes are the
 * installed SDK's (`@anthropic-ai/sdk` 1.14.0, resources/messages/messages.d.ts: MessageCreateParamsBase,
 * TextBlockParam, Tool, ToolChoice, CacheControlEphemeral, OutputConfig / JSONOutputFormat).
 */
export interface MessagesRequest {
  model: string;
  max_tokens: number;
  system?: string | Array<{ type: string; text: string; cache_control?: unknown }>;
  tools?: Array<{ name: string; input_schema: unknown; cache_control?: unknown }>;
  tool_choice?: { type: string; name?: string };
  output_config?: { effort?: string | null; format?: { type: string; schema: Record<string, unknown> } | null };
  messages: Array<{ role: string; content: unknown }>;
  [param: string]: unknown;
}

/**
 * The SDK's ErrorType (resources/shared.d.ts) with the HTTP status the SDK maps to its error class (core/error.d.ts).
 */
export const API_ERROR_STATUS = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
} as const;
export type ApiErrorType = keyof typeof API_ERROR_STATUS;

/** The SDK's StopReason (resources/messages/messages.d.ts). */
export type StopReason =
  'end_turn' | 'max_tokens' | 'stop_sequence' | 'tool_use' | 'pause_turn' | 'refusal' | 'model_context_window_exceeded';

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
}

/**
 * How a test scripts one answer:
 * - `toolUse`: one tool_use block (stop_reason `tool_use`);
 * - `json`: a structured-output answer, the JSON as the text block (stop_reason `end_turn`); only to a request
 *   with `output_config.format`, as the API does;
 * - `text`: a text block with any stop reason (a refusal, a truncated answer);
 * - `error`: the API's error body for that type, with its status (and `retry-after` for a 429 when given);
 * - `status` + `body`: any raw HTTP answer.
 */
export type MessagesReply =
  | { status: number; body: unknown; headers?: Record<string, string> }
  | { error: ApiErrorType; message?: string; retryAfterSeconds?: number }
  | { toolUse: { name: string; input: unknown }; usage?: Partial<Usage> }
  | { json: unknown; usage?: Partial<Usage> }
  | { text: string; stopReason?: StopReason; usage?: Partial<Usage> };

export interface LoopbackMessagesApiOptions {
  /** The clock model retirements are judged by (default: the real one). */
  now?: () => Date;
  /**
   * Below this many prefix tokens a cache breakpoint caches nothing (the API then bills it as plain input, no
   * error). Not in the SDK: 1024 is the minimum Anthropic's prompt-caching documentation gives for the Sonnet
   * models (some models need more, up to 4096), so a prefix under it is uncacheable on every model.
   */
  minCacheableTokens?: number;
  /** Output tokens billed when a reply names none. */
  outputTokens?: number;
}

const MAX_CACHE_BREAKPOINTS = 4;
const CACHE_TTL_MS = { '5m': 5 * 60_000, '1h': 60 * 60_000 } as const;

class InvalidRequest extends Error {
  constructor(
    readonly type: ApiErrorType,
    message: string,
  ) {
    super(message);
  }
}

/** A rough, deterministic token count (about four characters a token) for the usage this server reports. */
const tokensOf = (v: unknown): number => Math.ceil(JSON.stringify(v ?? '').length / 4);

/**
 * A loopback HTTP server speaking the Anthropic Messages API (POST /v1/messages), for the real SDK pointed at it
 * with `baseURL`. It refuses what the real API refuses of the requests our meta agent and collector send — a
 * model id the installed SDK does not know or has retired (404 not_found_error, as the API answers), a bad
 * `max_tokens`, messages that do not start with a user turn, duplicate tool names, a forced tool that is not
 * defined, more than four cache breakpoints or a `cache_control` other than `{type: 'ephemeral', ttl?: '5m' | '1h'}`,
 * and a structured-output schema outside the subset the SDK's transformJSONSchema produces — each with the API's
 * error body (`{type: 'error', error: {type, message}, request_id}`) and a `request-id` header. Usage is derived
 * from the request: cache tokens only where a breakpoint marks a prefix long enough to cache, a write the first
 * time and a read while it lives (its TTL), never invented. It counts calls, so a test can prove a replay made none.
 */
export class LoopbackMessagesApi {
  calls = 0;
  readonly requests: MessagesRequest[] = [];
  /** Every refusal this server answered (status and message), for tests that check the client never caused one. */
  readonly refusals: Array<{ status: number; type: ApiErrorType; message: string }> = [];
  private server: http.Server | null = null;
  private readonly cache = new Map<string, number>();
  private readonly now: () => Date;
  private readonly minCacheableTokens: number;
  private readonly defaultOutputTokens: number;

  constructor(
    private readonly respond: (req: MessagesRequest, n: number) => MessagesReply,
    opts: LoopbackMessagesApiOptions = {},
  ) {
    this.now = opts.now ?? (() => new Date());
    this.minCacheableTokens = opts.minCacheableTokens ?? 1024;
    this.defaultOutputTokens = opts.outputTokens ?? 220;
  }

  get url(): string {
    const a = this.server?.address() as AddressInfo;
    return `http://127.0.0.1:${a.port}`;
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => this.answer(req, res, Buffer.concat(chunks).toString('utf8')));
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private answer(req: http.IncomingMessage, res: http.ServerResponse, text: string): void {
    const requestId = `req_loopback_${this.calls + this.refusals.length + 1}`;
    const fail = (type: ApiErrorType, message: string, headers: Record<string, string> = {}, record = true) => {
      const status = API_ERROR_STATUS[type];
      if (record) this.refusals.push({ status, type, message });
      res.writeHead(status, { 'content-type': 'application/json', 'request-id': requestId, ...headers });
      res.end(JSON.stringify({ type: 'error', error: { type, message }, request_id: requestId }));
    };
    if (req.method !== 'POST' || req.url?.split('?')[0] !== '/v1/messages')
      return fail('not_found_error', `Not found: ${req.method} ${req.url}`);
    if (!(req.headers['x-api-key'] || req.headers.authorization))
      return fail('authentication_error', 'x-api-key header is required');
    if (!req.headers['anthropic-version'])
      return fail('invalid_request_error', 'anthropic-version: header is required');
    let body: MessagesRequest;
    try {
      body = JSON.parse(text) as MessagesRequest;
      this.validate(body);
    } catch (err) {
      if (err instanceof InvalidRequest) return fail(err.type, err.message);
      return fail(
        'invalid_request_error',
        `There was an issue with the JSON body of your request: ${(err as Error).message}`,
      );
    }
    this.calls++;
    this.requests.push(body);
    const reply = this.respond(body, this.calls);
    if ('status' in reply) {
      res.writeHead(reply.status, { 'content-type': 'application/json', 'request-id': requestId, ...reply.headers });
      res.end(JSON.stringify(reply.body));
      return;
    }
    if ('error' in reply)
      return fail(
        reply.error,
        reply.message ?? defaultErrorMessage(reply.error),
        reply.retryAfterSeconds !== undefined ? { 'retry-after': String(reply.retryAfterSeconds) } : {},
        false,
      );
    // A test that scripts structured output for a request that asked for none has a bug: answered as a server error it
    // fails loudly.
    if ('json' in reply && !body.output_config?.format)
      return fail(
        'api_error',
        'loopback script error: structured output scripted for a request without output_config.format',
      );
    const [content, stopReason] =
      'toolUse' in reply
        ? [
            [
              {
                type: 'tool_use',
                id: `toolu_loopback_${this.calls}`,
                name: reply.toolUse.name,
                input: reply.toolUse.input,
              },
            ],
            'tool_use',
          ]
        : 'json' in reply
          ? [[{ type: 'text', text: JSON.stringify(reply.json), citations: null }], 'end_turn']
          : [[{ type: 'text', text: reply.text, citations: null }], reply.stopReason ?? 'end_turn'];
    res.writeHead(200, { 'content-type': 'application/json', 'request-id': requestId });
    res.end(
      JSON.stringify({
        id: `msg_loopback_${this.calls}`,
        type: 'message',
        role: 'assistant',
        model: body.model,
        content,
        stop_reason: stopReason,
        stop_sequence: null,
        usage: { ...this.usageOf(body), output_tokens: this.defaultOutputTokens, ...reply.usage },
      }),
    );
  }

  /** Throws InvalidRequest naming the field, in the API's words where the SDK documents them. */
  private validate(body: MessagesRequest): void {
    const bad = (message: string) => new InvalidRequest('invalid_request_error', message);
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw bad('body: Input should be an object');
    if (typeof body.model !== 'string' || body.model === '') throw bad('model: Field required');
    // An unknown or retired model is a 404 on the API (not_found_error "model: <id>"), not a 400.
    if (claudeModelProblem(body.model, this.now()) !== null)
      throw new InvalidRequest('not_found_error', `model: ${body.model}`);
    if (!Number.isInteger(body.max_tokens) || body.max_tokens < 1)
      throw bad(
        `max_tokens: Input should be an integer greater than or equal to 1, got ${JSON.stringify(body.max_tokens)}`,
      );
    if (!Array.isArray(body.messages) || body.messages.length === 0)
      throw bad('messages: at least one message is required');
    body.messages.forEach((m, i) => {
      if (m.role !== 'user' && m.role !== 'assistant')
        throw bad(`messages.${i}.role: Input should be 'user' or 'assistant'`);
      if (i > 0 && m.role === body.messages[i - 1].role)
        throw bad(`messages.${i}.role: roles must alternate between "user" and "assistant"`);
      const empty =
        typeof m.content === 'string' ? m.content === '' : !Array.isArray(m.content) || m.content.length === 0;
      if (empty && !(m.role === 'assistant' && i === body.messages.length - 1))
        throw bad(
          `messages.${i}: all messages must have non-empty content except for the optional final assistant message`,
        );
    });
    if (body.messages[0].role !== 'user') throw bad('messages.0.role: the first message must use the "user" role');
    const breakpoints: string[] = [];
    const cacheControl = (where: string, cc: unknown) => {
      if (cc === undefined || cc === null) return;
      const c = cc as { type?: unknown; ttl?: unknown };
      if (typeof cc !== 'object' || c.type !== 'ephemeral')
        throw bad(`${where}.cache_control.type: Input should be 'ephemeral'`);
      if (c.ttl !== undefined && c.ttl !== '5m' && c.ttl !== '1h')
        throw bad(`${where}.cache_control.ttl: Input should be '5m' or '1h'`);
      breakpoints.push(where);
    };
    if (body.system !== undefined && typeof body.system !== 'string') {
      if (!Array.isArray(body.system)) throw bad('system: Input should be a valid string or list of text blocks');
      body.system.forEach((b, i) => {
        if (b?.type !== 'text' || typeof b.text !== 'string') throw bad(`system.${i}: Input should be a text block`);
        if (b.text === '') throw bad(`system.${i}.text: text content blocks must be non-empty`);
        cacheControl(`system.${i}`, b.cache_control);
      });
    }
    const toolNames = new Set<string>();
    (body.tools ?? []).forEach((t, i) => {
      if (typeof t?.name !== 'string' || t.name === '') throw bad(`tools.${i}.name: Field required`);
      if (toolNames.has(t.name)) throw bad('tools: Tool names must be unique.');
      toolNames.add(t.name);
      cacheControl(`tools.${i}`, t.cache_control);
    });
    if (body.tool_choice !== undefined) {
      const tc = body.tool_choice;
      if (!['auto', 'any', 'tool', 'none'].includes(tc?.type))
        throw bad(`tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'`);
      if (tc.type === 'tool' && !toolNames.has(tc.name ?? ''))
        throw bad(`tool_choice.name: tool ${JSON.stringify(tc.name)} is not among the request's tools`);
      if ((tc.type === 'tool' || tc.type === 'any') && toolNames.size === 0)
        throw bad(`tool_choice: ${tc.type} requires tools`);
    }
    body.messages.forEach((m, i) => {
      if (Array.isArray(m.content))
        m.content.forEach((b: { cache_control?: unknown }, j: number) =>
          cacheControl(`messages.${i}.content.${j}`, b?.cache_control),
        );
    });
    if (breakpoints.length > MAX_CACHE_BREAKPOINTS)
      throw bad(
        `A maximum of ${MAX_CACHE_BREAKPOINTS} blocks with cache_control may be provided. Found ${breakpoints.length}.`,
      );
    const format = body.output_config?.format;
    if (format !== undefined && format !== null) {
      if (format.type !== 'json_schema') throw bad(`output_config.format.type: Input should be 'json_schema'`);
      const schema = format.schema;
      if (schema === null || typeof schema !== 'object' || schema.type !== 'object')
        throw bad('output_config.format.schema: the root of the schema must be an object type');
      const problem = structuredOutputProblem(schema, 'output_config.format.schema');
      if (problem) throw bad(problem);
    }
  }

  /**
   * Usage as the API reports it: the prefix up to the last breakpoint is written to the cache the first time (if
   * long enough) and read while it lives; `input_tokens` counts only what was neither.
   */
  private usageOf(body: MessagesRequest): Omit<Usage, 'output_tokens'> {
    const total = tokensOf([body.tools, body.system, body.messages, body.output_config]);
    const prefix = cachedPrefix(body);
    if (!prefix) return { input_tokens: total, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
    const size = tokensOf(prefix.blocks);
    if (size < this.minCacheableTokens)
      return { input_tokens: total, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
    const key = createHash('sha256')
      .update(JSON.stringify([body.model, prefix.blocks]))
      .digest('hex');
    const now = this.now().getTime();
    const expires = this.cache.get(key);
    this.cache.set(key, now + CACHE_TTL_MS[prefix.ttl]);
    if (expires !== undefined && expires > now)
      return { input_tokens: Math.max(0, total - size), cache_creation_input_tokens: 0, cache_read_input_tokens: size };
    return { input_tokens: Math.max(0, total - size), cache_creation_input_tokens: size, cache_read_input_tokens: 0 };
  }
}

/** Everything up to and including the last block with cache_control, in the API's order (tools, system, messages). */
function cachedPrefix(body: MessagesRequest): { blocks: unknown[]; ttl: '5m' | '1h' } | null {
  const blocks: unknown[] = [];
  let last: { length: number; ttl: '5m' | '1h' } | null = null;
  const visit = (b: unknown) => {
    blocks.push(b);
    const cc = (b as { cache_control?: { ttl?: '5m' | '1h' } } | null)?.cache_control;
    if (cc) last = { length: blocks.length, ttl: cc.ttl ?? '5m' };
  };
  (body.tools ?? []).forEach(visit);
  if (Array.isArray(body.system)) body.system.forEach(visit);
  else if (body.system !== undefined) visit(body.system);
  for (const m of body.messages) (Array.isArray(m.content) ? m.content : [m.content]).forEach(visit);
  const found = last as { length: number; ttl: '5m' | '1h' } | null;
  return found ? { blocks: blocks.slice(0, found.length), ttl: found.ttl } : null;
}

const defaultErrorMessage = (type: ApiErrorType): string =>
  ({
    invalid_request_error: 'Invalid request',
    authentication_error: 'invalid x-api-key',
    billing_error: 'Your credit balance is too low to access the Anthropic API.',
    permission_error: 'Your API key does not have permission to use the specified resource.',
    not_found_error: 'The requested resource could not be found.',
    rate_limit_error: 'Number of request tokens has exceeded your per-minute rate limit',
    api_error: 'Internal server error',
    timeout_error: 'Request timed out',
    overloaded_error: 'Overloaded',
  })[type];

/** The model ids the loopback accepts at `at` (for tests that pick one). */
export const currentClaudeModels = (at: Date = new Date()): string[] =>
  CLAUDE_MODELS.filter((m) => claudeModelProblem(m.id, at) === null).map((m) => m.id);
