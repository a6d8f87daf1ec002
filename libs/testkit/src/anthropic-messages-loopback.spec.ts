import Anthropic from '@anthropic-ai/sdk';
import { transformJSONSchema } from '@anthropic-ai/sdk/lib/transform-json-schema';
import { LoopbackMessagesApi, currentClaudeModels, type MessagesReply } from './anthropic-messages-loopback';

const NOW = new Date('2026-12-07T08:00:00Z');
const MODEL = 'claude-sonnet-5-5';
const SCHEMA = transformJSONSchema({
  type: 'object',
  properties: { answer: { type: 'string', minLength: 3 } },
  required: ['answer'],
});

/** The loopback through the real SDK (no retries, so each refusal is seen once). */
describe('the loopback Messages API, through @anthropic-ai/sdk', () => {
  let reply: MessagesReply = { json: { answer: 'yes' } };
  let clock = NOW;
  const api = new LoopbackMessagesApi(() => reply, { now: () => clock });
  let client: Anthropic;
  const ask = (params: Record<string, unknown> = {}) =>
    client.messages.create({
      model: MODEL,
      max_tokens: 100,
      messages: [{ role: 'user', content: 'hello' }],
      ...params,
    } as Anthropic.MessageCreateParamsNonStreaming);
  const refusal = async (params: Record<string, unknown>) => {
    const err = await ask(params).then(
      () => null,
      (e: unknown) => e,
    );
    if (!(err instanceof Anthropic.APIError)) throw new Error(`expected an APIError, got ${String(err)}`);
    return {
      cls: err.constructor.name,
      status: err.status,
      body: err.error as { type: string; error: { type: string; message: string }; request_id: string },
    };
  };

  beforeAll(async () => {
    await api.start();
    client = new Anthropic({ apiKey: 'test-key', baseURL: api.url, maxRetries: 0 });
  });
  afterAll(() => api.stop());
  beforeEach(() => {
    reply = { json: { answer: 'yes' } };
    clock = NOW;
  });

  it('refuses a retired model and an unknown one as the API does (404 not_found_error naming the model)', async () => {
    expect(await refusal({ model: 'claude-sonnet-4-5' })).toEqual({
      cls: 'NotFoundError',
      status: 404,
      body: {
        type: 'error',
        error: { type: 'not_found_error', message: 'model: claude-sonnet-4-5' },
        request_id: expect.stringMatching(/^req_/),
      },
    });
    expect((await refusal({ model: 'claude-test' })).status).toBe(404);
    // The day before its end of life the same id is still served.
    clock = new Date('2026-11-29T12:00:00Z');
    await expect(
      ask({ model: 'claude-sonnet-4-5', output_config: { format: { type: 'json_schema', schema: SCHEMA } } }),
    ).resolves.toMatchObject({ model: 'claude-sonnet-4-5' });
    expect(currentClaudeModels(NOW)).not.toContain('claude-sonnet-4-5');
  });

  it(
    'refuses a bad max_tokens, a conversation not opened by the user, ' + 'and duplicate or undefined forced tools',
    async () => {
      expect((await refusal({ max_tokens: 0 })).body.error.message).toMatch(/^max_tokens: /);
      expect((await refusal({ messages: [{ role: 'assistant', content: 'hi' }] })).body.error.message).toMatch(
        /^messages\.0\.role: /,
      );
      const tool = { name: 't', input_schema: { type: 'object' } };
      expect((await refusal({ tools: [tool, tool] })).body.error.message).toBe('tools: Tool names must be unique.');
      expect(
        (await refusal({ tools: [tool], tool_choice: { type: 'tool', name: 'other' } })).body.error.message,
      ).toMatch(/^tool_choice\.name: /);
    },
  );

  it('allows four cache breakpoints of type ephemeral, and refuses a fifth or another type', async () => {
    reply = { text: 'ok' };
    const block = (text: string, cache_control: unknown = { type: 'ephemeral' }) => ({
      type: 'text',
      text,
      cache_control,
    });
    await expect(ask({ system: [block('a'), block('b'), block('c'), block('d')] })).resolves.toMatchObject({
      stop_reason: 'end_turn',
    });
    const five = await refusal({
      system: [block('a'), block('b'), block('c'), block('d')],
      messages: [{ role: 'user', content: [block('e')] }],
    });
    expect(five).toMatchObject({
      cls: 'BadRequestError',
      status: 400,
      body: {
        error: {
          type: 'invalid_request_error',
          message: 'A maximum of 4 blocks with cache_control may be provided. Found 5.',
        },
      },
    });
    expect((await refusal({ system: [block('a', { type: 'persistent' })] })).body.error.message).toBe(
      "system.0.cache_control.type: Input should be 'ephemeral'",
    );
    expect((await refusal({ system: [block('a', { type: 'ephemeral', ttl: '24h' })] })).body.error.message).toBe(
      "system.0.cache_control.ttl: Input should be '5m' or '1h'",
    );
  });

  it(
    'accepts a schema in the form the SDK’s transformJSONSchema produces and answers structured output as text ' +
      'JSON',
    async () => {
      const res = await ask({ output_config: { format: { type: 'json_schema', schema: SCHEMA } } });
      expect(res.content).toEqual([{ type: 'text', text: '{"answer":"yes"}', citations: null }]);
      expect(res.stop_reason).toBe('end_turn');
      // Untransformed: a keyword structured outputs do not take, an object without additionalProperties: false.
      const raw = {
        type: 'object',
        properties: { answer: { type: 'string', minLength: 3 } },
        required: ['answer'],
        additionalProperties: false,
      };
      expect(
        (await refusal({ output_config: { format: { type: 'json_schema', schema: raw } } })).body.error.message,
      ).toBe(
        'output_config.format.schema.properties.answer: keyword "minLength" is not supported by structured outputs',
      );
      const open = { type: 'object', properties: { answer: { type: 'string' } } };
      expect(
        (await refusal({ output_config: { format: { type: 'json_schema', schema: open } } })).body.error.message,
      ).toBe('output_config.format.schema: objects must set additionalProperties to false');
    },
  );

  it(
    'reports cache tokens only for a prefix long enough to cache: ' + 'written once, then read while it lives',
    async () => {
      reply = { text: 'ok' };
      const short = { system: [{ type: 'text', text: 'short prompt', cache_control: { type: 'ephemeral' } }] };
      expect((await ask(short)).usage).toMatchObject({ cache_creation_input_tokens: 0, cache_read_input_tokens: 0 });
      const long = { system: [{ type: 'text', text: 'x'.repeat(8000), cache_control: { type: 'ephemeral' } }] };
      const first = (await ask(long)).usage;
      expect(first.cache_creation_input_tokens).toBeGreaterThanOrEqual(1024);
      expect(first.cache_read_input_tokens).toBe(0);
      const second = (await ask(long)).usage;
      expect(second).toMatchObject({
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: first.cache_creation_input_tokens,
      });
      // Past the 5-minute TTL the prefix is written again.
      clock = new Date(NOW.getTime() + 6 * 60_000);
      expect((await ask(long)).usage).toMatchObject({
        cache_creation_input_tokens: first.cache_creation_input_tokens,
        cache_read_input_tokens: 0,
      });
      // Without any breakpoint nothing is cached, however long the prompt.
      expect((await ask({ system: 'x'.repeat(8000) })).usage).toMatchObject({
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
      });
    },
  );

  it('answers scripted API errors with the API’s body, status and retry-after', async () => {
    reply = { error: 'rate_limit_error', retryAfterSeconds: 30 };
    const err = await ask().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    expect((err as InstanceType<typeof Anthropic.RateLimitError>).headers?.get('retry-after')).toBe('30');
    reply = { error: 'overloaded_error' };
    expect(await refusal({})).toMatchObject({
      cls: 'OverloadedError',
      status: 529,
      body: { error: { type: 'overloaded_error', message: 'Overloaded' } },
    });
    reply = { text: 'I can’t help with that.', stopReason: 'refusal' };
    await expect(ask()).resolves.toMatchObject({ stop_reason: 'refusal' });
  });
});
