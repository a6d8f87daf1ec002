import Anthropic from '@anthropic-ai/sdk';
import { ResultManifest, canonicalJson, sha256Hex, type EventEnvelope } from '@aevo/contracts';
import {
  ClaudeAgent,
  WorkerRuntime,
  defaultWorkerBrief,
  candidateStreamId,
  foldTrace,
  runCandidate,
  type RecordedResponse,
} from '../src';
import {
  apiErrors,
  lastToolResults,
  scriptedCandidateModel,
  startAnthropicLoopback,
  type LoopbackOptions,
  type LoopbackServer,
  type ScriptedModel,
  type ScriptedReply,
} from '../src/testing/anthropic-loopback';
import { createHarness, fixturePolicy, type Harness } from './harness';

jest.setTimeout(120_000);

const CONSTITUTION = 'CONSTITUTION v1: the leaderboard is authoritative; the dead-end registry only grows.';
const MODEL = 'claude-sonnet-5-5';

const learningRateModel = () =>
  scriptedCandidateModel({ settings: [{ path: 'train.lr', value: 0.002 }], tryEscape: true });
const turnOf = (req: { messages: Array<{ role: string }> }): number =>
  req.messages.filter((m) => m.role === 'assistant').length;

describe('Claude worker against the strict loopback Messages API (real SDK)', () => {
  let h: Harness;
  let server: LoopbackServer | null = null;
  /** Simulated time: the agent's retry waits advance it instantly; the fake's cache TTLs read it too. */
  let clock: { t: number; sleeps: number[] };
  beforeAll(async () => {
    h = await createHarness();
  });
  beforeEach(() => {
    clock = { t: 1_000_000, sleeps: [] };
  });
  afterEach(async () => {
    await server?.close();
    server = null;
  });
  afterAll(async () => {
    await h?.close();
  });

  const serve = async (model: ScriptedModel, opts: LoopbackOptions = {}) =>
    (server = await startAnthropicLoopback(model, { now: () => clock.t, ...opts }));
  const agent = (opts: Partial<ConstructorParameters<typeof ClaudeAgent>[0]> = {}, sdkRetries = 0) =>
    new ClaudeAgent({
      client: new Anthropic({ apiKey: 'test-key', baseURL: server!.url, maxRetries: sdkRetries }),
      model: MODEL,
      constitutionExcerpt: CONSTITUTION,
      sleep: async (ms) => {
        clock.sleeps.push(ms);
        clock.t += ms;
      },
      now: () => clock.t,
      random: () => 0.5,
      ...opts,
    });
  const stream = (id: string): Promise<EventEnvelope[]> => h.store.readStream(candidateStreamId(id));
  const llmSteps = (events: EventEnvelope[]) =>
    events.filter(
      (e) =>
        e.type === 'TraceStepRecorded' &&
        (e.data as { tool: string; phase: string }).tool === 'llm' &&
        (e.data as { phase: string }).phase === 'outcome',
    );
  const outputOf = (e: EventEnvelope) => (e.data as { output: RecordedResponse }).output;
  const toolSteps = (events: EventEnvelope[], tool: string) =>
    events.filter(
      (e) =>
        e.type === 'TraceStepRecorded' &&
        (e.data as { tool: string; phase: string }).tool === tool &&
        (e.data as { phase: string }).phase === 'outcome',
    );
  const run = (index: number, a: ClaudeAgent, opts: Parameters<typeof runCandidate>[4] = {}, workerId?: string) => {
    const fork = h.fork(1, index, { axis: 'learning-rate' });
    return runCandidate(
      { fork, policy: fixturePolicy(h.substrateDir) },
      { ...h.config(workerId), agentKind: 'claude' },
      h.ports(fork.candidateId),
      a,
      opts,
    ).then((out) => ({ out, fork }));
  };
  /** Wraps the scripted candidate: `fault` answers instead of it when it returns a reply. */
  const withFault = (
    fault: (req: Parameters<ScriptedModel>[0], n: number) => ScriptedReply | null,
    inner: ScriptedModel = learningRateModel(),
  ): ScriptedModel => {
    return (req, n) => fault(req, n) ?? inner(req, n);
  };

  it('completes a candidate; tools+system and the conversation are cached with a 1h TTL; each request is recorded with its prompt hash', async () => {
    await serve(learningRateModel());
    const { out, fork } = await run(1, agent());
    expect(out.kind).toBe('submitted');
    const m = ResultManifest.parse(out.manifest);
    expect(m.agentKind).toBe('claude');
    expect(m.recipeChanges).toEqual([{ path: 'train.lr', from: 0.003, to: 0.002 }]);
    expect(m.failureModes.filter((f) => f.kind === 'path-refused')).toHaveLength(1);
    expect(m.checkpoints.length).toBe(3);
    // The brief in force is the system block after the constitution, and WorkerStarted pins it by hash.
    const brief = defaultWorkerBrief();
    expect((server!.requests[0].system as Array<{ text: string }>).map((b) => b.text)).toEqual([
      CONSTITUTION,
      brief.text,
    ]);
    const started = (await stream(fork.candidateId)).find((e) => e.type === 'WorkerStarted');
    expect(started?.data).toMatchObject({
      agentKind: 'claude',
      brief: { source: 'default', path: brief.path, sha256: brief.sha256 },
    });
    for (const r of server!.requests) {
      expect(Array.isArray(r.system) && r.system[r.system.length - 1]).toMatchObject({
        cache_control: { type: 'ephemeral', ttl: '1h' },
      });
      expect(Array.isArray(r.system) && r.system[0]).toMatchObject({ text: CONSTITUTION });
      expect(r.tools!.map((t) => t.name).sort()).toEqual(
        [
          'evaluate_checkpoints',
          'launch_training',
          'list_files',
          'poll_job',
          'preview_data',
          'read_file',
          'read_log_tail',
          'set_recipe',
          'submit_manifest',
          'write_file',
        ].sort(),
      );
      const first = r.messages[0].content;
      expect(JSON.stringify(first)).toContain('Your axis: learning-rate');
      const last = r.messages[r.messages.length - 1].content as Array<Record<string, unknown>>;
      expect(last[last.length - 1].cache_control).toEqual({ type: 'ephemeral', ttl: '1h' });
    }
    expect(server!.countRequests.length).toBe(server!.requests.length); // counted before each request
    const refused = server!.requests
      .flatMap((r) => r.messages)
      .flatMap((msg) => (Array.isArray(msg.content) ? (msg.content as Array<Record<string, unknown>>) : []));
    expect(
      refused.some(
        (b) => b.type === 'tool_result' && b.is_error === true && String(b.content).includes('PATH_REFUSED'),
      ),
    ).toBe(true);
    const llm = llmSteps(await stream(fork.candidateId));
    expect(llm).toHaveLength(server!.served);
    llm.forEach((e, i) => {
      expect((e.data as { llm: unknown }).llm).toMatchObject({ model: MODEL, stopReason: 'tool_use' });
      // the recorded hash is the hash of what the API received
      const r = server!.requests[i];
      expect(outputOf(e).request).toEqual({
        model: MODEL,
        max_tokens: r.max_tokens,
        promptSha256: sha256Hex(canonicalJson({ system: r.system, tools: r.tools, messages: r.messages })),
      });
      expect((e.data as { input: { request: unknown } }).input.request).toEqual(outputOf(e).request);
    });
    // from the second request on, the conversation up to the previous request is read from the cache
    // and each request reads from the cache everything the one before it read or wrote
    expect(outputOf(llm[0]).usage.cache_read_input_tokens).toBe(0);
    for (let i = 1; i < llm.length; i++) {
      const [prev, cur] = [outputOf(llm[i - 1]).usage, outputOf(llm[i]).usage];
      expect(cur.cache_read_input_tokens).toBe(prev.cache_read_input_tokens + prev.cache_creation_input_tokens);
      expect(cur.cache_creation_input_tokens).toBeGreaterThan(0);
    }
    expect(m.cost.inputTokens).toBeGreaterThan(0);
  });

  it('stops cleanly when its token budget (cache reads and writes included) is spent: a failed manifest, WorkerFailed', async () => {
    await serve(learningRateModel());
    const { out, fork } = await run(2, agent(), { budget: { maxTokens: 9000 } });
    expect(out.kind).toBe('failed');
    const m = ResultManifest.parse(out.manifest);
    expect(m.failureModes.map((f) => f.kind)).toContain('budget-exhausted');
    const events = await stream(fork.candidateId);
    const spent = llmSteps(events)
      .map((e) => (e.data as { llm: { inputTokens: number; outputTokens: number; cacheReadTokens: number } }).llm)
      .reduce((s, l) => s + l.inputTokens + l.outputTokens + l.cacheReadTokens, 0);
    expect(spent).toBeGreaterThanOrEqual(9000);
    expect(events.filter((e) => e.type === 'WorkerFailed')).toHaveLength(1);
    expect(llmSteps(events)).toHaveLength(server!.requests.length);
    expect(server!.requests.length).toBeLessThan(6);
  });

  it('stops cleanly on its tool-call budget too', async () => {
    await serve(learningRateModel());
    const { out } = await run(3, agent(), { budget: { maxToolCalls: 4 } });
    expect(out.kind).toBe('failed');
    expect(out.manifest!.failureModes.map((f) => f.kind)).toContain('budget-exhausted');
    expect(out.manifest!.cost.toolCalls).toBeLessThanOrEqual(5);
  });

  it('survives a 90-second 429 storm, waiting as retry-after asks (simulated time), and completes', async () => {
    let stormFrom: number | null = null;
    await serve(
      withFault((req) => {
        if (turnOf(req) !== 3) return null;
        stormFrom ??= clock.t;
        return clock.t - stormFrom < 90_000 ? apiErrors.rateLimited(20) : null;
      }),
    );
    const { out, fork } = await run(4, agent());
    expect(out.kind).toBe('submitted');
    const stormStep = llmSteps(await stream(fork.candidateId))
      .map(outputOf)
      .find((o) => o.errors.length > 0)!;
    expect(stormStep.errors.every((e) => e.startsWith('429'))).toBe(true);
    expect(stormStep.attempts).toBe(6); // 5 refusals 20 s (+ jitter) apart cover 90 s, the 6th goes through
    expect(clock.sleeps).toHaveLength(5);
    for (const ms of clock.sleeps) expect(ms).toBeGreaterThanOrEqual(20_000);
    expect(clock.sleeps.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(90_000);
  });

  it('retries a 529 and a 500 with jittered backoff, then goes on', async () => {
    await serve(withFault((_req, n) => (n === 1 ? apiErrors.overloaded() : n === 2 ? apiErrors.internal() : null)));
    const { out, fork } = await run(5, agent({ retry: { baseDelayMs: 1000, maxDelayMs: 60_000 } }));
    expect(out.kind).toBe('submitted');
    const first = outputOf(llmSteps(await stream(fork.candidateId))[0]);
    expect(first.attempts).toBe(3);
    expect(first.errors[0]).toMatch(/^529/);
    expect(first.errors[1]).toMatch(/^500/);
    expect(clock.sleeps).toEqual([750, 1500]); // half of the backoff plus a random half of it (random = 0.5)
  });

  it("lets the SDK's own retry honour retry-after inside one attempt", async () => {
    await serve(withFault((_req, n) => (n === 1 ? apiErrors.rateLimited(1) : null)));
    const started = Date.now();
    const { out, fork } = await run(6, agent({}, 2));
    expect(out.kind).toBe('submitted');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    const first = outputOf(llmSteps(await stream(fork.candidateId))[0]);
    expect(first.attempts).toBe(1); // the SDK retried; the worker saw one attempt
    expect(server!.refused[0]).toMatchObject({ status: 429 });
    expect(clock.sleeps).toEqual([]);
  });

  it('ends through its normal close when the API stays unreachable, keeping what it evaluated', async () => {
    let evaluated = false;
    await serve(
      withFault((req) => {
        if (lastToolResults(req).some((r) => Array.isArray(r.value.checkpoints))) evaluated = true;
        return evaluated ? apiErrors.overloaded() : null;
      }),
    );
    const { out, fork } = await run(7, agent({ retry: { patienceMs: 10 * 60_000 } }));
    expect(out.kind).toBe('submitted');
    const m = out.manifest!;
    expect(m.status).toBe('completed');
    expect(m.checkpoints.length).toBe(3);
    expect(m.failureModes.map((f) => f.kind)).toEqual(['path-refused', 'agent-error']);
    expect(m.failureModes[1].detail).toMatch(/could not be reached: gave up after \d+ attempts over \d+ s/);
    expect(clock.sleeps.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(10 * 60_000);
    expect(clock.sleeps.length).toBeGreaterThan(5);
    expect((await stream(fork.candidateId)).filter((e) => e.type === 'ManifestSubmitted')).toHaveLength(1);
  });

  it('does not wait out a storm once its campaign is stopped: the in-flight step is abandoned and the candidate ends', async () => {
    await serve(withFault((req) => (turnOf(req) === 1 ? apiErrors.rateLimited(60) : null)));
    const { out, fork } = await run(21, agent(), {
      hooks: { stopRequested: () => (server!.refused.length > 0 ? 'campaign aborted: operator stop' : null) },
    });
    expect(out.kind).toBe('failed');
    expect(out.manifest!.failureModes.map((f) => f.detail)).toContain('campaign aborted: operator stop');
    expect(clock.sleeps).toEqual([]);
    expect(server!.refused).toHaveLength(1);
    const last = llmSteps(await stream(fork.candidateId)).pop()!.data as {
      ok: boolean;
      output: { error: { code: string } };
    };
    expect(last).toMatchObject({ ok: false, output: { error: { code: 'ABANDONED' } } });
  });

  it('a client error (400) is not retried and fails a candidate that evaluated nothing', async () => {
    await serve(() => ({ error: { status: 400, type: 'invalid_request_error', message: 'bad' } }));
    const { out, fork } = await run(8, agent());
    expect(out.kind).toBe('failed');
    expect(server!.requests).toHaveLength(1);
    expect((await stream(fork.candidateId)).map((e) => e.type).slice(-2)).toEqual([
      'WorkerFailed',
      'ManifestSubmitted',
    ]);
  });

  it('records a refusal and ends the candidate cleanly, asking nothing more', async () => {
    await serve(
      withFault((req) =>
        turnOf(req) === 1
          ? { content: [{ type: 'text', text: 'I cannot help with that.' }], stop_reason: 'refusal' }
          : null,
      ),
    );
    const { out, fork } = await run(9, agent());
    expect(out.kind).toBe('failed');
    expect(out.manifest!.failureModes).toEqual([
      expect.objectContaining({ kind: 'agent-error', detail: expect.stringContaining('refused') }),
    ]);
    expect(server!.requests).toHaveLength(2);
    const llm = llmSteps(await stream(fork.candidateId));
    expect((llm[1].data as { llm: { stopReason: string } }).llm.stopReason).toBe('refusal');
  });

  const bigWrite = {
    type: 'tool_use' as const,
    name: 'write_file',
    input: { path: 'pipeline/notes.md', content: 'n'.repeat(24_000) },
  };

  it('asks a turn cut at max_tokens again with more room and runs only the complete answer', async () => {
    await serve(
      withFault((req) =>
        turnOf(req) === 1
          ? {
              content: [
                bigWrite,
                { type: 'tool_use', name: 'set_recipe', input: { settings: [{ path: 'train.lr', value: 0.002 }] } },
              ],
            }
          : null,
      ),
    );
    const { out, fork } = await run(10, agent({ maxTokensPerTurn: 2048 }));
    expect(out.kind).toBe('submitted');
    const events = await stream(fork.candidateId);
    const writes = toolSteps(events, 'write_file');
    expect(writes).toHaveLength(1);
    expect((writes[0].data as { input: { content: string } }).input.content).toHaveLength(24_000);
    // the written file is not echoed back to the model
    const toolResults = server!.requests
      .flatMap((r) => r.messages)
      .flatMap((msg) => (Array.isArray(msg.content) ? (msg.content as Array<Record<string, unknown>>) : []));
    const echoed = toolResults.some((b) => b.type === 'tool_result' && String(b.content).includes('n'.repeat(100)));
    expect(echoed).toBe(false);
    const turn1 = outputOf(llmSteps(events)[1]);
    expect(turn1.retriedStops).toEqual(['max_tokens at 2048', 'max_tokens at 4096']);
    expect(turn1.request.max_tokens).toBe(8192);
    expect(turn1.stop_reason).toBe('tool_use');
  });

  it('streams a turn asked again with more room than the SDK sends without streaming', async () => {
    const huge = {
      type: 'tool_use' as const,
      name: 'write_file',
      input: { path: 'pipeline/notes.md', content: 'h'.repeat(100_000) },
    };
    await serve(
      withFault((req) =>
        turnOf(req) === 1
          ? {
              content: [
                huge,
                { type: 'tool_use', name: 'set_recipe', input: { settings: [{ path: 'train.lr', value: 0.002 }] } },
              ],
            }
          : null,
      ),
    );
    const { out, fork } = await run(20, agent({ maxTokensPerTurn: 8192, maxTokensCeiling: 32_000 }));
    expect(out.kind).toBe('submitted');
    const events = await stream(fork.candidateId);
    const turn1 = outputOf(llmSteps(events)[1]);
    expect(turn1).toMatchObject({
      retriedStops: ['max_tokens at 8192', 'max_tokens at 16384'],
      request: { max_tokens: 32_000 },
      streamed: true,
      stop_reason: 'tool_use',
    });
    expect(outputOf(llmSteps(events)[0]).streamed).toBe(false);
    expect(server!.requests.filter((r) => r.stream === true).map((r) => r.max_tokens)).toEqual([32_000]);
    expect((toolSteps(events, 'write_file')[0].data as { input: { content: string } }).input.content).toHaveLength(
      100_000,
    );
  });

  it('never runs the tool calls of a turn still cut at the largest room: the candidate ends cleanly', async () => {
    await serve(withFault((req) => (turnOf(req) === 1 ? { content: [bigWrite] } : null)));
    const { out, fork } = await run(11, agent({ maxTokensPerTurn: 1024, maxTokensCeiling: 2048 }));
    expect(out.kind).toBe('failed');
    expect(out.manifest!.failureModes).toEqual([
      expect.objectContaining({ kind: 'agent-error', detail: expect.stringContaining('cut at max_tokens 2048') }),
    ]);
    expect(toolSteps(await stream(fork.candidateId), 'write_file')).toHaveLength(0);
  });

  it('drops an empty assistant turn instead of sending it back, and reminds the model in the user turn', async () => {
    let emptied = false;
    await serve(
      withFault((req) => {
        if (turnOf(req) !== 2 || emptied) return null;
        emptied = true;
        return { content: [] };
      }),
    );
    const { out } = await run(12, agent());
    expect(out.kind).toBe('submitted');
    expect(server!.refused).toEqual([]);
    const after = server!.requests.find((r) =>
      JSON.stringify(r.messages[r.messages.length - 1]).includes('You have not called submit_manifest yet'),
    )!;
    expect(after).toBeDefined();
    expect(after.messages.every((m) => typeof m.content === 'string' || (m.content as unknown[]).length > 0)).toBe(
      true,
    );
  });

  /** A model that reads a large file turn after turn, then gives up with a failed manifest. */
  const reader =
    (reads: number): ScriptedModel =>
    (req) => {
      const turn = turnOf(req);
      if (turn === 0)
        return {
          content: [
            { type: 'tool_use', name: 'write_file', input: { path: 'pipeline/big.txt', content: 'b'.repeat(9000) } },
          ],
        };
      if (turn <= reads)
        return { content: [{ type: 'tool_use', name: 'read_file', input: { path: 'pipeline/big.txt' } }] };
      return {
        content: [
          {
            type: 'tool_use',
            name: 'submit_manifest',
            input: { status: 'failed', hypothesis: 'reading only', reason: 'nothing to evaluate' },
          },
        ],
      };
    };

  it('clears old tool results when the counted prompt passes the threshold, so the context stays inside the window', async () => {
    await serve(reader(10), { contextWindowTokens: 12_000 });
    const { out, fork } = await run(13, agent({ context: { clearAtTokens: 8_000, keepRecentTurns: 2 } }));
    expect(out.manifest!.hypothesis).toBe('reading only');
    expect(server!.refused).toEqual([]);
    expect(
      server!.requests.some((r) => JSON.stringify(r.messages).includes('[cleared to keep the context bounded')),
    ).toBe(true);
    const counted = llmSteps(await stream(fork.candidateId)).map((e) => outputOf(e).countedTokens!);
    expect(Math.max(...counted)).toBeLessThan(12_000);
  });

  it('handles a context-window error: clears old tool results and asks again', async () => {
    await serve(reader(10), { contextWindowTokens: 12_000 });
    const { out, fork } = await run(14, agent({ countTokens: false }));
    expect(out.manifest!.hypothesis).toBe('reading only');
    expect(server!.refused.some((r) => /prompt is too long/.test(r.message))).toBe(true);
    const retried = llmSteps(await stream(fork.candidateId))
      .map(outputOf)
      .filter((o) => o.retriedStops.some((s) => s.startsWith('prompt too long')));
    expect(retried.length).toBeGreaterThan(0);
  });

  it('ends cleanly with a context-window failure when even the cleared prompt does not fit', async () => {
    await serve(reader(2), { contextWindowTokens: 1_000 });
    const { out } = await run(15, agent({ countTokens: false }));
    expect(out.kind).toBe('failed');
    expect(out.manifest!.failureModes).toEqual([
      expect.objectContaining({ kind: 'agent-error', detail: expect.stringContaining('context window was exceeded') }),
    ]);
  });

  class Crash extends Error {}
  const crashAt = (llmOutcome: number) => {
    let seen = 0;
    return {
      hooks: {
        afterAppend: ({ lastEvent }: { lastEvent: EventEnvelope }) => {
          const d = lastEvent.data as { tool?: string; phase?: string };
          if (
            lastEvent.type === 'TraceStepRecorded' &&
            d.tool === 'llm' &&
            d.phase === 'outcome' &&
            ++seen === llmOutcome
          )
            throw new Crash('killed');
        },
      },
    };
  };

  it('resumes from the trace without asking the model again for recorded turns', async () => {
    await serve(learningRateModel());
    await expect(run(16, agent(), crashAt(3))).rejects.toBeInstanceOf(Crash);
    expect(server!.served).toBe(3);
    const { out, fork } = await run(16, agent(), {}, 'w2');
    expect(out.kind).toBe('submitted');
    const events = await stream(fork.candidateId);
    expect(llmSteps(events)).toHaveLength(server!.served);
    expect(foldTrace(events).starts).toBe(2);
    expect(events.filter((e) => e.type === 'ManifestSubmitted')).toHaveLength(1);
  });

  it('refuses to resume when the request would differ from the recorded one (changed prompt)', async () => {
    await serve(learningRateModel());
    await expect(run(17, agent(), crashAt(2))).rejects.toBeInstanceOf(Crash);
    const { out } = await run(17, agent({ constitutionExcerpt: `${CONSTITUTION} (amended)` }), {}, 'w2');
    expect(out.kind).toBe('failed');
    expect(out.manifest!.failureModes[0].detail).toMatch(
      /model request of trace step \d+ differs from the recorded one .*prompts or the tools changed/,
    );
    expect(server!.served).toBe(2);
  });

  it('a crash after the token budget was spent resumes to the same outcome', async () => {
    // Reads only (no jobs), so both candidates see the same tool results and spend the same tokens.
    await serve(reader(30));
    const budget = { maxTokens: 12_000 };
    const reference = await run(18, agent(), { budget });
    const refLlm = llmSteps(await stream(reference.fork.candidateId)).length;
    expect(reference.out.manifest!.failureModes.map((f) => f.kind)).toEqual(['budget-exhausted']);
    // A fresh server (an empty cache) for the crashed candidate, so that it pays what the reference paid.
    await server!.close();
    await serve(reader(30));
    await expect(run(19, agent(), { budget, ...crashAt(refLlm) })).rejects.toBeInstanceOf(Crash);
    expect(server!.served).toBe(refLlm);
    const resumed = await run(19, agent(), { budget }, 'w2');
    expect(server!.served).toBe(refLlm); // nothing asked again
    expect(resumed.out.kind).toBe(reference.out.kind);
    const strip = (m: ResultManifest) => m.failureModes.map((f) => ({ kind: f.kind, detail: f.detail }));
    expect(strip(resumed.out.manifest!)).toEqual(strip(reference.out.manifest!));
    expect(resumed.out.manifest!.cost).toEqual(reference.out.manifest!.cost);
  });

  it('refuses a retired or unknown model when the agent is made', () => {
    server = null;
    const client = new Anthropic({ apiKey: 'k', baseURL: 'http://127.0.0.1:9' });
    expect(() => new ClaudeAgent({ client, model: 'claude-sonnet-4-5', constitutionExcerpt: 'c' })).toThrow(
      /claude-sonnet-4-5 was retired on 2026-11-30/,
    );
    expect(() => new ClaudeAgent({ client, model: 'claude-test-1', constitutionExcerpt: 'c' })).toThrow(
      /unknown Claude model "claude-test-1"/,
    );
  });

  it('given a policy with search hints, when the first prompt is written, then it shows them; without hints, the prompt says nothing of them', async () => {
    await serve(learningRateModel());
    const searchHints = {
      maxKnobsPerMove: 2,
      directions: [{ path: 'train.lr', direction: 'increase' as const, paidRounds: [2], stepScale: 2 }],
    };
    const hinted = h.fork(1, 40, { axis: 'learning-rate' });
    const rt = await WorkerRuntime.open(
      { fork: hinted, policy: fixturePolicy(h.substrateDir, { searchHints }) },
      { ...h.config(), agentKind: 'claude' },
      h.ports(hinted.candidateId),
    );
    const prompt = agent().initialPrompt(rt);
    expect(prompt).toContain('"searchHints"');
    expect(prompt).toContain('up to 2 settings on distinct paths');
    const plain = h.fork(1, 41, { axis: 'learning-rate' });
    const rt2 = await WorkerRuntime.open(
      { fork: plain, policy: fixturePolicy(h.substrateDir) },
      { ...h.config(), agentKind: 'claude' },
      h.ports(plain.candidateId),
    );
    expect(agent().initialPrompt(rt2)).not.toMatch(/searchHints|Search hints/);
  });
});
