import { rmSync } from 'node:fs';
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { EvaluationRequested, createEvent, type JobSpec, type SelectionCriterion } from '@aevo/contracts';
import { PostgresEventStore } from '@aevo/eventstore';
import { createTestDb, localJobTerminal, type TestDb } from '@aevo/testkit';
import { EvaluationWorkflow, scoresPathOf, streamIdOf } from '../src/app/evaluation-workflow';
import type { SandboxToVerify, SandboxVerifier } from '../src/app/sandbox-verifier';
import type { Verification } from '../src/domain/evaluation';

jest.setTimeout(120_000);

const FIXTURE = path.join(__dirname, 'fixtures', 'tiny-substrate');
/** The fixture placed as the snapshot every sandbox here was forked from (the evaluate manifest is read there). */
const SNAPSHOT_ID = 'e'.repeat(64);

/** The verifier's answers are an input of these tests; the service test asks the real substrate service. */
class ScriptedVerifier implements SandboxVerifier {
  readonly asked: SandboxToVerify[] = [];
  constructor(
    private readonly answer: (s: SandboxToVerify) => Verification = () => ({
      verifiedBy: 'substrate-service',
      ok: true,
      snapshotId: SNAPSHOT_ID,
    }),
  ) {}
  async verify(s: SandboxToVerify) {
    this.asked.push(s);
    return this.answer(s);
  }
}

/** Runs a JobRequested spec as the local executor does (argv, cwd = sandbox) and returns dispatch's terminal event. */
function runJob(campaignId: string, spec: JobSpec) {
  const r = spawnSync(spec.argv[0], spec.argv.slice(1), { cwd: spec.sandboxPath, encoding: 'utf8' });
  return localJobTerminal(campaignId, spec, r.status, r.stderr.slice(-500));
}

