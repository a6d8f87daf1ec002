import { DeciderSpecification } from '@aevo/testkit';
import type { JobSpec } from '@aevo/contracts';
import { evalJobId, evaluationDecider, parseEvalJobId, stepOf, type EvaluationEvent } from './evaluation';

const request = {
  requestId: 'c1-r1-c2-eval-1',
  candidateId: 'c1-r1-c2',
  round: 1,
  sandboxPath: '/aevo/sandboxes/c1-r1-c2',
  checkpoints: ['runs/seed-1/ckpt/step-000100', 'runs/seed-1/ckpt/step-000200'],
  seed: 1,
  criterion: { kind: 'mean' as const },
};
const job = (i: number): JobSpec => ({
  jobId: evalJobId(request.requestId, i),
  candidateId: request.candidateId,
  round: 1,
  entrypoint: 'evaluate',
  sandboxPath: request.sandboxPath,
  argv: ['python3', 'harness/evaluate.py', '--checkpoint', `${request.sandboxPath}/${request.checkpoints[i]}`],
  env: {},
  resources: { cpu: 1, memoryMiB: 512, gpu: 0 },
  timeoutSeconds: 600,
  priority: 'normal',
  isolation: { snapshotId: 'a'.repeat(64), outputs: [`/home/evaluation/c1/${request.requestId}/${i}`], inputs: [] },
});
const verified = { verifiedBy: 'substrate-kit' as const, ok: true as const, snapshotId: 'a'.repeat(64) };
const start = {
  type: 'StartEvaluation' as const,
  request,
  verification: verified,
  jobs: { ok: true as const, specs: [job(0), job(1)] },
};
const started: EvaluationEvent[] = [
  { type: 'EvaluationStarted', data: { ...request, verifiedBy: 'substrate-kit' } },
  { type: 'JobRequested', data: { spec: job(0) } },
  { type: 'JobRequested', data: { spec: job(1) } },
];
const ids = { requestId: request.requestId, candidateId: request.candidateId, round: 1 };
const scores = (checkpoint: string, overall: number, domains: Record<string, number>) => ({
  checkpoint,
  split: 'dev',
  overall,
  n: 60,
  domains: Object.fromEntries(Object.entries(domains).map(([d, s]) => [d, { score: s, n: 10 }])),
});
const evaluated = (i: number, step: number, overall: number, domains: Record<string, number>): EvaluationEvent => ({
  type: 'CheckpointEvaluated',
  data: {
    ...ids,
    checkpoint: request.checkpoints[i],
    step,
    seed: 1,
    split: 'dev',
    dev: { overall, domains },
    n: 60,
    jobId: evalJobId(request.requestId, i),
  },
});
const succeeded = (i: number, step: number, body: unknown) => ({
  type: 'RecordJobOutcome' as const,
  jobId: evalJobId(request.requestId, i),
  outcome: { kind: 'succeeded' as const, scores: body, step },
});

const spec = DeciderSpecification(evaluationDecider);

