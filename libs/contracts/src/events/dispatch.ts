import { z } from 'zod';
import { defineEvent } from '../envelope';
import { EntrypointName, JobResources } from '../substrate';
import { Slug } from '../ids';

export const JobSpec = z
  .object({
    jobId: Slug,
    candidateId: Slug,
    round: z.number().int().min(1),
    entrypoint: EntrypointName,
    sandboxPath: z.string().min(1),
    /** Fully rendered argv (placeholders substituted), run with cwd = sandboxPath. */
    argv: z.array(z.string().min(1)).min(1),
    env: z.record(z.string(), z.string()).default({}),
    resources: JobResources,
    timeoutSeconds: z.number().int().positive(),
    priority: z.enum(['low', 'normal', 'high']).default('normal'),
  })
  .strict();
export type JobSpec = z.infer<typeof JobSpec>;

export const JobRequested = defineEvent(
  'JobRequested',
  { owners: ['worker', 'evaluation', 'leaderboard'], description: 'A service asked dispatch to run an entrypoint.' },
  z.object({ spec: JobSpec }).strict(),
);

export const JobQueued = defineEvent(
  'JobQueued',
  { owners: ['dispatch'], description: 'Dispatch accepted a job and queued it for an executor.' },
  z
    .object({
      jobId: Slug,
      candidateId: Slug,
      round: z.number().int().min(1),
      executor: z.enum(['local', 'kubernetes']),
      queuePosition: z.number().int().min(0),
      /** The accepted spec, so that dispatch can resubmit a queued job after a restart from its own stream. */
      spec: JobSpec,
    })
    .strict(),
);

export const JobStarted = defineEvent(
  'JobStarted',
  { owners: ['dispatch'], description: 'A job began running on a slot or cluster.' },
  z
    .object({
      jobId: Slug,
      candidateId: Slug,
      executor: z.enum(['local', 'kubernetes']),
      slot: z.string().nullable(),
      handle: z.string().describe('pid/pgid for local, Job name for Kubernetes'),
      attempt: z.number().int().min(1),
    })
    .strict(),
);

const Terminal = {
  jobId: Slug,
  candidateId: Slug,
  round: z.number().int().min(1),
  gpuSeconds: z.number().min(0),
  wallSeconds: z.number().min(0),
  logTail: z.string(),
  logPath: z.string().nullable(),
  executor: z.enum(['local', 'kubernetes']),
  /** GPUs the job held (0 on a CPU slot). */
  gpuCount: z.number().int().min(0),
  /**
   * What `gpuSeconds` counts: `gpu-seconds` = gpuCount × wallSeconds on GPUs; `cpu-slot-seconds` = a CPU-only slot's
   * wall seconds × the configured slot weight (a CPU box has no GPUs, so budget is charged per slot instead).
   */
  budgetUnit: z.enum(['gpu-seconds', 'cpu-slot-seconds']),
};

export const JobSucceeded = defineEvent(
  'JobSucceeded',
  { owners: ['dispatch'], description: 'A job exited 0.' },
  z.object({ ...Terminal, exitCode: z.literal(0) }).strict(),
);
export const JobFailed = defineEvent(
  'JobFailed',
  { owners: ['dispatch'], description: 'A job exited non-zero, timed out, or was lost.' },
  z
    .object({
      ...Terminal,
      exitCode: z.number().int().nullable(),
      reason: z.enum(['exit-code', 'timeout', 'diverged', 'lost', 'executor-error', 'deadline-exceeded']),
      message: z.string(),
    })
    .strict(),
);
export const JobCancelled = defineEvent(
  'JobCancelled',
  { owners: ['dispatch'], description: 'A job was cancelled on request.' },
  z.object({ ...Terminal, reason: z.string() }).strict(),
);
export const JobPreempted = defineEvent(
  'JobPreempted',
  { owners: ['dispatch'], description: 'Kueue suspended the job (quota/preemption); it will resume, not fail.' },
  z.object({ jobId: Slug, candidateId: Slug, reason: z.string() }).strict(),
);