describe('evaluation workflow (real PostgreSQL event store)', () => {
  let db: TestDb;
  let store: PostgresEventStore;
  let home: string;
  const campaignId = 'ev1';
  const cfg = () => ({ aevoHome: home, split: 'dev', defaultTimeoutSeconds: 600, defaultSize: 'tiny' });

  beforeAll(async () => {
    db = await createTestDb();
    store = await PostgresEventStore.open({ connectionString: db.url, schema: db.schema });
    home = mkdtempSync(path.join(tmpdir(), 'ev-home-'));
    cpSync(FIXTURE, path.join(home, 'snapshots', SNAPSHOT_ID), { recursive: true });
  });
  afterAll(async () => {
    await store.close();
    await db.drop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  function sandbox(name: string, checkpoints: Record<string, Record<string, unknown>>): string {
    const dir = path.join(home, 'sandboxes', name);
    cpSync(FIXTURE, dir, { recursive: true });
    for (const [rel, info] of Object.entries(checkpoints)) {
      mkdirSync(path.join(dir, rel), { recursive: true });
      writeFileSync(
        path.join(dir, rel, 'checkpoint.json'),
        JSON.stringify({
          seed: 1,
          trainLoss: 0.1,
          recipeSha256: 'x',
          size: 'tiny',
          device: 'cpu',
          diverged: false,
          ...info,
        }),
      );
    }
    return dir;
  }

  function request(
    requestId: string,
    sandboxPath: string,
    checkpoints: string[],
    criterion: SelectionCriterion = { kind: 'mean' },
  ) {
    return createEvent(
      EvaluationRequested,
      { requestId, candidateId: `${campaignId}-r1-c1`, round: 1, sandboxPath, checkpoints, seed: 7, criterion },
      { campaignId, streamId: `candidate-${campaignId}-r1-c1`, source: 'worker' },
    );
  }

  async function runAll(wf: EvaluationWorkflow, requestId: string) {
    const stored = await store.readStream(streamIdOf(campaignId, requestId));
    const specs = stored.filter((e) => e.type === 'JobRequested').map((e) => (e.data as { spec: JobSpec }).spec);
    for (const spec of specs) {
      const t = runJob(campaignId, spec);
      await wf.onJobTerminal(t);
      expect(await wf.onJobTerminal(t)).toEqual([]); // redelivery decides nothing
    }
    return (await store.readStream(streamIdOf(campaignId, requestId))).map((e) => ({
      type: e.type,
      data: e.data as Record<string, unknown>,
    }));
  }

  const ckpts = {
    'runs/s1/ckpt/step-000100': { step: 100, domains: { arith: 0.5, recall: 0.5, logic: 0.5 } },
    'runs/s1/ckpt/step-000200': { step: 200, domains: { arith: 0.9, recall: 0.3, logic: 0.3 } },
    'runs/s1/ckpt/step-000300': { step: 300, domains: { arith: 0.1, recall: 0.7, logic: 0.7 } },
  };

  it(
    'verifies, evaluates every checkpoint through evaluate jobs, ' + 'and selects by the mean (ties → later step)',
    async () => {
      const verifier = new ScriptedVerifier();
      const wf = new EvaluationWorkflow(store, verifier, cfg());
      const sb = sandbox('ev1-a', ckpts);
      const req = request('ev1-a-eval-1', sb, Object.keys(ckpts));
      const started = await wf.onEvaluationRequested(req);
      expect(started.map((e) => e.type)).toEqual(['EvaluationStarted', 'JobRequested', 'JobRequested', 'JobRequested']);
      expect(await wf.onEvaluationRequested(req)).toEqual([]);
      expect(verifier.asked).toEqual([
        {
          campaignId,
          candidateId: `${campaignId}-r1-c1`,
          round: 1,
          sandboxPath: sb,
          reason: 'evaluation ev1-a-eval-1',
          paths: Object.keys(ckpts),
        },
      ]);
      const spec0 = (started[1].data as { spec: JobSpec }).spec;
      const scores0 = scoresPathOf(cfg(), campaignId, 'ev1-a-eval-1', 0);
      expect(spec0).toMatchObject({
        jobId: 'ev1-a-eval-1-eval-0',
        entrypoint: 'evaluate',
        sandboxPath: sb,
        argv: ['node', 'harness/evaluate.js', path.join(sb, 'runs/s1/ckpt/step-000100'), 'dev', scores0],
      });
      expect(scores0.startsWith(sb)).toBe(false); // written outside the sandbox, so a worker cannot forge it

      const events = await runAll(wf, 'ev1-a-eval-1');
      expect(events.map((e) => e.type)).toEqual([
        'EvaluationStarted',
        'JobRequested',
        'JobRequested',
        'JobRequested',
        'CheckpointEvaluated',
        'CheckpointEvaluated',
        'CheckpointEvaluated',
        'CheckpointSelected',
      ]);
      expect(events[4].data).toMatchObject({
        checkpoint: 'runs/s1/ckpt/step-000100',
        step: 100,
        seed: 7,
        split: 'dev',
        n: 30,
        dev: { overall: 0.5, domains: { arith: 0.5, recall: 0.5, logic: 0.5 } },
      });
      // All three means are exactly 0.5 in floating point: the tie goes to the latest step.
      expect(events[7].data).toMatchObject({
        requestId: 'ev1-a-eval-1',
        checkpoint: 'runs/s1/ckpt/step-000300',
        step: 300,
        considered: 3,
      });
    },
  );

  it('selects by reweighted domains when the policy says so', async () => {
    const wf = new EvaluationWorkflow(store, new ScriptedVerifier(), cfg());
    const sb = sandbox('ev1-b', ckpts);
    await wf.onEvaluationRequested(
      request('ev1-b-eval-1', sb, Object.keys(ckpts), { kind: 'reweighted', weights: { arith: 3, recall: 1 } }),
    );
    const events = await runAll(wf, 'ev1-b-eval-1');
    expect(events.pop()).toMatchObject({
      type: 'CheckpointSelected',
      data: { checkpoint: 'runs/s1/ckpt/step-000200', score: (3 * 0.9 + 0.3) / 4 },
    });
  });

  it(
    'fails a checkpoint whose scores do not validate, naming the ' + 'field, and still selects among the rest',
    async () => {
      const wf = new EvaluationWorkflow(store, new ScriptedVerifier(), cfg());
      const sb = sandbox('ev1-c', {
        'ck/step-000010': { step: 10, domains: { arith: 0.4 } },
        'ck/step-000020': { step: 20, domains: { arith: 0.6 }, badScores: true },
        'ck/step-000030': { step: 30, domains: { arith: 0.6 }, fail: true },
        'ck/step-000040': { step: 40, domains: { arith: 0.6 }, noScores: true },
      });
      await wf.onEvaluationRequested(
        request('ev1-c-eval-1', sb, ['ck/step-000010', 'ck/step-000020', 'ck/step-000030', 'ck/step-000040']),
      );
      const events = await runAll(wf, 'ev1-c-eval-1');
      const failed = events.filter((e) => e.type === 'EvaluationFailed').map((e) => e.data);
      expect(failed).toEqual([
        expect.objectContaining({
          checkpoint: 'ck/step-000020',
          kind: 'invalid-scores',
          issues: [{ path: 'domains.arith.score', message: expect.any(String) }],
          reason: expect.stringMatching(/domains\.arith\.score/),
        }),
        expect.objectContaining({
          checkpoint: 'ck/step-000030',
          kind: 'job-failed',
          reason: expect.stringMatching(/failed: exit-code \(exit 3\)/),
        }),
        expect.objectContaining({
          checkpoint: 'ck/step-000040',
          kind: 'invalid-scores',
          reason: expect.stringMatching(/wrote no scores file at /),
        }),
      ]);
      expect(events.pop()).toMatchObject({
        type: 'CheckpointSelected',
        data: { checkpoint: 'ck/step-000010', considered: 1 },
      });
    },
  );

  it('evaluates nothing in a sandbox that fails frozen-path verification', async () => {
    const verifier = new ScriptedVerifier(() => ({
      verifiedBy: 'substrate-service',
      ok: false,
      violations: ['harness/evaluate.js: frozen-modified (sha256 differs)'],
    }));
    const wf = new EvaluationWorkflow(store, verifier, cfg());
    const sb = sandbox('ev1-d', ckpts);
    const events = await wf.onEvaluationRequested(request('ev1-d-eval-1', sb, Object.keys(ckpts)));
    expect(events).toEqual([
      {
        type: 'EvaluationFailed',
        data: {
          requestId: 'ev1-d-eval-1',
          candidateId: `${campaignId}-r1-c1`,
          round: 1,
          checkpoint: null,
          kind: 'frozen-path-violated',
          reason:
            `sandbox ${sb} failed frozen-path verification: ` + 'harness/evaluate.js: frozen-modified (sha256 differs)',
          issues: [],
        },
      },
    ]);
    expect(
      (await store.readAll({ campaignId, types: ['JobRequested'] })).filter((e) =>
        (e.data as { spec: JobSpec }).spec.jobId.startsWith('ev1-d'),
      ),
    ).toEqual([]);
  });

  it('refuses a request naming a checkpoint the sandbox does not have', async () => {
    const wf = new EvaluationWorkflow(store, new ScriptedVerifier(), cfg());
    const sb = sandbox('ev1-e', { 'ck/step-000010': { step: 10, domains: { arith: 0.4 } } });
    const events = await wf.onEvaluationRequested(request('ev1-e-eval-1', sb, ['ck/step-000010', 'ck/step-000099']));
    expect(events).toEqual([
      {
        type: 'EvaluationFailed',
        data: expect.objectContaining({
          checkpoint: null,
          kind: 'invalid-request',
          issues: [{ path: 'checkpoints.1', message: `ck/step-000099 is not a directory of the sandbox ${sb}` }],
        }),
      },
    ]);
  });
});
