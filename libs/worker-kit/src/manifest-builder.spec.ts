import { DomainError, ResultManifest } from '@aevo/contracts';
import { policy } from '../test/fixtures';
import { buildManifest } from './manifest-builder';
import type { ForkData, WorkerConfig } from './ports';
import { summarise, type EvaluateOutput, type LaunchOutput, type OpenOutput } from './summary';
import type { TraceStep } from './trace';

const fork = (over: Partial<ForkData> = {}): ForkData => ({
  round: 2,
  candidateId: 'c-r2-c1',
  index: 1,
  axis: 'learning-rate',
  isAnchor: false,
  seeds: [5],
  snapshotId: 'a'.repeat(64),
  sandboxPath: '/tmp/x',
  policyRevision: 0,
  ...over,
});
const config: WorkerConfig = { campaignId: 'c', workerId: 'w', agentKind: 'heuristic', size: 'tiny', device: 'cpu' };
const dev = (overall: number) => ({ overall, domains: { gravity: overall, cipher: overall } });

/** A trace: open, set lr, launch, evaluate two checkpoints, then (optionally) another edit that trained nothing. */
function steps(extraEdit: boolean): TraceStep[] {
  const before = 'train:\n  lr: 0.003 # tuned\n';
  const after = 'train:\n  lr: 0.0015 # tuned\n';
  const open: OpenOutput = {
    recipePath: 'recipe.yaml',
    files: { 'recipe.yaml': before },
    adopted: [],
    mutationSeed: 9,
    substrate: { name: 's', version: '1' },
  };
  const job = {
    jobId: 'c-r2-c1-s2-train',
    entrypoint: 'train',
    status: 'succeeded' as const,
    exitCode: 0,
    reason: null,
    message: null,
    gpuSeconds: 12.5,
    wallSeconds: 12.5,
  };
  const launch: LaunchOutput = {
    jobId: job.jobId,
    seed: 5,
    runDir: 'runs/s0002-seed5',
    checkpointsDir: 'runs/s0002-seed5/ckpt',
    recipeSha: 'x',
    prepare: {
      recipeSha: 'x',
      dataDir: 'prepared/x',
      cached: false,
      job: { ...job, jobId: 'c-r2-c1-s2-prep', entrypoint: 'prepare-data', gpuSeconds: 1 },
    },
  };
  const evaluate: EvaluateOutput = {
    jobId: job.jobId,
    requestId: `${job.jobId}-eval`,
    seed: 5,
    job,
    checkpoints: [
      { checkpoint: 'runs/s0002-seed5/ckpt/step-000100', step: 100, seed: 5, dev: dev(0.5) },
      { checkpoint: 'runs/s0002-seed5/ckpt/step-000200', step: 200, seed: 5, dev: dev(0.6) },
    ],
    // What the evaluation service recorded (CheckpointSelected).
    selected: { checkpoint: 'runs/s0002-seed5/ckpt/step-000200', score: 0.6, criterion: 'mean' },
    failures: [],
  };
  const s: TraceStep[] = [
    { step: 0, tool: 'open_sandbox', input: {}, outcome: { ok: true, output: open } },
    {
      step: 1,
      tool: 'set_recipe',
      input: {},
      outcome: { ok: true, output: { path: 'recipe.yaml', bytes: 1, sha256: 'x', content: after } },
    },
    { step: 2, tool: 'launch_training', input: { seed: 5 }, outcome: { ok: true, output: launch } },
    {
      step: 3,
      tool: 'write_file',
      input: { path: '../x' },
      outcome: {
        ok: false,
        output: { error: { code: 'PATH_REFUSED', message: 'refused "../x"', failure: 'path-refused' } },
      },
    },
    { step: 4, tool: 'evaluate_checkpoints', input: { jobId: job.jobId }, outcome: { ok: true, output: evaluate } },
  ];
  if (extraEdit)
    s.push({
      step: 5,
      tool: 'set_recipe',
      input: {},
      outcome: {
        ok: true,
        output: { path: 'recipe.yaml', bytes: 1, sha256: 'y', content: 'train:\n  lr: 0.1 # tuned\n' },
      },
    });
  return s;
}

