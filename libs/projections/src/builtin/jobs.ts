import {
  isEvent,
  JobCancelled,
  JobFailed,
  JobPreempted,
  JobQueued,
  JobRequested,
  JobStarted,
  JobSucceeded,
} from '@aevo/contracts';
import { defineProjection, sortedRecord } from '../projection';

interface JobRow {
  campaignId: string;
  candidateId: string;
  round: number;
  entrypoint: string;
  status: 'requested' | 'queued' | 'running' | 'preempted' | 'succeeded' | 'failed' | 'cancelled';
  exitCode: number | null;
  failure: string | null;
}

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);

/**
 * Current status of every job. Operational: a disturbed run legitimately has other attempts and job ids, so it is
 * not `deterministic` (timings, pids, slots and log tails are left out all the same).
 */
export const jobsProjection = defineProjection({
  name: 'jobs',
  description: 'job status',
  deterministic: false,
  eventTypes: [
    JobRequested.type,
    JobQueued.type,
    JobStarted.type,
    JobPreempted.type,
    JobSucceeded.type,
    JobFailed.type,
    JobCancelled.type,
  ],
  initial: () => new Map<string, JobRow>(),
  apply(state, e) {
    if (isEvent(e, JobRequested)) {
      const s = e.data.spec;
      if (!state.has(s.jobId))
        state.set(s.jobId, {
          campaignId: e.campaignId,
          candidateId: s.candidateId,
          round: s.round,
          entrypoint: s.entrypoint,
          status: 'requested',
          exitCode: null,
          failure: null,
        });
      return state;
    }
    const row = state.get((e.data as { jobId: string }).jobId);
    if (!row) return state;
    const move = (status: JobRow['status']) => {
      if (!TERMINAL.has(row.status)) row.status = status;
    };
    if (isEvent(e, JobQueued)) move('queued');
    else if (isEvent(e, JobStarted)) move('running');
    else if (isEvent(e, JobPreempted)) move('preempted');
    else if (isEvent(e, JobSucceeded)) {
      row.status = 'succeeded';
      row.exitCode = 0;
      row.failure = null;
    } else if (isEvent(e, JobFailed)) {
      row.status = 'failed';
      row.exitCode = e.data.exitCode;
      row.failure = e.data.reason;
    } else if (isEvent(e, JobCancelled)) {
      row.status = 'cancelled';
      row.failure = e.data.reason;
    }
    return state;
  },
  snapshot: (state) => sortedRecord(state, (r) => r),
});
