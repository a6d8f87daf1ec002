import 'reflect-metadata';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  BudgetExhausted,
  CampaignAborted,
  createEvent,
  ResultManifest,
  type Axis,
  type RecipeDocument,
} from '@aevo/contracts';
import { eventually, startServiceHarness, type ServiceHarness } from '@aevo/testkit';
import { mergeRecipeYaml } from '@aevo/substrate-kit';
import {
  candidateStreamId,
  forkSandbox,
  parseRecipeYaml,
  scriptedCandidateModel,
  setPath,
  startAnthropicLoopback,
  type LoopbackServer,
} from '@aevo/worker-kit';
import type { WorkerSettings } from '../src/config';
import { campaignStarted, candidateForked, policy, policyRevised, SNAPSHOT_ID } from './events';
import { recording } from './recording-store';

jest.setTimeout(600_000);

const AXES: Axis[] = [
  'learning-rate',
  'schedule',
  'warmup',
  'steps',
  'lora-capacity',
  'data-mix',
  'checkpoint-selection',
];
const CAMPAIGN = 'wsvc';
const ROUNDS = 3;
const WORKERS = 8;

const SUITE = 'worker service: replicas on nats-server + PostgreSQL, 8 workers × 3 rounds on the simulated substrate';

describe(SUITE, () => {
  let h: ServiceHarness;
  let home: string;
  let substrateDir: string;
  let round = 0;
  let rec: ReturnType<typeof recording>;
  let claudeApi: LoopbackServer;
  const fsTouched: Array<{ round: number; p: string }> = [];
  const spies: jest.SpyInstance[] = [];

  beforeAll(async () => {
    process.env.AEVO_WORKER_CONCURRENCY = '4'; // read when the controller class is declared (imported below)
    const { WorkerModule } = await import('../src/worker.module');
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'worker-svc-'));
    // the simulated substrate of the repository, copied so that nothing here can touch the original
    substrateDir = path.join(home, 'substrate');
    fs.cpSync(path.resolve(__dirname, '../../../substrate/simulated'), substrateDir, { recursive: true });
    // …and placed as the snapshot every CandidateForked here names: jobs mount their pinned paths from it.
    fs.cpSync(substrateDir, path.join(home, 'snapshots', SNAPSHOT_ID), { recursive: true });
    claudeApi = await startAnthropicLoopback(
      scriptedCandidateModel({ settings: [{ path: 'train.lr', value: 0.002 }], seed: 21 }),
    );
    const replicas = ['replica-a', 'replica-b'].map((id) => {
      const settings: WorkerSettings = {
        workerId: id,
        concurrency: 4,
        jobs: 'local',
        // One AEVO_HOME, as in a deployment: the jobs' sandboxes and snapshot must lie inside it.
        aevoHome: home,
        localSlots: 2,
        device: 'cpu',
        maxToolCalls: 200,
        maxTokens: 100_000,
        failAfterDeliveries: 4,
        maxWaitSeconds: 300,
        claude: {
          model: 'claude-sonnet-5-5',
          apiKey: 'test-key',
          baseURL: claudeApi.url,
          maxTokensPerTurn: 1000,
          sdkMaxRetries: 0,
          retryPatienceSeconds: 60,
          clearContextAtTokens: 60_000,
          cacheTtl: '1h',
        },
      };
      return WorkerModule.forRoot({ settings });
    });
    h = await startServiceHarness(replicas, {
      service: 'worker',
      poolSize: 8,
      storeView: (store) => (rec = recording(store, () => round)).store,
      server: { nakDelayMs: 200, maxNakDelayMs: 2000, ackWaitMs: 20_000 },
    });
    // Every file the worker process touches, by round (jobs are separate processes, each in its own sandbox).
    const fsMod = jest.requireActual<Record<string, (...a: unknown[]) => unknown>>('node:fs');
    for (const fn of [
      'openSync',
      'readFileSync',
      'readdirSync',
      'lstatSync',
      'statSync',
      'existsSync',
      'writeFileSync',
    ]) {
      const original = fsMod[fn].bind(fsMod);
      const spy = jest.spyOn(fsMod, fn).mockImplementation((...args: unknown[]) => {
        if (typeof args[0] === 'string') fsTouched.push({ round, p: path.resolve(args[0]) });
        return original(...args);
      });
      spies.push(spy);
    }
  }, 180_000);

  afterAll(async () => {
    for (const s of spies) s.mockRestore();
    await h?.close();
    await claudeApi?.close();
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  const manifestOf = async (candidateId: string): Promise<ResultManifest | null> => {
    const m = (await h.store.readStream(candidateStreamId(candidateId))).filter((e) => e.type === 'ManifestSubmitted');
    if (m.length > 1) throw new Error(`${candidateId} submitted ${m.length} manifests`);
    return m.length === 1 ? ResultManifest.parse((m[0].data as { manifest: unknown }).manifest) : null;
  };

  it('completes every candidate of every round with a valid manifest, reading nothing of earlier rounds', async () => {
    const standing0: RecipeDocument = parseRecipeYaml(fs.readFileSync(path.join(substrateDir, 'recipe.yaml'), 'utf8'));
    const p0 = policy(0, standing0);
    // Round 1's evidence (as the meta agent would record it): raising lr and the schedule switch to linear failed.
    const p1 = policy(1, standing0, {
      deadEnds: [
        {
          id: 'de-lr-up',
          description: 'raising lr diverges',
          axis: 'learning-rate',
          path: 'train.lr',
          direction: 'increase',
          round: 1,
          evidence: 'r1',
        },
        {
          id: 'de-steps-up',
          description: 'more steps overfit',
          axis: 'steps',
          path: 'train.steps',
          direction: 'increase',
          round: 1,
          evidence: 'r1',
        },
      ],
    });
    // Round 2's: dev gains on equation did not move LB; the standing recipe over-weights equation; transfer to LB.
    const standing2 = setPath(standing0, 'data.mix.equation', 3);
    const p2 = policy(2, standing2, {
      deadEnds: p1.deadEnds,
      objective: 'transfer-to-lb',
      evidenceRules: [{ id: 'ev1', rule: 'raw dev gains are suspect unless they move LB', since: 2, reason: 'r2' }],
    });
    await h.append(
      campaignStarted(CAMPAIGN, p0, { workersPerRound: WORKERS, rounds: ROUNDS }),
      policyRevised(CAMPAIGN, 1, p1),
      policyRevised(CAMPAIGN, 2, p2),
    );

    const all: ResultManifest[] = [];
    for (round = 1; round <= ROUNDS; round++) {
      const ids: string[] = [];
      for (let i = 0; i < WORKERS; i++) {
        const candidateId = `${CAMPAIGN}-r${round}-c${i}`;
        const sandboxPath = path.join(home, 'sandboxes', `r${round}`, candidateId);
        forkSandbox(substrateDir, sandboxPath);
        // the substrate service merges the round's standing recipe into each fork; so does this test
        const recipeFile = path.join(sandboxPath, 'recipe.yaml');
        fs.writeFileSync(
          recipeFile,
          mergeRecipeYaml(fs.readFileSync(recipeFile, 'utf8'), [p0, p1, p2][round - 1].standingRecipe),
        );
        ids.push(candidateId);
        await h.append(
          candidateForked(CAMPAIGN, {
            round,
            candidateId,
            index: i,
            axis: i === 0 ? 'baseline' : AXES[i - 1],
            isAnchor: i === 0,
            seeds: i === 0 ? [11, 12] : [10 + round],
            sandboxPath,
            policyRevision: round - 1,
          }),
        );
      }
      const manifests = await eventually(
        async () => {
          const ms = await Promise.all(ids.map(manifestOf));
          return ms.every((m) => m !== null) ? (ms as ResultManifest[]) : null;
        },
        480_000,
        500,
      );
      for (const m of manifests) {
        expect(m.status).toBe('completed');
        expect(m.round).toBe(round);
        expect(m.policyRevision).toBe(round - 1);
        expect(m.checkpoints.length).toBeGreaterThan(0);
      }
      all.push(...manifests);
      const byAxis = (a: Axis) => manifests.find((m) => m.axis === a)!;
      expect(byAxis('baseline').recipeChanges).toEqual([]);
      expect(new Set(byAxis('baseline').checkpoints.map((c) => c.seed))).toEqual(new Set([11, 12]));
      if (round >= 2) {
        // the dead ends of the policy are respected
        for (const c of byAxis('learning-rate').recipeChanges.filter((x) => x.path === 'train.lr'))
          expect(c.to as number).toBeLessThan(c.from as number);
        for (const c of byAxis('steps').recipeChanges.filter((x) => x.path === 'train.steps'))
          expect(c.to as number).toBeLessThan(c.from as number);
      }
      if (round === 3)
        expect(byAxis('data-mix').recipeChanges).toEqual([{ path: 'data.mix.equation', from: 3, to: 1 }]);
    }
    expect(all).toHaveLength(ROUNDS * WORKERS);

    // N replicas share the durable consumer: both took candidates.
    const started = await h.store.readAll({ types: ['WorkerStarted'] });
    expect(new Set(started.map((e) => (e.data as { workerId: string }).workerId))).toEqual(
      new Set(['replica-a', 'replica-b']),
    );

    // Memory-free: in round r the workers read only round-r candidate streams, the campaign's fixed facts and
    // policies, and whether it was aborted…
    for (const r of rec.reads) {
      if (r.kind === 'stream') expect(r.what).toMatch(new RegExp(`^candidate-${CAMPAIGN}-r${r.round}-c\\d+$`));
      else expect(['CampaignStarted', 'PolicyRevised', 'CampaignAborted,BudgetExhausted']).toContain(r.what);
    }
    // …and never a file of an earlier round's sandboxes.
    const sandboxesRoot = fs.realpathSync(path.join(home, 'sandboxes'));
    for (const t of fsTouched) {
      const rel = path.relative(sandboxesRoot, t.p);
      if (rel === '' || rel.startsWith('..')) continue;
      expect(rel.split(path.sep)[0]).toBe(`r${t.round}`);
    }
    // (the spy does see the worker's own reads: it opens each fork's substrate.yaml, in its own round only)
    for (let r = 1; r <= ROUNDS; r++)
      expect(
        fsTouched.filter(
          (t) => t.round === r && t.p.startsWith(path.join(sandboxesRoot, `r${r}`)) && t.p.endsWith('substrate.yaml'),
        ).length,
      ).toBeGreaterThanOrEqual(WORKERS);
  });

  it(
    'runs a Claude worker when the campaign asks for one: ' +
      'constitution from CampaignStarted, tool-use turns, recorded requests',
    async () => {
      round = 1;
      const campaign = 'wsvc-claude';
      const standing: RecipeDocument = parseRecipeYaml(fs.readFileSync(path.join(substrateDir, 'recipe.yaml'), 'utf8'));
      await h.append(
        campaignStarted(campaign, policy(0, standing), {
          workersPerRound: 1,
          rounds: 1,
          workerKind: 'claude',
          llmTokens: 500_000,
        }),
      );
      const candidateId = `${campaign}-r1-c1`;
      const sandboxPath = path.join(home, 'sandboxes', 'r1', candidateId);
      forkSandbox(substrateDir, sandboxPath);
      await h.append(
        candidateForked(campaign, {
          round: 1,
          candidateId,
          index: 1,
          axis: 'learning-rate',
          isAnchor: false,
          seeds: [21],
          sandboxPath,
          policyRevision: 0,
        }),
      );
      const m = await eventually(() => manifestOf(candidateId), 240_000, 300);
      expect(m).toMatchObject({
        status: 'completed',
        agentKind: 'claude',
        recipeChanges: [{ path: 'train.lr', from: 0.003, to: 0.002 }],
      });
      expect(m!.cost.inputTokens).toBeGreaterThan(0);
      expect(claudeApi.requests.length).toBeGreaterThan(3);
      for (const r of claudeApi.requests) {
        expect(Array.isArray(r.system) && r.system[r.system.length - 1].cache_control).toEqual({
          type: 'ephemeral',
          ttl: '1h',
        });
        expect(Array.isArray(r.system) && r.system[0].text).toContain(
          'The leaderboard is authoritative. The dead-end registry only grows.',
        );
      }
      const llm = (await h.store.readStream(candidateStreamId(candidateId))).filter(
        (e) =>
          e.type === 'TraceStepRecorded' &&
          (e.data as { tool: string; phase: string }).tool === 'llm' &&
          (e.data as { phase: string }).phase === 'outcome',
      );
      expect(llm).toHaveLength(claudeApi.served);
      expect((llm[0].data as { llm: { model: string } }).llm.model).toBe('claude-sonnet-5-5');
    },
  );
  it.each([
    ['an aborted campaign', 'wsvc-aborted', 'campaign aborted: operator stop'],
    ['a campaign whose budget ran out mid-round', 'wsvc-budget', 'budget exhausted in round 1: gpuSeconds'],
  ])(
    'stops the candidates of %s: each ends with a failed manifest naming why, no job run',
    async (_what, campaign, why) => {
      const standing: RecipeDocument = parseRecipeYaml(fs.readFileSync(path.join(substrateDir, 'recipe.yaml'), 'utf8'));
      await h.append(
        campaignStarted(campaign, policy(0, standing), { workersPerRound: 2, rounds: 1 }),
        campaign === 'wsvc-aborted'
          ? createEvent(
              CampaignAborted,
              { reason: 'operator stop' },
              { campaignId: campaign, streamId: `campaign-${campaign}`, source: 'orchestrator' },
            )
          : createEvent(
              BudgetExhausted,
              { round: 1, spent: { gpuSeconds: 10, llmTokens: 0 }, exhausted: ['gpuSeconds'] },
              { campaignId: campaign, streamId: `campaign-${campaign}`, source: 'orchestrator' },
            ),
      );
      const ids = [`${campaign}-r1-c0`, `${campaign}-r1-c1`];
      for (const [i, candidateId] of ids.entries()) {
        const sandboxPath = path.join(home, 'sandboxes', 'r1', candidateId);
        forkSandbox(substrateDir, sandboxPath);
        await h.append(
          candidateForked(campaign, {
            round: 1,
            candidateId,
            index: i,
            axis: i === 0 ? 'baseline' : 'learning-rate',
            isAnchor: i === 0,
            seeds: [31],
            sandboxPath,
            policyRevision: 0,
          }),
        );
      }
      const manifests = await eventually(
        async () => {
          const ms = await Promise.all(ids.map(manifestOf));
          return ms.every(Boolean) ? (ms as ResultManifest[]) : null;
        },
        120_000,
        300,
      );
      for (const [i, m] of manifests.entries()) {
        expect(m.status).toBe('failed');
        const events = await h.store.readStream(candidateStreamId(ids[i]));
        const failed = events.filter((e) => e.type === 'WorkerFailed');
        expect(failed).toHaveLength(1);
        expect((failed[0].data as { reason: string }).reason).toContain(why);
        expect(events.filter((e) => e.type === 'JobRequested')).toHaveLength(0);
      }
    },
  );
});
