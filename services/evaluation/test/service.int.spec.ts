import 'reflect-metadata';
import { rmSync } from 'node:fs';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  CampaignStarted,
  EvaluationRequested,
  RoundStarted,
  createEvent,
  type EventOf,
  type SelectionCriterion,
} from '@aevo/contracts';
import { sampleCampaignLog } from '@aevo/projections';
import { loadSubstrate } from '@aevo/substrate-kit';
import {
  eventually,
  requireBuiltServices,
  startServiceHarness,
  trainInSandbox,
  type ServiceHarness,
} from '@aevo/testkit';
import { EvaluationModule } from '../src/evaluation.module';
import { streamIdOf } from '../src/app/evaluation-workflow';

jest.setTimeout(600_000);

const ROOT = path.resolve(__dirname, '../../..');
const SIMULATED = path.join(ROOT, 'substrate', 'simulated');

/**
 * The evaluation service with everything real around it: PostgreSQL, nats-server JetStream, the outbox relay, and
 * the built substrate service (forks, VerifySandbox) and dispatch service (runs the simulated substrate's frozen
 * evaluate) in their own processes.
 */
describe('evaluation service end to end (simulated substrate, real substrate + dispatch services)', () => {
  let h: ServiceHarness;
  let home: string;
  const campaignId = 'eva1';

  beforeAll(async () => {
    requireBuiltServices(ROOT, ['substrate', 'dispatch']);
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'eval-int-'));
    h = await startServiceHarness(
      EvaluationModule.forRoot({
        config: { aevoHome: home, split: 'dev', defaultTimeoutSeconds: 600, defaultSize: 'tiny' },
      }),
      { service: 'evaluation', listen: false },
    );
    const env = { AEVO_EXECUTOR: 'local', AEVO_HOME: home, AEVO_LOCAL_SLOTS: '2', AEVO_LOCAL_GPUS: 'none' };
    h.spawn('substrate', env);
    h.spawn('dispatch', env);
    await h.service.app.listen();
  });

  afterAll(async () => {
    await h?.close();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  const withOutput = (err: unknown) =>
    new Error(`${(err as Error).message}\n--- services ---\n${h.output().slice(-6000)}`);

  it(
    'evaluates a trained candidate through dispatch and selects its checkpoint; ' + 'refuses a tampered sandbox',
    async () => {
      // The orchestrator's two events, from the projections' schema-valid sample (policy revision 0, 4 candidates).
      const sample = sampleCampaignLog({ campaignId });
      const started = sample[0] as EventOf<typeof CampaignStarted>;
      const round = sample.find((e) => e.type === 'RoundStarted') as EventOf<typeof RoundStarted>;
      const ctx = { campaignId, streamId: `campaign-${campaignId}`, source: 'orchestrator' as const };
      await h.store.append(`campaign-${campaignId}`, 'no-stream', [
        createEvent(
          CampaignStarted,
          { ...started.data, config: { ...started.data.config, substratePath: SIMULATED } },
          ctx,
        ),
        createEvent(RoundStarted, round.data, ctx),
      ]);
      const forked = await eventually(async () => {
        const f = await h.store.readAll({ campaignId, types: ['CandidateForked'] });
        return f.length >= 2 ? f.map((e) => e.data as { candidateId: string; sandboxPath: string }) : null;
      }, 180_000).catch((err) => {
        throw withOutput(err);
      });
      const [good, tampered] = forked;

      // What a worker's jobs would leave in the sandboxes: data and checkpoints, from the substrate's own entrypoints.
      let checkpoints: string[] = [];
      for (const c of [good, tampered]) checkpoints = trainInSandbox(c.sandboxPath);
      expect(checkpoints.length).toBeGreaterThanOrEqual(2);
      // The second worker replaces the frozen evaluator (write + rename, as an editor would).
      const evaluator = loadSubstrate(tampered.sandboxPath).manifest.entrypoints.evaluate.command[1];
      const harness = path.join(tampered.sandboxPath, evaluator);
      fs.writeFileSync(`${harness}.new`, fs.readFileSync(harness, 'utf8') + '\n// always score 1\n');
      fs.renameSync(`${harness}.new`, harness);

      const request = (candidateId: string, sandboxPath: string, requestId: string, criterion: SelectionCriterion) =>
        createEvent(
          EvaluationRequested,
          { requestId, candidateId, round: 1, sandboxPath, checkpoints, seed: 1, criterion },
          { campaignId, streamId: `candidate-${candidateId}`, source: 'worker' },
        );
      await h.store.append(`candidate-${good.candidateId}`, 'any', [
        request(good.candidateId, good.sandboxPath, `${good.candidateId}-eval-1`, { kind: 'mean' }),
      ]);
      await h.store.append(`candidate-${tampered.candidateId}`, 'any', [
        request(tampered.candidateId, tampered.sandboxPath, `${tampered.candidateId}-eval-1`, { kind: 'mean' }),
      ]);

      const stream = (c: { candidateId: string }) =>
        h.store.readStream(streamIdOf(campaignId, `${c.candidateId}-eval-1`));
      const goodEvents = await eventually(async () => {
        const s = await stream(good);
        return s.some(
          (e) =>
            e.type === 'CheckpointSelected' ||
            (e.type === 'EvaluationFailed' && (e.data as { checkpoint: unknown }).checkpoint === null),
        )
          ? s
          : null;
      }, 300_000).catch((err) => {
        throw withOutput(err);
      });
      const n = checkpoints.length;
      if (goodEvents[0].type !== 'EvaluationStarted') throw withOutput(new Error(JSON.stringify(goodEvents[0].data)));
      expect(goodEvents.map((e) => e.type)).toEqual([
        'EvaluationStarted',
        ...checkpoints.map(() => 'JobRequested'),
        ...checkpoints.map(() => 'CheckpointEvaluated'),
        'CheckpointSelected',
      ]);
      expect(goodEvents[0].data).toMatchObject({ verifiedBy: 'substrate-service' });
      const evaluated = goodEvents
        .filter((e) => e.type === 'CheckpointEvaluated')
        .map(
          (e) =>
            e.data as { checkpoint: string; step: number; dev: { overall: number; domains: Record<string, number> } },
        );
      expect(evaluated.map((e) => e.checkpoint).sort()).toEqual([...checkpoints].sort());
      expect(evaluated.every((e) => Number.isInteger(e.step) && e.step > 0)).toBe(true);
      for (const e of evaluated)
        expect(Object.keys(e.dev.domains).sort()).toEqual([
          'bit_manipulation',
          'cipher',
          'equation',
          'gravity',
          'numeral',
          'unit_conversion',
        ]);
      const best = Math.max(...evaluated.map((e) => e.dev.overall));
      const selected = goodEvents[2 * n + 1].data as { checkpoint: string; score: number; considered: number };
      expect(selected.score).toBe(best);
      expect(selected.considered).toBe(n);
      const succeeded = await h.store.readAll({ campaignId, types: ['JobSucceeded'] });
      expect(
        succeeded
          .map((e) => (e.data as { jobId: string }).jobId)
          .filter((j) => j.startsWith(good.candidateId))
          .sort(),
      ).toEqual(checkpoints.map((_, i) => `${good.candidateId}-eval-1-eval-${i}`).sort());

      const badEvents = await eventually(async () => {
        const s = await stream(tampered);
        return s.length > 0 ? s : null;
      }, 120_000);
      expect(badEvents.map((e) => e.type)).toEqual(['EvaluationFailed']);
      expect(badEvents[0].data).toMatchObject({
        checkpoint: null,
        kind: 'frozen-path-violated',
        reason: expect.stringContaining(`${evaluator}: frozen-modified`),
      });
      const violations = await h.store.readAll({ campaignId, types: ['FrozenPathViolated'] });
      expect(violations.map((e) => e.data)).toEqual([
        expect.objectContaining({
          candidateId: tampered.candidateId,
          path: evaluator,
          kind: 'frozen-modified',
          checkedAt: 'before-evaluation',
        }),
      ]);
      const tamperedJobs = (await h.store.readAll({ campaignId, types: ['JobRequested'] })).filter(
        (e) => (e.data as { spec: { candidateId: string } }).spec.candidateId === tampered.candidateId,
      );
      expect(tamperedJobs).toEqual([]);
    },
  );
});
