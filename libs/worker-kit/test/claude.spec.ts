import { ResultManifest, canonicalJson, sha256Hex } from '@aevo/contracts';
import { defaultWorkerBrief } from '../src';
import { apiErrors, lastToolResults } from '../src/testing/anthropic-loopback';
import { CONSTITUTION, MODEL, learningRateModel, turnOf, useClaudeWorld } from './claude-world';

jest.setTimeout(120_000);

describe('Claude worker against the strict loopback Messages API (real SDK): completion, budgets, retries', () => {
  const { w, serve, agent, stream, llmSteps, outputOf, run, withFault } = useClaudeWorld();

  it(
    'completes a candidate; tools+system and the conversation are cached with a ' +
      '1h TTL; each request is recorded with its prompt hash',
    async () => {
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
      expect((w.server!.requests[0].system as Array<{ text: string }>).map((b) => b.text)).toEqual([
        CONSTITUTION,
        brief.text,
      ]);
      const started = (await stream(fork.candidateId)).find((e) => e.type === 'WorkerStarted');
      expect(started?.data).toMatchObject({
        agentKind: 'claude',
        brief: { source: 'default', path: brief.path, sha256: brief.sha256 },
      });
      for (const r of w.server!.requests) {
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
      expect(w.server!.countRequests.length).toBe(w.server!.requests.length); // counted before each request
      const refused = w
        .server!.requests.flatMap((r) => r.messages)
        .flatMap((msg) => (Array.isArray(msg.content) ? (msg.content as Array<Record<string, unknown>>) : []));
      expect(
        refused.some(
          (b) => b.type === 'tool_result' && b.is_error === true && String(b.content).includes('PATH_REFUSED'),
        ),
      ).toBe(true);
      const llm = llmSteps(await stream(fork.candidateId));
      expect(llm).toHaveLength(w.server!.served);
      llm.forEach((e, i) => {
        expect((e.data as { llm: unknown }).llm).toMatchObject({ model: MODEL, stopReason: 'tool_use' });
        // the recorded hash is the hash of what the API received
        const r = w.server!.requests[i];
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
    },
  );

  it(
    'stops cleanly when its token budget (cache reads and writes ' +
      'included) is spent: a failed manifest, WorkerFailed',
    async () => {
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
      expect(llmSteps(events)).toHaveLength(w.server!.requests.length);
      expect(w.server!.requests.length).toBeLessThan(6);
    },
  );

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
        stormFrom ??= w.clock.t;
        return w.clock.t - stormFrom < 90_000 ? apiErrors.rateLimited(20) : null;
      }),
    );
    const { out, fork } = await run(4, agent());
    expect(out.kind).toBe('submitted');
    const stormStep = llmSteps(await stream(fork.candidateId))
      .map(outputOf)
      .find((o) => o.errors.length > 0)!;
    expect(stormStep.errors.every((e) => e.startsWith('429'))).toBe(true);
    expect(stormStep.attempts).toBe(6); // 5 refusals 20 s (+ jitter) apart cover 90 s, the 6th goes through
    expect(w.clock.sleeps).toHaveLength(5);
    for (const ms of w.clock.sleeps) expect(ms).toBeGreaterThanOrEqual(20_000);
    expect(w.clock.sleeps.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(90_000);
  });

  it('retries a 529 and a 500 with jittered backoff, then goes on', async () => {
    await serve(withFault((_req, n) => (n === 1 ? apiErrors.overloaded() : n === 2 ? apiErrors.internal() : null)));
    const { out, fork } = await run(5, agent({ retry: { baseDelayMs: 1000, maxDelayMs: 60_000 } }));
    expect(out.kind).toBe('submitted');
    const first = outputOf(llmSteps(await stream(fork.candidateId))[0]);
    expect(first.attempts).toBe(3);
    expect(first.errors[0]).toMatch(/^529/);
    expect(first.errors[1]).toMatch(/^500/);
    expect(w.clock.sleeps).toEqual([750, 1500]); // half of the backoff plus a random half of it (random = 0.5)
  });

  it("lets the SDK's own retry honour retry-after inside one attempt", async () => {
    await serve(withFault((_req, n) => (n === 1 ? apiErrors.rateLimited(1) : null)));
    const started = Date.now();
    const { out, fork } = await run(6, agent({}, 2));
    expect(out.kind).toBe('submitted');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    const first = outputOf(llmSteps(await stream(fork.candidateId))[0]);
    expect(first.attempts).toBe(1); // the SDK retried; the worker saw one attempt
    expect(w.server!.refused[0]).toMatchObject({ status: 429 });
    expect(w.clock.sleeps).toEqual([]);
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
    expect(w.clock.sleeps.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(10 * 60_000);
    expect(w.clock.sleeps.length).toBeGreaterThan(5);
    expect((await stream(fork.candidateId)).filter((e) => e.type === 'ManifestSubmitted')).toHaveLength(1);
  });

  it(
    'does not wait out a storm once its campaign is stopped: the ' +
      'in-flight step is abandoned and the candidate ends',
    async () => {
      await serve(withFault((req) => (turnOf(req) === 1 ? apiErrors.rateLimited(60) : null)));
      const { out, fork } = await run(21, agent(), {
        hooks: { stopRequested: () => (w.server!.refused.length > 0 ? 'campaign aborted: operator stop' : null) },
      });
      expect(out.kind).toBe('failed');
      expect(out.manifest!.failureModes.map((f) => f.detail)).toContain('campaign aborted: operator stop');
      expect(w.clock.sleeps).toEqual([]);
      expect(w.server!.refused).toHaveLength(1);
      const last = llmSteps(await stream(fork.candidateId)).pop()!.data as {
        ok: boolean;
        output: { error: { code: string } };
      };
      expect(last).toMatchObject({ ok: false, output: { error: { code: 'ABANDONED' } } });
    },
  );

  it('a client error (400) is not retried and fails a candidate that evaluated nothing', async () => {
    await serve(() => ({ error: { status: 400, type: 'invalid_request_error', message: 'bad' } }));
    const { out, fork } = await run(8, agent());
    expect(out.kind).toBe('failed');
    expect(w.server!.requests).toHaveLength(1);
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
    expect(w.server!.requests).toHaveLength(2);
    const llm = llmSteps(await stream(fork.candidateId));
    expect((llm[1].data as { llm: { stopReason: string } }).llm.stopReason).toBe('refusal');
  });
});
