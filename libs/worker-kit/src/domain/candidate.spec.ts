import { DomainError, type JobSpec } from '@aevo/contracts';
import { DeciderSpecification } from '@aevo/testkit';
import type { CandidateEvent } from '../trace';
import { candidateDecider, sameCall } from './candidate';

const C = 'camp-r1-c1';
const spec = DeciderSpecification(candidateDecider);
const intent = (step: number, tool = 'read_file', input: unknown = { path: 'recipe.yaml' }): CandidateEvent => ({
  type: 'TraceStepRecorded',
  data: { candidateId: C, step, phase: 'intent', tool, input },
});
const outcome = (step: number, tool = 'read_file', input: unknown = { path: 'recipe.yaml' }): CandidateEvent => ({
  type: 'TraceStepRecorded',
  data: { candidateId: C, step, phase: 'outcome', tool, input, output: { content: 'x' }, ok: true },
});
const job: JobSpec = {
  jobId: `${C}-s2-train`,
  candidateId: C,
  round: 1,
  entrypoint: 'train',
  sandboxPath: '/s',
  argv: ['node', 'train.js'],
  env: {},
  resources: { cpu: 1, memoryMiB: 128, gpu: 0 },
  timeoutSeconds: 60,
  priority: 'normal',
  isolation: { snapshotId: 'a'.repeat(64), outputs: ['runs/s2/ckpt'], inputs: [] },
};
const code = (c: string) => (err: unknown) => err instanceof DomainError && err.code === c;

describe('candidate decider (the trace only grows in order)', () => {
  it('starts a worker, saying from which step it resumes', () => {
    spec
      .given([])
      .when({ kind: 'Start', candidateId: C, round: 1, workerId: 'w', agentKind: 'heuristic' })
      .then([
        {
          type: 'WorkerStarted',
          data: { candidateId: C, round: 1, workerId: 'w', agentKind: 'heuristic', resumedFromStep: null },
        },
      ]);
    spec
      .given([intent(0), outcome(0), intent(1)])
      .when({ kind: 'Start', candidateId: C, round: 1, workerId: 'w2', agentKind: 'heuristic' })
      .then([
        {
          type: 'WorkerStarted',
          data: { candidateId: C, round: 1, workerId: 'w2', agentKind: 'heuristic', resumedFromStep: 1 },
        },
      ]);
  });

  it('records the intent of the next step only', () => {
    spec
      .given([intent(0), outcome(0)])
      .when({ kind: 'RecordIntent', candidateId: C, step: 1, tool: 'list_files', input: {} })
      .then([intent(1, 'list_files', {})]);
    spec
      .given([intent(0), outcome(0)])
      .when({ kind: 'RecordIntent', candidateId: C, step: 3, tool: 'list_files', input: {} })
      .thenThrows(code('STEP_OUT_OF_ORDER'));
    spec
      .given([intent(0), outcome(0)])
      .when({ kind: 'RecordIntent', candidateId: C, step: 0, tool: 'list_files', input: {} })
      .thenThrows(code('STEP_OUT_OF_ORDER'));
  });

  it('refuses a new step while one is in flight, and a second outcome', () => {
    spec
      .given([intent(0)])
      .when({ kind: 'RecordIntent', candidateId: C, step: 1, tool: 'x', input: {} })
      .thenThrows(code('STEP_IN_FLIGHT'));
    spec
      .given([intent(0), outcome(0)])
      .when({ kind: 'RecordOutcome', candidateId: C, step: 0, tool: 'read_file', ok: true, output: {} })
      .thenThrows(code('OUTCOME_RECORDED'));
    spec
      .given([])
      .when({ kind: 'RecordOutcome', candidateId: C, step: 0, tool: 'read_file', ok: true, output: {} })
      .thenThrows(code('NO_INTENT'));
    spec
      .given([intent(0)])
      .when({ kind: 'RecordOutcome', candidateId: C, step: 0, tool: 'write_file', ok: true, output: {} })
      .thenThrows(code('TOOL_MISMATCH'));
  });

  it('appends a step outcome together with the facts it caused', () => {
    const fact: CandidateEvent = {
      type: 'RecipeChanged',
      data: { candidateId: C, file: 'recipe.yaml', changes: [], diff: '' },
    };
    spec
      .given([intent(0)])
      .when({
        kind: 'RecordOutcome',
        candidateId: C,
        step: 0,
        tool: 'read_file',
        ok: true,
        output: { content: 'x' },
        facts: [fact],
      })
      .then([outcome(0), fact]);
  });

  it('requests a job or an evaluation once per stream (a resumed step finds it and only waits)', () => {
    spec
      .given([intent(2, 'launch_training', { seed: 1 })])
      .when({ kind: 'RequestJob', spec: job })
      .then([{ type: 'JobRequested', data: { spec: job } }]);
    spec
      .given([intent(2, 'launch_training', { seed: 1 }), { type: 'JobRequested', data: { spec: job } }])
      .when({ kind: 'RequestJob', spec: job })
      .thenNothing();
    const request = {
      requestId: `${job.jobId}-eval`,
      candidateId: C,
      round: 1,
      sandboxPath: '/s',
      checkpoints: ['runs/a/step-000010'],
      seed: 1,
      criterion: { kind: 'mean' as const },
    };
    spec
      .given([{ type: 'EvaluationRequested', data: request }])
      .when({ kind: 'RequestEvaluation', request })
      .thenNothing();
  });

  it('appends nothing after the manifest', () => {
    const submitted: CandidateEvent = { type: 'ManifestSubmitted', data: { candidateId: C, round: 1, manifest: {} } };
    spec
      .given([intent(0), outcome(0), submitted])
      .when({ kind: 'RecordIntent', candidateId: C, step: 1, tool: 'x', input: {} })
      .thenThrows(code('CANDIDATE_FINISHED'));
    spec
      .given([submitted])
      .when({ kind: 'Start', candidateId: C, round: 1, workerId: 'w', agentKind: 'heuristic' })
      .thenThrows(code('CANDIDATE_FINISHED'));
  });

  it('tells a replayed call from a different one by tool and canonical input', () => {
    const state = spec.given([intent(0, 'set_recipe', { settings: [{ path: 'lr', value: 1 }] })]).state;
    expect(sameCall(state, 0, 'set_recipe', { settings: [{ value: 1, path: 'lr' }] })).toBe(true);
    expect(sameCall(state, 0, 'set_recipe', { settings: [{ path: 'lr', value: 2 }] })).toBe(false);
    expect(sameCall(state, 0, 'write_file', { settings: [{ path: 'lr', value: 1 }] })).toBe(false);
  });
});