describe('evaluation decider', () => {
  it(
    'given a new request, when the sandbox verifies, then it starts ' + 'and requests one evaluate job per checkpoint',
    () => {
      spec.given([]).when(start).then(started);
    },
  );

  it('given a started evaluation, when the request is redelivered, then nothing happens', () => {
    spec.given(started).when(start).thenNothing();
  });

  it(
    'given a new request, when frozen-path verification fails, then the ' +
      'whole request fails and no job is requested',
    () => {
      spec
        .given([])
        .when({
          ...start,
          verification: {
            verifiedBy: 'substrate-service',
            ok: false,
            violations: ['harness/evaluate.py: sha256 changed'],
          },
        })
        .then([
          {
            type: 'EvaluationFailed',
            data: {
              ...ids,
              checkpoint: null,
              kind: 'frozen-path-violated',
              reason:
                'sandbox /aevo/sandboxes/c1-r1-c2 failed frozen-path verification: harness/evaluate.py: sha256 changed',
              issues: [],
            },
          },
        ]);
    },
  );

  it(
    'given a new request, when a checkpoint escapes the sandbox or ' + 'repeats, then it is refused naming the field',
    () => {
      spec
        .given([])
        .when({
          ...start,
          request: { ...request, checkpoints: ['../other/ckpt', 'a', 'a'] },
          jobs: { ok: true, specs: [job(0), job(1), job(1)] },
        })
        .then((events) => {
          expect(events).toHaveLength(1);
          expect(events[0]).toMatchObject({
            type: 'EvaluationFailed',
            data: { kind: 'invalid-request', checkpoint: null },
          });
          const data = events[0].data as { issues: { path: string }[] };
          expect(data.issues.map((i) => i.path)).toEqual(['checkpoints.0', 'checkpoints.2']);
        });
    },
  );

  it('given a new request, when its jobs could not be built, then the request fails naming the problem', () => {
    spec
      .given([])
      .when({
        ...start,
        jobs: {
          ok: false,
          issues: [
            { path: 'checkpoints.1', message: 'runs/seed-1/ckpt/step-000200 is not a directory of the sandbox' },
          ],
        },
      })
      .then([
        {
          type: 'EvaluationFailed',
          data: {
            ...ids,
            checkpoint: null,
            kind: 'invalid-request',
            reason:
              'evaluation request refused: checkpoints.1: runs/seed-1/ckpt/step-000200 is not a directory ' +
              'of the sandbox',
            issues: [
              { path: 'checkpoints.1', message: 'runs/seed-1/ckpt/step-000200 is not a directory of the sandbox' },
            ],
          },
        },
      ]);
  });

  it(
    'given a running evaluation, when a job exits 0 without a ' + 'readable scores file, then that checkpoint fails',
    () => {
      spec
        .given(started)
        .when({
          type: 'RecordJobOutcome',
          jobId: evalJobId(request.requestId, 0),
          outcome: { kind: 'unreadable-scores', reason: 'no scores file at /x/scores-0.json' },
        })
        .then([
          {
            type: 'EvaluationFailed',
            data: {
              ...ids,
              checkpoint: request.checkpoints[0],
              kind: 'invalid-scores',
              reason: 'no scores file at /x/scores-0.json',
              issues: [{ path: '(file)', message: 'no scores file at /x/scores-0.json' }],
            },
          },
        ]);
    },
  );

  it('given a running evaluation, when the first checkpoint scores, then only CheckpointEvaluated is emitted', () => {
    spec
      .given(started)
      .when(succeeded(0, 100, scores('x', 0.5, { gravity: 0.6, cipher: 0.4 })))
      .then([evaluated(0, 100, 0.5, { gravity: 0.6, cipher: 0.4 })]);
  });

  it('given one checkpoint scored, when the last one scores, then the best by the criterion is selected', () => {
    spec
      .given([...started, evaluated(0, 100, 0.5, { gravity: 0.6, cipher: 0.4 })])
      .when(succeeded(1, 200, scores('x', 0.7, { gravity: 0.9, cipher: 0.5 })))
      .then([
        evaluated(1, 200, 0.7, { gravity: 0.9, cipher: 0.5 }),
        {
          type: 'CheckpointSelected',
          data: {
            ...ids,
            checkpoint: request.checkpoints[1],
            step: 200,
            criterion: { kind: 'mean' },
            score: 0.7,
            dev: { overall: 0.7, domains: { gravity: 0.9, cipher: 0.5 } },
            considered: 2,
          },
        },
      ]);
  });

  it('given equal scores, then the later step wins', () => {
    spec
      .given([...started, evaluated(0, 300, 0.5, {})])
      .when(succeeded(1, 200, scores('x', 0.5, {})))
      .then((events) => expect(events[1]).toMatchObject({ type: 'CheckpointSelected', data: { step: 300 } }));
  });

  it('given a reweighted criterion, then selection follows the weights, not the mean', () => {
    const criterion = { kind: 'reweighted' as const, weights: { equation: 3, gravity: 1 } };
    const s = {
      type: 'EvaluationStarted' as const,
      data: { ...request, criterion, verifiedBy: 'substrate-kit' as const },
    };
    spec
      .given([
        s,
        {
          type: 'CheckpointEvaluated',
          data: { ...(evaluated(0, 100, 0.9, { equation: 0.1, gravity: 1 }).data as object) },
        } as EvaluationEvent,
      ])
      .when(succeeded(1, 200, scores('x', 0.6, { equation: 0.5, gravity: 0.5 })))
      .then((events) =>
        expect(events[1]).toMatchObject({ type: 'CheckpointSelected', data: { step: 200, score: 0.5 } }),
      );
  });

  it('given a running evaluation, when the scores JSON is invalid, then EvaluationFailed names the field', () => {
    spec
      .given(started)
      .when(succeeded(0, 100, { ...scores('x', 0.5, { gravity: 0.6 }), domains: { gravity: { score: 1.5, n: 10 } } }))
      .then((events) => {
        expect(events).toHaveLength(1);
        expect(events[0]).toMatchObject({
          type: 'EvaluationFailed',
          data: { checkpoint: request.checkpoints[0], kind: 'invalid-scores' },
        });
        expect((events[0].data as { issues: { path: string }[] }).issues.map((i) => i.path)).toEqual([
          'domains.gravity.score',
        ]);
        expect((events[0].data as { reason: string }).reason).toMatch(/domains\.gravity\.score/);
      });
  });

  it('given a reweighted criterion, when the scores lack a weighted domain, then that domain is named', () => {
    const s = {
      type: 'EvaluationStarted' as const,
      data: {
        ...request,
        criterion: { kind: 'reweighted' as const, weights: { cipher: 1 } },
        verifiedBy: 'substrate-kit' as const,
      },
    };
    spec
      .given([s])
      .when(succeeded(0, 100, scores('x', 0.5, { gravity: 0.6 })))
      .then((events) =>
        expect((events[0].data as { issues: { path: string }[] }).issues).toEqual([
          { path: 'domains.cipher', message: expect.stringMatching(/criterion weights/) },
        ]),
      );
  });

  it('given one checkpoint failed, when the other job fails too, then the request fails as nothing-evaluated', () => {
    const failed0: EvaluationEvent = {
      type: 'EvaluationFailed',
      data: { ...ids, checkpoint: request.checkpoints[0], kind: 'job-failed', reason: 'x', issues: [] },
    };
    spec
      .given([...started, failed0])
      .when({
        type: 'RecordJobOutcome',
        jobId: evalJobId(request.requestId, 1),
        outcome: { kind: 'failed', reason: 'exit-code 1' },
      })
      .then([
        {
          type: 'EvaluationFailed',
          data: {
            ...ids,
            checkpoint: request.checkpoints[1],
            kind: 'job-failed',
            reason: `evaluate job ${evalJobId(request.requestId, 1)} failed: exit-code 1`,
            issues: [],
          },
        },
        {
          type: 'EvaluationFailed',
          data: {
            ...ids,
            checkpoint: null,
            kind: 'nothing-evaluated',
            reason: 'none of the 2 checkpoint(s) could be evaluated',
            issues: [],
          },
        },
      ]);
  });

  it('given a checkpoint already evaluated, when its job outcome is redelivered, then nothing happens', () => {
    spec
      .given([...started, evaluated(0, 100, 0.5, {})])
      .when(succeeded(0, 100, scores('x', 0.9, {})))
      .thenNothing();
  });

  it('ignores outcomes of jobs that are not its own', () => {
    spec
      .given(started)
      .when({ type: 'RecordJobOutcome', jobId: 'other-eval-0', outcome: { kind: 'failed', reason: 'x' } })
      .thenNothing();
    spec
      .given([])
      .when(succeeded(0, 1, {}))
      .thenNothing();
  });
});

describe('job ids and steps', () => {
  it('round-trips the deterministic job id, even when the request id contains "-eval-"', () => {
    expect(parseEvalJobId(evalJobId('c1-r1-c2-eval-1', 7))).toEqual({ requestId: 'c1-r1-c2-eval-1', index: 7 });
    expect(parseEvalJobId('sub-1-predict')).toBeNull();
  });
  it('takes the step from checkpoint.json, else from the directory name', () => {
    expect(stepOf('ckpt/step-000200', { step: 250 })).toBe(250);
    expect(stepOf('ckpt/step-000200/', null)).toBe(200);
    expect(stepOf('ckpt/final', { step: 'x' })).toBeNull();
  });
});
