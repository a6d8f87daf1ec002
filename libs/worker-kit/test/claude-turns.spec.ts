import { reader, turnOf, useClaudeWorld } from './claude-world';

jest.setTimeout(120_000);

describe('Claude worker (real SDK, loopback API): turns cut at max_tokens, empty turns, the context window', () => {
  const { w, serve, agent, stream, llmSteps, outputOf, toolSteps, run, withFault } = useClaudeWorld();

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
    const toolResults = w
      .server!.requests.flatMap((r) => r.messages)
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
    expect(w.server!.requests.filter((r) => r.stream === true).map((r) => r.max_tokens)).toEqual([32_000]);
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
    expect(w.server!.refused).toEqual([]);
    const after = w.server!.requests.find((r) =>
      JSON.stringify(r.messages[r.messages.length - 1]).includes('You have not called submit_manifest yet'),
    )!;
    expect(after).toBeDefined();
    expect(after.messages.every((m) => typeof m.content === 'string' || (m.content as unknown[]).length > 0)).toBe(
      true,
    );
  });

  /** A model that reads a large file turn after turn, then gives up with a failed manifest. */
  it(
    'clears old tool results when the counted prompt passes the ' + 'threshold, so the context stays inside the window',
    async () => {
      await serve(reader(10), { contextWindowTokens: 12_000 });
      const { out, fork } = await run(13, agent({ context: { clearAtTokens: 8_000, keepRecentTurns: 2 } }));
      expect(out.manifest!.hypothesis).toBe('reading only');
      expect(w.server!.refused).toEqual([]);
      expect(
        w.server!.requests.some((r) => JSON.stringify(r.messages).includes('[cleared to keep the context bounded')),
      ).toBe(true);
      const counted = llmSteps(await stream(fork.candidateId)).map((e) => outputOf(e).countedTokens!);
      expect(Math.max(...counted)).toBeLessThan(12_000);
    },
  );

  it('handles a context-window error: clears old tool results and asks again', async () => {
    await serve(reader(10), { contextWindowTokens: 12_000 });
    const { out, fork } = await run(14, agent({ countTokens: false }));
    expect(out.manifest!.hypothesis).toBe('reading only');
    expect(w.server!.refused.some((r) => /prompt is too long/.test(r.message))).toBe(true);
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
});
