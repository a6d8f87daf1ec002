import 'reflect-metadata';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ResultManifest, RoundStarted, createEvent, type EventEnvelope, type RecipeDocument } from '@aevo/contracts';
import { eventually, requireBuiltServices, startServiceHarness, type ServiceHarness } from '@aevo/testkit';
import { candidateStreamId, parseRecipeYaml, writeFixtureSubstrate } from '@aevo/worker-kit';
import type { WorkerSettings } from '../src/config';
import { WorkerModule } from '../src/worker.module';
import { campaignStarted, policy } from './events';

jest.setTimeout(600_000);

const ROOT = path.resolve(__dirname, '../../..');
const SERVICES = ['substrate', 'dispatch', 'evaluation'] as const;

/**
 * The production path, end to end through the real services: RoundStarted → substrate service forks →
 * CandidateForked → worker → JobRequested → dispatch runs the jobs → JobSucceeded → worker → EvaluationRequested →
 * evaluation service (VerifySandbox by the substrate service, evaluate jobs through dispatch) → CheckpointSelected
 * → worker → ManifestSubmitted. Substrate, dispatch and evaluation run as processes from their built output.
 */
const evaluatedCount = (ms: ResultManifest[]) => ms.reduce((n, m) => n + m.checkpoints.length, 0);

describe('worker on the production path: real substrate, dispatch and evaluation services', () => {
  let h: ServiceHarness;
  let home: string;

  beforeAll(async () => {
    requireBuiltServices(ROOT, SERVICES);
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'worker-prod-'));
    writeFixtureSubstrate(path.join(home, 'substrates', 'fixture'));
    const settings: WorkerSettings = {
      workerId: 'prod-worker',
      concurrency: 3,
      jobs: 'events',
      aevoHome: path.join(home, 'aevo'),
      localSlots: 1,
      device: 'cpu',
      maxToolCalls: 200,
      maxTokens: 100_000,
      failAfterDeliveries: 4,
      maxWaitSeconds: 300,
      claude: {
        model: 'claude-sonnet-5-5',
        apiKey: null,
        baseURL: null,
        maxTokensPerTurn: 1000,
        sdkMaxRetries: 0,
        retryPatienceSeconds: 60,
        clearContextAtTokens: 60_000,
        cacheTtl: '1h',
      },
    };
    h = await startServiceHarness(WorkerModule.forRoot({ settings }), {
      service: 'worker',
      shareStore: true,
      poolSize: 6,
      listen: false,
      server: { nakDelayMs: 200, maxNakDelayMs: 2000 },
    });
    const env = {
      AEVO_HOME: path.join(home, 'aevo'),
      AEVO_SUBSTRATE_ROOT: path.join(home, 'substrates'),
      AEVO_EXECUTOR: 'local',
      AEVO_LOCAL_SLOTS: '2',
      AEVO_LOCAL_GPUS: 'none',
      AEVO_SIZE: 'tiny',
    };
    for (const s of SERVICES) h.spawn(s, env);
    await h.service.app.listen();
  }, 540_000);

  afterAll(async () => {
    await h?.close();
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  it('runs a round of three candidates through every service to validated manifests', async () => {
    const campaignId = 'prod';
    const standing: RecipeDocument = parseRecipeYaml(
      fs.readFileSync(path.join(home, 'substrates', 'fixture', 'recipe.yaml'), 'utf8'),
    );
    const p0 = policy(0, standing);
    const started = campaignStarted(campaignId, p0, { workersPerRound: 3, rounds: 1 });
    (started.data as { config: { substratePath: string } }).config.substratePath = 'fixture';
    const ids = [0, 1, 2].map((i) => `${campaignId}-r1-c${i}`);
    const round: EventEnvelope = createEvent(
      RoundStarted,
      {
        round: 1,
        policyRevision: 0,
        policySha256: 'e'.repeat(64),
        candidates: [
          { candidateId: ids[0], index: 0, axis: 'baseline', isAnchor: true, seeds: [1, 2] },
          { candidateId: ids[1], index: 1, axis: 'learning-rate', isAnchor: false, seeds: [3] },
          { candidateId: ids[2], index: 2, axis: 'data-mix', isAnchor: false, seeds: [4] },
        ],
        seed: 1,
      },
      { campaignId, streamId: `campaign-${campaignId}`, source: 'orchestrator' },
    );
    await h.store.append(`campaign-${campaignId}`, 'no-stream', [started, round]);

    const manifests = await eventually(
      async () => {
        const out: ResultManifest[] = [];
        for (const id of ids) {
          const m = (await h.store.readStream(candidateStreamId(id))).find((e) => e.type === 'ManifestSubmitted');
          if (!m) return null;
          out.push(ResultManifest.parse((m.data as { manifest: unknown }).manifest));
        }
        return out;
      },
      480_000,
      500,
    ).catch((err) => {
      for (const s of SERVICES) process.stderr.write(`--- ${s}\n${h.output(s).slice(-3000)}\n`);
      throw err;
    });

    for (const m of manifests) {
      expect({ id: m.candidateId, status: m.status, failureModes: m.failureModes }).toEqual({
        id: m.candidateId,
        status: 'completed',
        failureModes: [],
      });
      expect(m.checkpoints.length).toBeGreaterThan(0);
    }
    expect(manifests[0].recipeChanges).toEqual([]);
    expect(new Set(manifests[0].checkpoints.map((c) => c.seed))).toEqual(new Set([1, 2]));
    expect(manifests[1].recipeChanges[0].path).toBe('train.lr');

    // dispatch ran each requested job exactly once; the evaluation service scored what the manifests report
    const all = await h.store.readAll({ campaignId });
    const requested = all
      .filter((e) => e.type === 'JobRequested')
      .map((e) => (e.data as { spec: { jobId: string } }).spec.jobId);
    expect(new Set(requested).size).toBe(requested.length);
    // the worker's prepare + train per seed; the evaluation service's one job per checkpoint
    expect(all.filter((e) => e.type === 'JobRequested' && e.source === 'evaluation')).toHaveLength(
      evaluatedCount(manifests),
    );
    for (const jobId of requested) {
      expect(all.filter((e) => e.type === 'JobStarted' && (e.data as { jobId: string }).jobId === jobId)).toHaveLength(
        1,
      );
      expect(
        all.filter((e) => e.type === 'JobSucceeded' && (e.data as { jobId: string }).jobId === jobId),
      ).toHaveLength(1);
    }
    const evaluated = all.filter((e) => e.type === 'CheckpointEvaluated');
    expect(evaluated.length).toBe(evaluatedCount(manifests));
    expect(all.filter((e) => e.type === 'CheckpointSelected')).toHaveLength(4);
    // GPU-seconds (here: CPU-slot seconds) of the worker's jobs are in the cost
    for (const m of manifests) expect(m.cost.gpuSeconds).toBeGreaterThan(0);
  });
});
