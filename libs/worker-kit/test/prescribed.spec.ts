import Anthropic from '@anthropic-ai/sdk';
import { ResultManifest, type EventEnvelope, type PrescribedRun } from '@aevo/contracts';
import { ClaudeAgent, HeuristicAgent, WorkerRuntime, candidateStreamId, runCandidate, type WorkerAgent } from '../src';
import { startAnthropicLoopback, type LoopbackServer } from '../src/testing/anthropic-loopback';
import { createHarness, fixturePolicy, type Harness } from './harness';

jest.setTimeout(120_000);

/**
 * Prescribed runs (confirmation runs and decoupling probes): the policy, not an agent, chooses the change, so
 * every worker applies exactly `prescribed.changes` on the deterministic path, spends no model tokens, trains
 * every seed and submits `prescribed.hypothesis`.
 */
describe('prescribed runs (real PostgreSQL, local executor)', () => {
  let h: Harness;
  let server: LoopbackServer;
  beforeAll(async () => {
    h = await createHarness();
    // A model that must never be asked: any request it gets is a failure of the routing.
    server = await startAnthropicLoopback(() => ({
      content: [{ type: 'text', text: 'I should not have been asked.' }],
      stop_reason: 'end_turn',
    }));
  });
  afterAll(async () => {
    await server?.close();
    await h?.close();
  });

  const stream = (id: string): Promise<EventEnvelope[]> => h.store.readStream(candidateStreamId(id));
  const claude = () =>
    new ClaudeAgent({
      client: new Anthropic({ apiKey: 'test-key', baseURL: server.url, maxRetries: 0 }),
      model: 'claude-sonnet-5-5',
      constitutionExcerpt: 'CONSTITUTION',
      retry: { baseDelayMs: 1, maxDelayMs: 5 },
    });
  const confirmation: PrescribedRun = {
    kind: 'confirmation',
    of: 'camp1-r1-c3',
    changes: [
      { path: 'train.lr', from: 0.003, to: 0.0045 },
      { path: 'data.mix.equation', from: 1, to: 2 },
    ],
    hypothesis:
      'confirmation of camp1-r1-c3: lr 0.003 → 0.0045 with equation up-weighted 1 → 2 gained on the LB; ' +
      're-measured on another training seed',
  };
  const trains = (events: EventEnvelope[]) =>
    events.filter(
      (e) => e.type === 'JobRequested' && (e.data as { spec: { entrypoint: string } }).spec.entrypoint === 'train',
    );
  const llmSteps = (events: EventEnvelope[]) =>
    events.filter((e) => e.type === 'TraceStepRecorded' && (e.data as { tool: string }).tool === 'llm');

  it.each([
    ['heuristic', 1, () => new HeuristicAgent() as WorkerAgent],
    ['Claude', 2, () => claude() as WorkerAgent],
  ])(
    'given a %s worker and a confirmation fork over two seeds, when it runs, then it applies exactly the ' +
      'prescribed changes, trains both seeds, spends no tokens and records the hypothesis',
    async (_kind, index, make) => {
      const requestsBefore = server.requests.length;
      const fork = h.fork(2, index as number, { axis: 'learning-rate', seeds: [3, 4], prescribed: confirmation });
      const out = await runCandidate(
        { fork, policy: fixturePolicy(h.substrateDir) },
        h.config(),
        h.ports(fork.candidateId),
        (make as () => WorkerAgent)(),
      );
      expect(out.kind).toBe('submitted');
      const m = ResultManifest.parse(out.manifest);
      expect(m.status).toBe('completed');
      expect(m.hypothesis).toBe(confirmation.hypothesis);
      expect(m.recipeChanges).toEqual([...confirmation.changes].sort((a, b) => a.path.localeCompare(b.path)));
      expect(m.filesChanged).toEqual(['recipe.yaml']);
      expect(new Set(m.checkpoints.map((c) => c.seed))).toEqual(new Set([3, 4]));
      expect(m.chosenCheckpoint?.reason).toMatch(
        /^prescribed confirmation of camp1-r1-c3: the best of the evaluation service’s selections over the seeds/,
      );
      expect(m.cost).toMatchObject({ inputTokens: 0, outputTokens: 0 });
      expect(m.agentKind).toBe('heuristic');
      const events = await stream(fork.candidateId);
      expect(llmSteps(events)).toHaveLength(0);
      expect(server.requests.length).toBe(requestsBefore);
      expect(trains(events)).toHaveLength(2);
      const changed = events.filter((e) => e.type === 'RecipeChanged');
      expect(changed).toHaveLength(1);
      expect((changed[0].data as { changes: unknown }).changes).toEqual(m.recipeChanges);
      // applied through set_recipe, exactly the prescribed settings, and no anchor or dead-end warning
      const set = events.filter(
        (e) => e.type === 'TraceStepRecorded' && (e.data as { tool: string }).tool === 'set_recipe',
      );
      expect(set.map((e) => (e.data as { phase: string }).phase)).toEqual(['intent', 'outcome']);
      expect((set[0].data as { input: unknown }).input).toEqual({
        settings: confirmation.changes.map((c) => ({ path: c.path, value: c.to })),
      });
      expect((set[1].data as { output: { warnings: string[] } }).output.warnings).toEqual([]);
    },
  );

  it(
    'given a Claude agent driven directly (not through runCandidate), when the fork ' +
      'is prescribed, then it still asks the model nothing',
    async () => {
      const requestsBefore = server.requests.length;
      const fork = h.fork(2, 3, {
        axis: 'data-mix',
        seeds: [5],
        prescribed: {
          kind: 'probe',
          of: 'dh-2-equation',
          role: 'down-weight',
          changes: [{ path: 'data.mix.equation', from: 1, to: 0.5 }],
          hypothesis: 'probe: down-weighting equation should lower its dev score without hurting the LB',
        },
      });
      const rt = await WorkerRuntime.open(
        { fork, policy: fixturePolicy(h.substrateDir) },
        { ...h.config(), agentKind: 'claude' },
        h.ports(fork.candidateId),
      );
      await claude().run(rt);
      const f = rt.finished;
      expect(f?.kind).toBe('submitted');
      const m = (f as { manifest: ResultManifest }).manifest;
      expect(m.status).toBe('completed');
      expect(m.recipeChanges).toEqual([{ path: 'data.mix.equation', from: 1, to: 0.5 }]);
      expect(m.hypothesis).toBe('probe: down-weighting equation should lower its dev score without hurting the LB');
      // one seed: the evaluation service's selection on it is the pick
      expect(m.chosenCheckpoint?.reason).toMatch(
        /^prescribed probe of dh-2-equation: the evaluation service’s selection on its only seed/,
      );
      expect(m.cost).toMatchObject({ inputTokens: 0, outputTokens: 0 });
      expect(server.requests.length).toBe(requestsBefore);
    },
  );

  it.each([
    ['heuristic', 4, () => new HeuristicAgent() as WorkerAgent],
    ['Claude', 5, () => claude() as WorkerAgent],
  ])(
    'given a %s worker and a prescribed change on a path the recipe lacks, when it runs, then the ' +
      'candidate fails cleanly, naming the path, with nothing changed or trained',
    async (_kind, index, make) => {
      const requestsBefore = server.requests.length;
      const fork = h.fork(2, index as number, {
        axis: 'learning-rate',
        seeds: [1],
        prescribed: {
          kind: 'confirmation',
          of: 'camp1-r1-c1',
          changes: [
            { path: 'train.lr', from: 0.003, to: 0.002 },
            { path: 'train.momentum', from: 0.9, to: 0.95 },
          ],
          hypothesis: 'confirmation of camp1-r1-c1',
        },
      });
      const out = await runCandidate(
        { fork, policy: fixturePolicy(h.substrateDir) },
        h.config(),
        h.ports(fork.candidateId),
        (make as () => WorkerAgent)(),
      );
      expect(out.kind).toBe('failed');
      if (out.kind !== 'failed') return;
      expect(out.reason).toMatch(/has no setting train\.momentum/);
      expect(out.manifest?.status).toBe('failed');
      expect(out.manifest?.hypothesis).toBe('confirmation of camp1-r1-c1');
      expect(out.manifest?.recipeChanges).toEqual([]);
      const events = await stream(fork.candidateId);
      expect(events.filter((e) => e.type === 'JobRequested')).toHaveLength(0);
      expect(events.filter((e) => e.type === 'RecipeChanged')).toHaveLength(0);
      expect(events.filter((e) => e.type === 'WorkerFailed')).toHaveLength(1);
      expect(server.requests.length).toBe(requestsBefore);
    },
  );

  it(
    'given a Claude-configured replica that crashed after applying the prescribed change, when another ' +
      'replica resumes it, then it replays the trace and submits the same change, asking no model',
    async () => {
      const requestsBefore = server.requests.length;
      const fork = h.fork(2, 6, { axis: 'learning-rate', seeds: [1], prescribed: confirmation });
      const inputs = { fork, policy: fixturePolicy(h.substrateDir) };
      class Crash extends Error {}
      await expect(
        runCandidate(inputs, h.config('w-crash'), h.ports(fork.candidateId), claude(), {
          hooks: {
            afterAppend: ({ lastEvent }) => {
              if (
                lastEvent.type === 'RecipeChanged' ||
                (lastEvent.type === 'TraceStepRecorded' && (lastEvent.data as { tool: string }).tool === 'set_recipe')
              )
                throw new Crash('crash after set_recipe');
            },
          },
        }),
      ).rejects.toBeInstanceOf(Crash);
      const resumed = await runCandidate(inputs, h.config('w-resume'), h.ports(fork.candidateId), claude());
      expect(resumed.kind).toBe('submitted');
      const m = (resumed as { manifest: ResultManifest }).manifest;
      expect(m.recipeChanges).toEqual([...confirmation.changes].sort((a, b) => a.path.localeCompare(b.path)));
      expect(m.hypothesis).toBe(confirmation.hypothesis);
      const events = await stream(fork.candidateId);
      expect(events.filter((e) => e.type === 'RecipeChanged')).toHaveLength(1);
      expect(events.filter((e) => e.type === 'ManifestSubmitted')).toHaveLength(1);
      expect(server.requests.length).toBe(requestsBefore);
    },
  );
});
