import {
  CheckpointEvaluated,
  CheckpointSelected,
  EvaluationStarted,
  JobFailed,
  JobRequested,
  JobStarted,
  JobSucceeded,
  type RollingPolicy,
} from '@aevo/contracts';
import type { SyntheticCheckpoint, SyntheticContext } from './context';
import { r3 } from './surface';

/** The candidate whose jobs are emitted, and where its sandbox lies. */
export interface JobOwner {
  candidateId: string;
  round: number;
  sandboxPath: string;
  seeds: number[];
}

/** Emits one job's request, start and end (success or a divergence); returns its GPU seconds. */
export function emitJob(
  ctx: SyntheticContext,
  owner: JobOwner,
  jobId: string,
  entrypoint: 'train' | 'evaluate',
  ok: boolean,
  streamId: string,
): number {
  const { ev, rnd, snapshotId } = ctx;
  const { candidateId, round, sandboxPath } = owner;
  const wall = r3(30 + 60 * rnd());
  ev(
    JobRequested,
    {
      spec: {
        jobId,
        candidateId,
        round,
        entrypoint,
        sandboxPath,
        argv: [entrypoint],
        resources: { cpu: 1, memoryMiB: 512, gpu: 1 },
        timeoutSeconds: 600,
        isolation: { snapshotId, outputs: ['runs'], inputs: [] },
      },
    },
    streamId,
    'worker',
  );
  ev(
    JobStarted,
    {
      jobId,
      candidateId,
      executor: 'local',
      slot: 'slot-0',
      handle: '4242',
      attempt: 1,
      isolation: 'bubblewrap',
    },
    `job-${jobId}`,
    'dispatch',
  );
  const terminal = {
    jobId,
    candidateId,
    round,
    gpuSeconds: wall,
    wallSeconds: wall,
    logPath: null,
    executor: 'local' as const,
    gpuCount: 1,
    budgetUnit: 'gpu-seconds' as const,
  };
  if (ok)
    ev(
      JobSucceeded,
      { ...terminal, exitCode: 0, logTail: `step 200 loss 0.${Math.floor(rnd() * 900 + 100)}\nsaved checkpoint` },
      `job-${jobId}`,
      'dispatch',
    );
  else
    ev(
      JobFailed,
      {
        ...terminal,
        exitCode: 1,
        reason: 'diverged',
        message: 'loss became NaN at step 140',
        logTail: 'step 140 loss nan\nDIVERGED',
      },
      `job-${jobId}`,
      'dispatch',
    );
  return wall;
}

/**
 * Evaluates every checkpoint of a trained candidate in one job and selects the best dev overall of its first seed;
 * returns the chosen checkpoint and the evaluation job's GPU seconds.
 */
export function evaluateCandidate(
  ctx: SyntheticContext,
  owner: JobOwner,
  checkpoints: SyntheticCheckpoint[],
  policy: RollingPolicy,
): { chosen: SyntheticCheckpoint; gpuSeconds: number } {
  const { ev, campaignId } = ctx;
  const { candidateId, round, sandboxPath, seeds } = owner;
  const requestId = `${candidateId}-eval`;
  const evalStream = `evaluation:${campaignId}:${requestId}`;
  ev(
    EvaluationStarted,
    {
      requestId,
      candidateId,
      round,
      sandboxPath,
      checkpoints: checkpoints.map((k) => k.checkpoint),
      seed: seeds[0],
      criterion: policy.selectionCriterion,
      verifiedBy: 'substrate-kit',
    },
    evalStream,
    'evaluation',
  );
  const gpuSeconds = emitJob(ctx, owner, `${requestId}-eval-0`, 'evaluate', true, evalStream);
  for (const k of checkpoints)
    ev(
      CheckpointEvaluated,
      {
        requestId,
        candidateId,
        round,
        checkpoint: k.checkpoint,
        step: k.step,
        seed: k.seed,
        split: 'dev',
        dev: k.dev,
        n: 200,
        jobId: `${requestId}-eval-0`,
      },
      evalStream,
      'evaluation',
    );
  const ofSeed = checkpoints.filter((k) => k.seed === seeds[0]);
  const chosen = ofSeed.reduce((a, b) => (b.dev.overall >= a.dev.overall ? b : a));
  ev(
    CheckpointSelected,
    {
      requestId,
      candidateId,
      round,
      checkpoint: chosen.checkpoint,
      step: chosen.step,
      criterion: policy.selectionCriterion,
      score: chosen.dev.overall,
      dev: chosen.dev,
      considered: ofSeed.length,
    },
    evalStream,
    'evaluation',
  );
  return { chosen, gpuSeconds };
}
