import { z } from 'zod';
import { defineEvent } from '../envelope';
import { EntrypointName, JobResources } from '../substrate';
import { Sha256, Slug } from '../ids';

/**
 * What a job may touch besides the read-only system: its sandbox read-only, the snapshot's pinned paths bound
 * read-only over the sandbox's own copies, its declared outputs writable, and named inputs read-only. The executor
 * enforces it by mounts (bubblewrap locally, volume mounts on Kubernetes); nothing else of AEVO_HOME is visible.
 */
export const JobIsolation = z
  .object({
    /** The snapshot the sandbox was forked from (`<AEVO_HOME>/snapshots/<id>`), the source of every pinned path. */
    snapshotId: Sha256,
    /**
     * Directories the job may write — its declared outputs only (prepare-data its data directory, train its
     * checkpoints directory, evaluate its scores directory). Sandbox-relative, or absolute under AEVO_HOME outside
     * the snapshots, sandboxes, logs and dispatch directories. Created before the job starts.
     */
    outputs: z.array(z.string().min(1).max(1000)).min(1).max(8),
    /** Files or directories outside the sandbox the job may read (e.g. the hidden prompts predict answers). */
    inputs: z.array(z.string().min(1).max(1000)).max(8).default([]),
  })
  .strict();
export type JobIsolation = z.infer<typeof JobIsolation>;

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
    isolation: JobIsolation,
  })
  .strict();
export type JobSpec = z.infer<typeof JobSpec>;

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
      /**
       * Which dispatcher accepted the job (one per compute cluster, AEVO_DISPATCHER or its JetStream domain): only it
       * hands the job to its executor, reconciles it after a restart and cancels it. Absent where dispatch runs
       * unnamed (a single cluster) and in logs written before clusters were told apart: any dispatcher.
       */
      dispatcher: z
        .string()
        .regex(/^[A-Za-z0-9_-]{1,32}$/, 'letters, digits, "_" or "-", at most 32')
        .optional(),
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
      /**
       * The boundary the job ran in: a bubblewrap sandbox, a locked-down Kubernetes pod, or none — only when the
       * operator ran dispatch with AEVO_UNSANDBOXED_JOBS set, which every job started that way records here.
       */
      isolation: z.enum(['bubblewrap', 'kubernetes-pod', 'none']),
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
  { owners: ['dispatch'], description: 'A job exited non-zero, timed out, waited too long in its queue, or was lost.' },
  z
    .object({
      ...Terminal,
      exitCode: z.number().int().nullable(),
      /**
       * `queue-timeout`: the job stayed suspended or queued (never admitted, or not re-admitted after a preemption)
       * past its deadline.
       */
      reason: z.enum([
        'exit-code',
        'timeout',
        'diverged',
        'lost',
        'executor-error',
        'deadline-exceeded',
        'queue-timeout',
      ]),
      message: z.string(),
    })
    .strict(),
);
export const JobCancelled = defineEvent(
  'JobCancelled',
  { owners: ['dispatch'], description: 'A job was cancelled on request.' },
  z.object({ ...Terminal, reason: z.string() }).strict(),
);
export const JobCancellationRequested = defineEvent(
  'JobCancellationRequested',
  {
    owners: ['dispatch'],
    description:
      "A CancelJob reached a dispatcher that does not run the job (another compute cluster's accepted it): the " +
      'request is recorded in the job stream, and the dispatcher that accepted the job cancels it on its executor.',
  },
  z
    .object({
      jobId: Slug,
      candidateId: Slug,
      reason: z.string().max(500),
      /** The dispatcher that accepted the job (JobQueued.dispatcher), the one that must act. */
      dispatcher: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'letters, digits, "_" or "-", at most 32'),
      /** The dispatcher that received the CancelJob (null: unnamed). */
      receivedBy: z
        .string()
        .regex(/^[A-Za-z0-9_-]{1,32}$/, 'letters, digits, "_" or "-", at most 32')
        .nullable(),
    })
    .strict(),
);
export const JobPreempted = defineEvent(
  'JobPreempted',
  { owners: ['dispatch'], description: 'Kueue suspended the job (quota/preemption); it will resume, not fail.' },
  z.object({ jobId: Slug, candidateId: Slug, reason: z.string() }).strict(),
);
