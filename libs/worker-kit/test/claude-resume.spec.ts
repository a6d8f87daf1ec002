import Anthropic from '@anthropic-ai/sdk';
import { ResultManifest, type EventEnvelope } from '@aevo/contracts';
import { ClaudeAgent, WorkerRuntime, foldTrace } from '../src';
import { fixturePolicy } from './harness';
import { CONSTITUTION, learningRateModel, reader, useClaudeWorld } from './claude-world';

jest.setTimeout(120_000);

describe('Claude worker (real SDK, loopback API): resume from the trace, models, the first prompt', () => {
  const { w, serve, agent, stream, llmSteps, run } = useClaudeWorld();

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
    expect(w.server!.served).toBe(3);
    const { out, fork } = await run(16, agent(), {}, 'w2');
    expect(out.kind).toBe('submitted');
    const events = await stream(fork.candidateId);
    expect(llmSteps(events)).toHaveLength(w.server!.served);
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
    expect(w.server!.served).toBe(2);
  });

  it('a crash after the token budget was spent resumes to the same outcome', async () => {
    // Reads only (no jobs), so both candidates see the same tool results and spend the same tokens.
    await serve(reader(30));
    const budget = { maxTokens: 12_000 };
    const reference = await run(18, agent(), { budget });
    const refLlm = llmSteps(await stream(reference.fork.candidateId)).length;
    expect(reference.out.manifest!.failureModes.map((f) => f.kind)).toEqual(['budget-exhausted']);
    // A fresh server (an empty cache) for the crashed candidate, so that it pays what the reference paid.
    await w.server!.close();
    await serve(reader(30));
    await expect(run(19, agent(), { budget, ...crashAt(refLlm) })).rejects.toBeInstanceOf(Crash);
    expect(w.server!.served).toBe(refLlm);
    const resumed = await run(19, agent(), { budget }, 'w2');
    expect(w.server!.served).toBe(refLlm); // nothing asked again
    expect(resumed.out.kind).toBe(reference.out.kind);
    const strip = (m: ResultManifest) => m.failureModes.map((f) => ({ kind: f.kind, detail: f.detail }));
    expect(strip(resumed.out.manifest!)).toEqual(strip(reference.out.manifest!));
    expect(resumed.out.manifest!.cost).toEqual(reference.out.manifest!.cost);
  });

  it('refuses a retired or unknown model when the agent is made', () => {
    w.server = null;
    const client = new Anthropic({ apiKey: 'k', baseURL: 'http://127.0.0.1:9' });
    expect(() => new ClaudeAgent({ client, model: 'claude-sonnet-4-5', constitutionExcerpt: 'c' })).toThrow(
      /claude-sonnet-4-5 was retired on 2026-11-30/,
    );
    expect(() => new ClaudeAgent({ client, model: 'claude-test-1', constitutionExcerpt: 'c' })).toThrow(
      /unknown Claude model "claude-test-1"/,
    );
  });

  it(
    'given a policy with search hints, when the first prompt is written, then it ' +
      'shows them; without hints, the prompt says nothing of them',
    async () => {
      await serve(learningRateModel());
      const searchHints = {
        maxKnobsPerMove: 2,
        directions: [{ path: 'train.lr', direction: 'increase' as const, paidRounds: [2], stepScale: 2 }],
      };
      const hinted = w.h.fork(1, 40, { axis: 'learning-rate' });
      const rt = await WorkerRuntime.open(
        { fork: hinted, policy: fixturePolicy(w.h.substrateDir, { searchHints }) },
        { ...w.h.config(), agentKind: 'claude' },
        w.h.ports(hinted.candidateId),
      );
      const prompt = agent().initialPrompt(rt);
      expect(prompt).toContain('"searchHints"');
      expect(prompt).toContain('up to 2 settings on distinct paths');
      const plain = w.h.fork(1, 41, { axis: 'learning-rate' });
      const rt2 = await WorkerRuntime.open(
        { fork: plain, policy: fixturePolicy(w.h.substrateDir) },
        { ...w.h.config(), agentKind: 'claude' },
        w.h.ports(plain.candidateId),
      );
      expect(agent().initialPrompt(rt2)).not.toMatch(/searchHints|Search hints/);
    },
  );
});
