import Anthropic from '@anthropic-ai/sdk';
import {
  apiErrors,
  startAnthropicLoopback,
  type LoopbackServer,
  type ScriptedModel,
} from '../src/testing/anthropic-loopback';

/** The strict fake Messages API, driven through the real SDK: what the real API refuses, it refuses. */
describe('loopback Messages API (strict fake)', () => {
  let server: LoopbackServer | null = null;
  afterEach(async () => {
    await server?.close();
    server = null;
  });
  const answer: ScriptedModel = () => ({ content: [{ type: 'text', text: 'ok' }] });
  const client = () => new Anthropic({ apiKey: 'k', baseURL: server!.url, maxRetries: 0 });
  const MODEL = 'claude-sonnet-5-5';
  const big = 'x'.repeat(8000); // ~2000 tokens: above the 1024-token minimum cacheable prefix
  const tool = (name: string) => ({
    name,
    description: 'd',
    input_schema: { type: 'object' as const, properties: {} },
  });
  const refusal = async (
    p: Promise<unknown>,
  ): Promise<{ status: number; message: string; shouldRetry: string | null }> => {
    try {
      await p;
    } catch (err) {
      const e = err as InstanceType<typeof Anthropic.APIError>;
      return {
        status: e.status as number,
        message: (e.error as { error?: { message?: string } } | undefined)?.error?.message ?? e.message,
        shouldRetry: (e.headers as Headers | undefined)?.get('x-should-retry') ?? null,
      };
    }
    throw new Error('expected the request to be refused');
  };
  const create = (body: Record<string, unknown>) =>
    client().messages.create({
      model: MODEL,
      max_tokens: 100,
      ...body,
    } as unknown as Anthropic.MessageCreateParamsNonStreaming);

  it('refuses retired and unknown model ids (404) and max_tokens above the model limit', async () => {
    server = await startAnthropicLoopback(answer, { maxOutputTokens: 16_000 });
    const msgs = [{ role: 'user', content: 'hi' }];
    expect(await refusal(create({ model: 'claude-sonnet-4-5', messages: msgs }))).toMatchObject({
      status: 404,
      message: expect.stringContaining('model: claude-sonnet-4-5'),
      shouldRetry: 'false',
    });
    expect(await refusal(create({ model: 'claude-test-1', messages: msgs }))).toMatchObject({ status: 404 });
    expect(await refusal(create({ max_tokens: 16_001, messages: msgs }))).toMatchObject({
      status: 400,
      message: expect.stringContaining('max_tokens: 16001 > 16000'),
    });
    expect(await refusal(create({ max_tokens: 0, messages: msgs }))).toMatchObject({ status: 400 });
    await expect(create({ messages: msgs })).resolves.toMatchObject({ stop_reason: 'end_turn' });
  });

  it(
    'refuses empty assistant turns, text before a tool_result, ' + 'unknown tool_use ids and unanswered tool uses',
    async () => {
      server = await startAnthropicLoopback(answer);
      const use = { type: 'tool_use', id: 'toolu_1', name: 'list_files', input: {} };
      const result = { type: 'tool_result', tool_use_id: 'toolu_1', content: '{}' };
      const tools = [tool('list_files')];
      expect(
        await refusal(
          create({
            messages: [
              { role: 'user', content: 'a' },
              { role: 'assistant', content: [] },
              { role: 'user', content: 'b' },
            ],
          }),
        ),
      ).toMatchObject({
        status: 400,
        message: expect.stringContaining('non-empty content'),
      });
      expect(
        await refusal(
          create({
            messages: [
              { role: 'user', content: 'a' },
              { role: 'assistant', content: [{ type: 'text', text: ' ' }] },
              { role: 'user', content: 'b' },
            ],
          }),
        ),
      ).toMatchObject({ status: 400 });
      expect(
        await refusal(
          create({
            tools,
            messages: [
              { role: 'user', content: 'a' },
              { role: 'assistant', content: [use] },
              { role: 'user', content: [{ type: 'text', text: 'first' }, result] },
            ],
          }),
        ),
      ).toMatchObject({
        message: expect.stringContaining('tool_result blocks must come first'),
      });
      expect(
        await refusal(
          create({
            tools,
            messages: [
              { role: 'user', content: 'a' },
              { role: 'assistant', content: [use] },
              { role: 'user', content: [{ ...result, tool_use_id: 'toolu_9' }] },
            ],
          }),
        ),
      ).toMatchObject({ message: expect.stringContaining('unexpected `tool_use_id`') });
      expect(
        await refusal(
          create({
            tools,
            messages: [
              { role: 'user', content: 'a' },
              { role: 'assistant', content: [use] },
              { role: 'user', content: 'no result' },
            ],
          }),
        ),
      ).toMatchObject({
        message: expect.stringContaining('without `tool_result`'),
      });
      // Consecutive user turns are combined (as the SDK documents), so a text after the results is fine.
      await expect(
        create({
          tools,
          messages: [
            { role: 'user', content: 'a' },
            { role: 'assistant', content: [use] },
            { role: 'user', content: [result] },
            { role: 'user', content: 'and more' },
          ],
        }),
      ).resolves.toMatchObject({ type: 'message' });
    },
  );

  it(
    'refuses a fifth breakpoint, a wrong cache_control type or ttl, a 1h ' +
      'breakpoint after a 5m one, and duplicate tool names',
    async () => {
      server = await startAnthropicLoopback(answer);
      const cc = (ttl?: string, type = 'ephemeral') => ({ type, ...(ttl ? { ttl } : {}) });
      const text = (t: string, c?: unknown) => ({ type: 'text', text: t, ...(c ? { cache_control: c } : {}) });
      const five = {
        system: [text('a', cc()), text('b', cc()), text('c', cc()), text('d', cc())],
        messages: [{ role: 'user', content: [text('e', cc())] }],
      };
      expect(await refusal(create(five))).toMatchObject({
        status: 400,
        message: 'A maximum of 4 blocks with cache_control may be provided. Found 5.',
      });
      expect(
        await refusal(
          create({ system: [text('a', cc(undefined, 'persistent'))], messages: [{ role: 'user', content: 'x' }] }),
        ),
      ).toMatchObject({ message: expect.stringContaining("Input should be 'ephemeral'") });
      expect(
        await refusal(create({ system: [text('a', cc('2h'))], messages: [{ role: 'user', content: 'x' }] })),
      ).toMatchObject({ message: expect.stringContaining("'5m' or '1h'") });
      expect(
        await refusal(
          create({ system: [text('a', cc('5m'))], messages: [{ role: 'user', content: [text('x', cc('1h'))] }] }),
        ),
      ).toMatchObject({ message: expect.stringContaining("ttl='1h'") });
      expect(
        await refusal(create({ tools: [tool('a'), tool('a')], messages: [{ role: 'user', content: 'x' }] })),
      ).toMatchObject({ message: 'tools: Tool names must be unique.' });
    },
  );

  it('reads the cache only where an earlier request wrote the same prefix, within its TTL', async () => {
    const clock = { t: 0 };
    server = await startAnthropicLoopback(answer, { now: () => clock.t });
    const cc = { type: 'ephemeral', ttl: '5m' };
    const system = [{ type: 'text', text: big, cache_control: cc }];
    const first = await create({ system, messages: [{ role: 'user', content: 'q1' }] });
    expect(first.usage).toMatchObject({ cache_read_input_tokens: 0 });
    expect(first.usage.cache_creation_input_tokens).toBeGreaterThan(1000);
    const again = await create({ system, messages: [{ role: 'user', content: 'q2' }] });
    expect(again.usage.cache_read_input_tokens).toBe(first.usage.cache_creation_input_tokens);
    expect(again.usage.cache_creation_input_tokens).toBe(0);
    const other = await create({
      system: [{ type: 'text', text: `${big}y`, cache_control: cc }],
      messages: [{ role: 'user', content: 'q3' }],
    });
    expect(other.usage.cache_read_input_tokens).toBe(0);
    clock.t += 301_000; // past the 5-minute TTL (the last hit refreshed it at t=0)
    const late = await create({ system, messages: [{ role: 'user', content: 'q4' }] });
    expect(late.usage.cache_read_input_tokens).toBe(0);
    const short = await create({
      system: [{ type: 'text', text: 'short', cache_control: cc }],
      messages: [{ role: 'user', content: 'q' }],
    });
    expect(short.usage.cache_creation_input_tokens).toBe(0); // under the minimum cacheable length
  });

  it('answers 429 with retry-after and 529, both marked retryable; a 400 is marked not retryable', async () => {
    let n = 0;
    server = await startAnthropicLoopback(() => (++n === 1 ? apiErrors.rateLimited(30) : apiErrors.overloaded()));
    const msgs = [{ role: 'user', content: 'hi' }];
    try {
      await create({ messages: msgs });
      throw new Error('expected a 429');
    } catch (err) {
      const e = err as InstanceType<typeof Anthropic.RateLimitError>;
      expect(e).toBeInstanceOf(Anthropic.RateLimitError);
      expect((e.headers as Headers).get('retry-after')).toBe('30');
      expect((e.headers as Headers).get('x-should-retry')).toBe('true');
      expect(e.error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    }
    expect(await refusal(create({ messages: msgs }))).toMatchObject({ status: 529, shouldRetry: 'true' });
    expect(await refusal(create({ messages: [{ role: 'assistant', content: 'x' }] }))).toMatchObject({
      status: 400,
      shouldRetry: 'false',
    });
  });

  it(
    'truncates at max_tokens, stops at the context window, refuses a prompt that ' +
      'is too long, and returns refusals and empty content',
    async () => {
      let reply: ReturnType<ScriptedModel> = {
        content: [{ type: 'tool_use', name: 'write_file', input: { path: 'recipe.yaml', content: 'y'.repeat(4000) } }],
      };
      server = await startAnthropicLoopback(() => reply, { contextWindowTokens: 3000 });
      const tools = [tool('write_file')];
      const cut = await create({ tools, max_tokens: 200, messages: [{ role: 'user', content: 'write' }] });
      expect(cut.stop_reason).toBe('max_tokens');
      expect(cut.usage.output_tokens).toBe(200);
      expect(((cut.content[0] as Anthropic.ToolUseBlock).input as { content: string }).content.length).toBe(2000);
      const filled = await create({ tools, max_tokens: 2000, messages: [{ role: 'user', content: 'z'.repeat(8000) }] });
      expect(filled.stop_reason).toBe('model_context_window_exceeded');
      expect(await refusal(create({ messages: [{ role: 'user', content: 'z'.repeat(13_000) }] }))).toMatchObject({
        status: 400,
        message: expect.stringMatching(/prompt is too long: \d+ tokens > 3000 maximum/),
        shouldRetry: 'false',
      });
      reply = { content: [], stop_reason: 'refusal' };
      await expect(create({ messages: [{ role: 'user', content: 'q' }] })).resolves.toMatchObject({
        stop_reason: 'refusal',
        content: [],
      });
      reply = { content: [] };
      await expect(create({ messages: [{ role: 'user', content: 'q' }] })).resolves.toMatchObject({
        stop_reason: 'end_turn',
        content: [],
      });
      const counted = await client().messages.countTokens({
        model: MODEL,
        messages: [{ role: 'user', content: 'z'.repeat(400) }],
      });
      expect(counted.input_tokens).toBeGreaterThan(100);
    },
  );
});
