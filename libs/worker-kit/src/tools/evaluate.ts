import { TrainSummary, describeCriterion, describeIssues, zodIssues, type SelectionCriterion } from '@aevo/contracts';
import type { EvaluationRequest } from '../ports';
import type { EvaluateOutput, LaunchOutput } from '../summary';
import type { ToolHost } from './host';
import { fail, okOut, type StepOutcome } from './outcome';

/**
 * evaluate_checkpoints: every checkpoint of a finished training run scored on the dev split by the evaluation
 * service, which also selects one by the criterion; a finished evaluation is returned, never repeated.
 */
export async function evaluateCheckpoints(
  host: ToolHost,
  jobId: string,
  waitSeconds: number,
  criterion: SelectionCriterion | undefined,
): Promise<StepOutcome> {
  const spec = host.trace.jobsRequested.get(jobId);
  if (!spec || spec.entrypoint !== 'train')
    return fail('UNKNOWN_JOB', `no training job ${jobId} was launched by this candidate`);
  const done = host.summary().evaluations.get(jobId);
  if (done) return okOut(done); // a finished evaluation is never repeated
  const run = host.summary().runs.get(jobId);
  const t = await host.jobs.wait(jobId, Math.min(waitSeconds, host.maxWaitSeconds()));
  const job = host.jobs.view(spec, jobId, t);
  if (!t)
    return fail('JOB_RUNNING', `training job ${jobId} has not finished yet; poll it and evaluate afterwards`, { job });
  if (t.status !== 'succeeded')
    return fail('JOB_NOT_SUCCEEDED', `training job ${jobId} ${t.status}; it has no checkpoints to evaluate`, { job });
  const launchOut = host.trace.steps[run?.step ?? -1]?.outcome?.output as LaunchOutput | undefined;
  const ckptDir = launchOut?.checkpointsDir;
  if (!ckptDir || !run) return fail('UNKNOWN_JOB', `no launch record for ${jobId}`);
  let summaryDoc: TrainSummary;
  try {
    const parsed = TrainSummary.safeParse(JSON.parse(host.files.readWhole(`${ckptDir}/train-summary.json`)));
    if (!parsed.success) throw new Error(describeIssues(zodIssues(parsed.error)));
    summaryDoc = parsed.data;
  } catch (err) {
    return fail('INVALID_OUTPUT', `${ckptDir}/train-summary.json: ${(err as Error).message}`, {
      failure: 'invalid-output',
      job,
    });
  }
  if (summaryDoc.checkpoints.length === 0)
    return fail('INVALID_OUTPUT', `${ckptDir}/train-summary.json lists no checkpoints`, {
      failure: 'invalid-output',
      job,
    });
  const request: EvaluationRequest = {
    requestId: `${jobId}-eval`,
    candidateId: host.candidateId,
    round: host.inputs.fork.round,
    sandboxPath: host.inputs.fork.sandboxPath,
    checkpoints: summaryDoc.checkpoints.map((d) => `${ckptDir}/${d}`),
    seed: run.seed,
    criterion: criterion ?? host.inputs.policy.selectionCriterion,
  };
  await host.apply({ kind: 'RequestEvaluation', request });
  await host.evaluator.submit(request, host.inputs.fork.snapshotId);
  const result = await host.evaluator.wait(request, Math.max(0, waitSeconds) * 1000);
  if (!result)
    return fail(
      'EVALUATION_PENDING',
      `evaluation ${request.requestId} is still running; call evaluate_checkpoints again to wait for it`,
      { job },
    );
  if (result.checkpoints.length === 0)
    return fail(
      'EVALUATION_FAILED',
      `no checkpoint of ${jobId} could be evaluated: ` +
        `${result.failures.map((f) => `${f.checkpoint}: ${f.reason}`).join('; ')}`,
      {
        failure: 'evaluation-failed',
        job,
      },
    );
  // The evaluation service's selection is the one recorded; the worker never re-selects. None recorded although
  // checkpoints were scored is the evaluation's failure, not something to paper over.
  const selected = result.selected;
  if (!selected || !result.checkpoints.some((c) => c.checkpoint === selected.checkpoint))
    return fail(
      'EVALUATION_FAILED',
      selected
        ? `evaluation ${request.requestId} selected ${selected.checkpoint}, which is not among its ` +
            `evaluated checkpoints`
        : `evaluation ${request.requestId} scored ${result.checkpoints.length} checkpoint(s) but recorded no selection`,
      { failure: 'evaluation-failed', job },
    );
  const out: EvaluateOutput = {
    jobId,
    requestId: request.requestId,
    seed: run.seed,
    job,
    checkpoints: result.checkpoints,
    selected: {
      checkpoint: selected.checkpoint,
      score: selected.score,
      criterion: describeCriterion(selected.criterion),
    },
    failures: result.failures,
  };
  return okOut(out);
}
