import type { FailureReason } from '../types';
import { ANNOTATIONS } from './manifest';

/** The parts of a batch/v1 Job (as JSON from a watch, or as client-node model objects) that dispatch reads. */
export interface JobObject {
  metadata?: {
    name?: string;
    uid?: string;
    namespace?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    deletionTimestamp?: string | Date;
    creationTimestamp?: string | Date;
  };
  spec?: {
    suspend?: boolean;
    template?: { spec?: { containers?: Array<{ resources?: { limits?: Record<string, string> } }> } };
  };
  status?: {
    active?: number;
    succeeded?: number;
    failed?: number;
    startTime?: string | Date;
    completionTime?: string | Date;
    conditions?: Array<{
      type?: string;
      status?: string;
      reason?: string;
      message?: string;
      lastTransitionTime?: string | Date;
    }>;
  };
}

export type ObservedJob =
  /** `waitingSince`: when this wait began (the last suspension, else the Job's creation); null when unknown. */
  | { phase: 'queued'; suspended: boolean; waitingSince: string | null }
  | { phase: 'running'; startedAt: string | null }
  | { phase: 'succeeded'; startedAt: string | null; finishedAt: string | null }
  | {
      phase: 'failed';
      reason: FailureReason;
      message: string;
      conditionReason: string;
      startedAt: string | null;
      finishedAt: string | null;
    };

export const isoOf = (t: string | Date | undefined | null): string | null =>
  t == null ? null : t instanceof Date ? t.toISOString() : String(t);

const condition = (job: JobObject, type: string) =>
  job.status?.conditions?.find((c) => c.type === type && c.status === 'True');

/**
 * What state a Job is in, from its spec and status alone. `Complete`/`Failed` conditions are terminal; a suspended
 * Job (Kueue has not admitted it, or preempted it) is queued, never failed; a Job with active pods runs.
 */
export function observeJob(job: JobObject): ObservedJob {
  const startedAt = isoOf(job.status?.startTime);
  const complete = condition(job, 'Complete');
  if (complete)
    return {
      phase: 'succeeded',
      startedAt,
      finishedAt: isoOf(job.status?.completionTime) ?? isoOf(complete.lastTransitionTime),
    };
  const failed = condition(job, 'Failed');
  if (failed) {
    const conditionReason = failed.reason ?? 'Failed';
    const reason: FailureReason =
      conditionReason === 'DeadlineExceeded'
        ? 'deadline-exceeded'
        : conditionReason === 'BackoffLimitExceeded' || conditionReason === 'PodFailurePolicy'
          ? 'exit-code'
          : 'executor-error';
    return {
      phase: 'failed',
      reason,
      message: `${conditionReason}: ${failed.message ?? 'Job failed'}`,
      conditionReason,
      startedAt,
      finishedAt: isoOf(failed.lastTransitionTime),
    };
  }
  const suspendedSince = condition(job, 'Suspended')?.lastTransitionTime;
  const waitingSince = isoOf(suspendedSince) ?? isoOf(job.metadata?.creationTimestamp);
  if (job.spec?.suspend) return { phase: 'queued', suspended: true, waitingSince };
  // Admitted: pods active, or between two pods of a retry (Kueue clears startTime when it suspends a Job, the Job
  // controller sets it when the Job runs, so an unsuspended Job with a startTime has been admitted).
  if ((job.status?.active ?? 0) > 0 || startedAt) return { phase: 'running', startedAt };
  return { phase: 'queued', suspended: false, waitingSince };
}

/** When the Job was last suspended (its `Suspended` condition turned True), if it is suspended now. */
export function suspendedAt(job: JobObject): string | null {
  return job.spec?.suspend ? isoOf(condition(job, 'Suspended')?.lastTransitionTime) : null;
}

/** GPUs the Job's container asks for (the annotation, else `limits['nvidia.com/gpu']`). */
export function gpuCountOf(job: JobObject): number {
  const ann = Number(job.metadata?.annotations?.[ANNOTATIONS.gpu]);
  if (Number.isInteger(ann) && ann >= 0) return ann;
  const lim = Number(job.spec?.template?.spec?.containers?.[0]?.resources?.limits?.['nvidia.com/gpu'] ?? 0);
  return Number.isFinite(lim) ? lim : 0;
}
