import Anthropic from '@anthropic-ai/sdk';
import type { EventEnvelope } from '@aevo/contracts';
import { ClaudeAgent, candidateStreamId, runCandidate, type RecordedResponse } from '../src';
import {
  scriptedCandidateModel,
  startAnthropicLoopback,
  type LoopbackOptions,
  type LoopbackServer,
  type ScriptedModel,
  type ScriptedReply,
} from '../src/testing/anthropic-loopback';
import { createHarness, fixturePolicy, type Harness } from './harness';

export const CONSTITUTION = 'CONSTITUTION v1: the leaderboard is authoritative; the dead-end registry only grows.';
export const MODEL = 'claude-sonnet-5-5';

export const learningRateModel = () =>
  scriptedCandidateModel({ settings: [{ path: 'train.lr', value: 0.002 }], tryEscape: true });
export const turnOf = (req: { messages: Array<{ role: string }> }): number =>
  req.messages.filter((m) => m.role === 'assistant').length;

/** A model that writes a 9,000-character file, reads it `reads` times, then submits a failed manifest. */
export const reader =
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

/**
 * The Claude specs' world, registered with the suite's hooks: a harness, one loopback server per test, simulated
 * time (the agent's retry waits advance it instantly; the fake's cache TTLs read it too), and the helpers.
 */
export function useClaudeWorld() {
  const w = {
    h: undefined as unknown as Harness,
    server: null as LoopbackServer | null,
    clock: { t: 0, sleeps: [] as number[] },
  };
  beforeAll(async () => {
    w.h = await createHarness();
  });
  beforeEach(() => {
    w.clock = { t: 1_000_000, sleeps: [] };
  });
  afterEach(async () => {
    await w.server?.close();
    w.server = null;
  });
  afterAll(async () => {
    await w.h?.close();
  });
  const serve = async (model: ScriptedModel, opts: LoopbackOptions = {}) =>
    (w.server = await startAnthropicLoopback(model, { now: () => w.clock.t, ...opts }));
  const agent = (opts: Partial<ConstructorParameters<typeof ClaudeAgent>[0]> = {}, sdkRetries = 0) =>
    new ClaudeAgent({
      client: new Anthropic({ apiKey: 'test-key', baseURL: w.server!.url, maxRetries: sdkRetries }),
      model: MODEL,
      constitutionExcerpt: CONSTITUTION,
      sleep: async (ms) => {
        w.clock.sleeps.push(ms);
        w.clock.t += ms;
      },
      now: () => w.clock.t,
      random: () => 0.5,
      ...opts,
    });
  const stream = (id: string): Promise<EventEnvelope[]> => w.h.store.readStream(candidateStreamId(id));
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
    const fork = w.h.fork(1, index, { axis: 'learning-rate' });
    return runCandidate(
      { fork, policy: fixturePolicy(w.h.substrateDir) },
      { ...w.h.config(workerId), agentKind: 'claude' },
      w.h.ports(fork.candidateId),
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

  return { w, serve, agent, stream, llmSteps, outputOf, toolSteps, run, withFault };
}
