import Anthropic from '@anthropic-ai/sdk';
import { ResultManifest, type EventEnvelope } from '@aevo/contracts';
import { ClaudeAgent, WorkerRuntime, candidateStreamId, foldTrace, runCandidate } from '../src';
import { scriptedCandidateModel, startAnthropicLoopback, type LoopbackServer } from '../src/testing/anthropic-loopback';
import { createHarness, fixturePolicy, type Harness } from './harness';

jest.setTimeout(120_000);

const CONSTITUTION = 'CONSTITUTION v1: the leaderboard is authoritative; the dead-end registry only grows.';

const learningRateModel = () => scriptedCandidateModel({ settings: [{ path: 'train.lr', value: 0.002 }], tryEscape: true });

describe('Claude worker against a loopback Messages API server (real SDK)', () => {
  let h: Harness;
  let server: LoopbackServer | null = null;
  beforeAll(async () => {
    h = await createHarness();
  });
  afterEach(async () => {
    await server?.close();
    server = null;
  });
  afterAll(async () => {
    await h?.close();
  });

  const agent = (opts: Partial<ConstructorParameters<typeof ClaudeAgent>[0]> = {}) =>
    new ClaudeAgent({
      client: new Anthropic({ apiKey: 'test-key', baseURL: server!.url, maxRetries: 0 }),
      model: 'claude-test-1',
      constitutionExcerpt: CONSTITUTION,
      baseDelayMs: 1,
      maxDelayMs: 5,
      ...opts,
    });
  const stream = (id: string): Promise<EventEnvelope[]> => h.store.readStream(candidateStreamId(id));
  const llmSteps = (events: EventEnvelope[]) =>
    events.filter((e) => e.type === 'TraceStepRecorded' && (e.data as { tool: string; phase: string }).tool === 'llm' && (e.data as { phase: string }).phase === 'outcome');

  it('completes a candidate through real tool-use turns, with the constitution as a cached system block', async () => {
    server = await startAnthropicLoopback(learningRateModel());
    const fork = h.fork(1, 1, { axis: 'learning-rate' });
    const out = await runCandidate({ fork, policy: fixturePolicy(h.substrateDir) }, { ...h.config(), agentKind: 'claude' }, h.ports(fork.candidateId), agent());
    expect(out.kind).toBe('submitted');
    const m = ResultManifest.parse(out.manifest);
    expect(m.agentKind).toBe('claude');
    expect(m.recipeChanges).toEqual([{ path: 'train.lr', from: 0.003, to: 0.002 }]);
    expect(m.failureModes.filter((f) => f.kind === 'path-refused')).toHaveLength(1);
    expect(m.checkpoints.length).toBe(3);
    expect(m.cost.inputTokens).toBeGreaterThan(0);
    expect(m.cost.outputTokens).toBeGreaterThan(0);
    // every request carried the cached constitution block, the tools and the policy/axis prompt
    for (const r of server.requests) {
      expect(Array.isArray(r.system) && r.system[0]).toMatchObject({ text: CONSTITUTION, cache_control: { type: 'ephemeral' } });
      expect(r.tools!.map((t) => t.name).sort()).toEqual(
        ['evaluate_checkpoints', 'launch_training', 'list_files', 'poll_job', 'preview_data', 'read_file', 'read_log_tail', 'set_recipe', 'submit_manifest', 'write_file'].sort(),
      );
      expect(r.messages[0].content).toContain('Your axis: learning-rate');
      expect(r.messages[0].content).toContain('"objective": "raise-dev-and-lb"');
    }
    // the refused write came back to the model as an error tool_result
    const refused = server.requests.flatMap((r) => r.messages).flatMap((msg) => (Array.isArray(msg.content) ? (msg.content as Array<Record<string, unknown>>) : []));
    expect(refused.some((b) => b.type === 'tool_result' && b.is_error === true && String(b.content).includes('PATH_REFUSED'))).toBe(true);
    // each request's model, usage and stop reason is in the trace
    const events = await stream(fork.candidateId);
    const llm = llmSteps(events);
    expect(llm).toHaveLength(server.served);
    for (const e of llm) expect((e.data as { llm: unknown }).llm).toMatchObject({ model: 'claude-test-1', stopReason: 'tool_use' });
    expect(llm.slice(1).every((e) => (e.data as { llm: { cacheReadTokens: number } }).llm.cacheReadTokens > 0)).toBe(true);
  });

  it('stops cleanly when its token budget is spent: no further request, a failed manifest, WorkerFailed', async () => {
    server = await startAnthropicLoopback(learningRateModel());
    const fork = h.fork(1, 2, { axis: 'learning-rate' });
    const out = await runCandidate({ fork, policy: fixturePolicy(h.substrateDir) }, h.config(), h.ports(fork.candidateId), agent(), { budget: { maxTokens: 9000 } });
    expect(out.kind).toBe('failed');
    const m = ResultManifest.parse(out.manifest);
    expect(m.status).toBe('failed');
    expect(m.failureModes.map((f) => f.kind)).toContain('budget-exhausted');
    expect(m.cost.inputTokens + m.cost.outputTokens).toBeGreaterThanOrEqual(9000);
    const events = await stream(fork.candidateId);
    expect(events.filter((e) => e.type === 'WorkerFailed')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'ManifestSubmitted')).toHaveLength(1);
    expect(llmSteps(events)).toHaveLength(server.requests.length);
    expect(server.requests.length).toBeLessThan(6);
  });

  it('stops cleanly on its tool-call budget too', async () => {
    server = await startAnthropicLoopback(learningRateModel());
    const fork = h.fork(1, 3, { axis: 'learning-rate' });
    const out = await runCandidate({ fork, policy: fixturePolicy(h.substrateDir) }, h.config(), h.ports(fork.candidateId), agent(), { budget: { maxToolCalls: 4 } });
    expect(out.kind).toBe('failed');
    expect(out.manifest!.failureModes.map((f) => f.kind)).toContain('budget-exhausted');
    expect(out.manifest!.cost.toolCalls).toBeLessThanOrEqual(5);
  });

  it('retries 529 and 500 answers with backoff, then goes on', async () => {
    const inner = learningRateModel();
    server = await startAnthropicLoopback((req, n) => {
      if (n === 1) return { error: { status: 529, type: 'overloaded_error', message: 'Overloaded' } };
      if (n === 2) return { error: { status: 500, type: 'api_error', message: 'Internal server error' } };
      return inner(req, n);
    });
    const fork = h.fork(1, 4, { axis: 'learning-rate' });
    const out = await runCandidate({ fork, policy: fixturePolicy(h.substrateDir) }, h.config(), h.ports(fork.candidateId), agent());
    expect(out.kind).toBe('submitted');
    const first = llmSteps(await stream(fork.candidateId))[0].data as { output: { attempts: number; errors: string[] } };
    expect(first.output.attempts).toBe(3);
    expect(first.output.errors[0]).toMatch(/^529/);
    expect(first.output.errors[1]).toMatch(/^500/);
  });

  it('fails the candidate cleanly when the API keeps failing: WorkerFailed and a failed manifest', async () => {
    server = await startAnthropicLoopback(() => ({ error: { status: 529, type: 'overloaded_error', message: 'Overloaded' } }));
    const fork = h.fork(1, 5, { axis: 'learning-rate' });
    const out = await runCandidate({ fork, policy: fixturePolicy(h.substrateDir) }, h.config(), h.ports(fork.candidateId), agent({ maxAttempts: 3 }));
    expect(out.kind).toBe('failed');
    expect(server.requests).toHaveLength(3);
    const m = out.manifest!;
    expect(m.status).toBe('failed');
    expect(m.failureModes).toEqual([expect.objectContaining({ kind: 'agent-error', detail: expect.stringMatching(/Claude API: 529/) })]);
    const events = await stream(fork.candidateId);
    expect(events.map((e) => e.type).slice(-2)).toEqual(['WorkerFailed', 'ManifestSubmitted']);
  });

  it('a client error (400) is not retried', async () => {
    server = await startAnthropicLoopback(() => ({ error: { status: 400, type: 'invalid_request_error', message: 'bad' } }));
    const fork = h.fork(1, 6, { axis: 'learning-rate' });
    const out = await runCandidate({ fork, policy: fixturePolicy(h.substrateDir) }, h.config(), h.ports(fork.candidateId), agent());
    expect(out.kind).toBe('failed');
    expect(server.requests).toHaveLength(1);
  });

  it('resumes from the trace without asking the model again for recorded turns', async () => {
    server = await startAnthropicLoopback(learningRateModel());
    const fork = h.fork(1, 7, { axis: 'learning-rate' });
    const policy = fixturePolicy(h.substrateDir);
    class Crash extends Error {}
    let llmOutcomes = 0;
    await expect(
      runCandidate({ fork, policy }, h.config(), h.ports(fork.candidateId), agent(), {
        hooks: {
          afterAppend: ({ lastEvent }) => {
            const d = lastEvent.data as { tool?: string; phase?: string };
            if (lastEvent.type === 'TraceStepRecorded' && d.tool === 'llm' && d.phase === 'outcome' && ++llmOutcomes === 3) throw new Crash('killed');
          },
        },
      }),
    ).rejects.toBeInstanceOf(Crash);
    expect(server.served).toBe(3);
    const out = await runCandidate({ fork, policy }, h.config('w2'), h.ports(fork.candidateId), agent());
    expect(out.kind).toBe('submitted');
    const events = await stream(fork.candidateId);
    expect(llmSteps(events)).toHaveLength(server.served);
    expect(foldTrace(events).starts).toBe(2);
    expect(events.filter((e) => e.type === 'ManifestSubmitted')).toHaveLength(1);
  });

  it('given a policy with search hints, when the first prompt is written, then it shows them; without hints, the prompt says nothing of them', async () => {
    server = await startAnthropicLoopback(learningRateModel());
    const searchHints = { maxKnobsPerMove: 2, directions: [{ path: 'train.lr', direction: 'increase' as const, paidRounds: [2], stepScale: 2 }] };
    const hinted = h.fork(1, 40, { axis: 'learning-rate' });
    const rt = await WorkerRuntime.open({ fork: hinted, policy: fixturePolicy(h.substrateDir, { searchHints }) }, { ...h.config(), agentKind: 'claude' }, h.ports(hinted.candidateId));
    const prompt = agent().initialPrompt(rt);
    expect(prompt).toContain('"searchHints"');
    expect(prompt).toContain('up to 2 settings on distinct paths');
    const plain = h.fork(1, 41, { axis: 'learning-rate' });
    const rt2 = await WorkerRuntime.open({ fork: plain, policy: fixturePolicy(h.substrateDir) }, { ...h.config(), agentKind: 'claude' }, h.ports(plain.candidateId));
    expect(agent().initialPrompt(rt2)).not.toMatch(/searchHints|Search hints/);
  });
});