describe('buildManifest', () => {
  it('assembles what the trace proves: diff, scores, failure modes, cost, chosen checkpoint', () => {
    const m = buildManifest(
      { fork: fork(), policy: policy() },
      config,
      summarise(steps(false)),
      { length: 6, jobsRequested: 2 },
      { status: 'completed', hypothesis: 'h', reason: 'r' },
    );
    expect(ResultManifest.parse(m)).toEqual(m);
    expect(m.recipeChanges).toEqual([{ path: 'train.lr', from: 0.003, to: 0.0015 }]);
    expect(m.recipeDiff).toBe(
      '--- a/recipe.yaml\n+++ b/recipe.yaml\n@@ -1,2 +1,2 @@\n train:\n-  lr: 0.003 # tuned\n+  lr: 0.0015 # tuned\n',
    );
    expect(m.chosenCheckpoint).toMatchObject({
      checkpoint: 'runs/s0002-seed5/ckpt/step-000200',
      seed: 5,
      criterion: 'mean',
    });
    expect(m.failureModes).toEqual([{ kind: 'path-refused', detail: 'write_file: refused "../x"', step: 3 }]);
    expect(m.cost).toEqual({ gpuSeconds: 13.5, inputTokens: 0, outputTokens: 0, toolCalls: 4, jobs: 2 });
    expect(m.traceLength).toBe(6);
  });

  it('reports the recipe the chosen checkpoint was trained with, not a later edit that trained nothing', () => {
    const m = buildManifest(
      { fork: fork(), policy: policy() },
      config,
      summarise(steps(true)),
      { length: 7, jobsRequested: 2 },
      { status: 'completed', hypothesis: 'h', reason: 'r' },
    );
    expect(m.recipeChanges).toEqual([{ path: 'train.lr', from: 0.003, to: 0.0015 }]);
  });

  const refusal = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      return err as DomainError;
    }
    throw new Error('expected a refusal');
  };

  it('refuses a chosen checkpoint that was never evaluated, naming the field and the choices', () => {
    const e = refusal(() =>
      buildManifest(
        { fork: fork(), policy: policy() },
        config,
        summarise(steps(false)),
        { length: 6, jobsRequested: 2 },
        { status: 'completed', hypothesis: 'h', reason: 'r', chosenCheckpoint: 'runs/nope' },
      ),
    );
    expect(e.code).toBe('INVALID_MANIFEST');
    expect(e.issues[0].path).toBe('chosenCheckpoint');
    expect(e.issues[0].message).toContain('runs/s0002-seed5/ckpt/step-000100');
  });

  it('refuses a completed manifest with nothing evaluated, and an anchor that changed its recipe', () => {
    const noEval = steps(false).slice(0, 3);
    const e1 = refusal(() =>
      buildManifest(
        { fork: fork(), policy: policy() },
        config,
        summarise(noEval),
        { length: 3, jobsRequested: 2 },
        { status: 'completed', hypothesis: 'h', reason: 'r' },
      ),
    );
    expect(e1.issues).toEqual([{ path: 'chosenCheckpoint', message: expect.stringMatching(/CheckpointSelected/) }]);
    const e2 = refusal(() =>
      buildManifest(
        { fork: fork({ isAnchor: true, axis: 'baseline' }), policy: policy() },
        config,
        summarise(steps(false)),
        { length: 6, jobsRequested: 2 },
        { status: 'completed', hypothesis: 'h', reason: 'r' },
      ),
    );
    expect(e2.issues.map((i) => i.path)).toEqual(['recipeChanges']);
  });

  it(
    'given the evaluation service selected by a reweighted criterion, then the manifest ' +
      'records that selection, not a re-selection by the policy mean',
    () => {
      const s = summarise(steps(false));
      const ev = s.evaluations.get('c-r2-c1-s2-train')!;
      ev.checkpoints[0].dev = { overall: 0.5, domains: { gravity: 0.9, cipher: 0.1 } };
      ev.checkpoints[1].dev = { overall: 0.6, domains: { gravity: 0.2, cipher: 1.0 } };
      ev.selected = {
        checkpoint: 'runs/s0002-seed5/ckpt/step-000100',
        score: 0.9,
        criterion: 'reweighted(cipher=0,gravity=1)',
      };
      const m = buildManifest(
        { fork: fork(), policy: policy() },
        config,
        s,
        { length: 6, jobsRequested: 2 },
        { status: 'completed', hypothesis: 'h', reason: 'r' },
      );
      expect(m.chosenCheckpoint).toMatchObject({
        checkpoint: 'runs/s0002-seed5/ckpt/step-000100',
        criterion: 'reweighted(cipher=0,gravity=1)',
        dev: ev.checkpoints[0].dev,
      });
    },
  );

  it(
    'given checkpoints were scored but the evaluation service recorded no ' +
      'selection, then a completed manifest is refused',
    () => {
      const s = summarise(steps(false));
      s.evaluations.get('c-r2-c1-s2-train')!.selected = null;
      const e = refusal(() =>
        buildManifest(
          { fork: fork(), policy: policy() },
          config,
          s,
          { length: 6, jobsRequested: 2 },
          { status: 'completed', hypothesis: 'h', reason: 'r' },
        ),
      );
      expect(e.code).toBe('INVALID_MANIFEST');
      expect(e.message).toMatch(/recorded no checkpoint selection/);
    },
  );

  /** The trace's summary plus a second seed's evaluation whose selection scored `score`. */
  function twoSeeds(score: number) {
    const s = summarise(steps(false));
    const first = s.evaluations.get('c-r2-c1-s2-train')!;
    const ck = { checkpoint: 'runs/s0003-seed6/ckpt/step-000100', step: 100, seed: 6, dev: dev(score) };
    s.evaluations.set('c-r2-c1-s3-train', {
      ...first,
      jobId: 'c-r2-c1-s3-train',
      requestId: 'c-r2-c1-s3-train-eval',
      seed: 6,
      checkpoints: [ck],
      selected: { checkpoint: ck.checkpoint, score, criterion: 'mean' },
    });
    return s;
  }

  it('given several seeds, then an explorer takes the selection with the highest recorded score', () => {
    const explorer = buildManifest(
      { fork: fork({ seeds: [5, 6] }), policy: policy() },
      config,
      twoSeeds(0.7),
      { length: 6, jobsRequested: 2 },
      { status: 'completed', hypothesis: 'h', reason: 'r' },
    );
    expect(explorer.chosenCheckpoint).toMatchObject({ checkpoint: 'runs/s0003-seed6/ckpt/step-000100', seed: 6 });
    const lower = buildManifest(
      { fork: fork({ seeds: [5, 6] }), policy: policy() },
      config,
      twoSeeds(0.55),
      { length: 6, jobsRequested: 2 },
      { status: 'completed', hypothesis: 'h', reason: 'r' },
    );
    expect(lower.chosenCheckpoint).toMatchObject({ checkpoint: 'runs/s0002-seed5/ckpt/step-000200', seed: 5 });
  });

  it(
    'given selections under different criteria, then they are not compared: a ' +
      'completed manifest without an explicit choice is refused',
    () => {
      const s = twoSeeds(0.7);
      s.evaluations.get('c-r2-c1-s3-train')!.selected!.criterion = 'reweighted(gravity=1)';
      const e = refusal(() =>
        buildManifest(
          { fork: fork({ seeds: [5, 6] }), policy: policy() },
          config,
          s,
          { length: 6, jobsRequested: 2 },
          { status: 'completed', hypothesis: 'h', reason: 'r' },
        ),
      );
      expect(e.message).toMatch(/different criteria/);
    },
  );
});
