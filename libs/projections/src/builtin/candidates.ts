import {
  CandidateForked,
  CheckpointSelected,
  FrozenPathViolated,
  isEvent,
  LeaderboardScored,
  ManifestSubmitted,
  RoundStarted,
  SubmissionRejected,
  SubmissionRequested,
  WorkerFailed,
  WorkerStarted,
} from '@aevo/contracts';
import { defineProjection, sortedRecord } from '../projection';

type Status = 'planned' | 'forked' | 'working' | 'completed' | 'failed' | 'invalidated';

interface CandidateRow {
  campaignId: string;
  round: number;
  index: number;
  axis: string;
  isAnchor: boolean;
  seeds: number[];
  status: Status;
  policyRevision: number | null;
  chosenCheckpoint: string | null;
  dev: number | null;
  devDomains: Record<string, number> | null;
  recipeChanges: number;
  failureModes: string[];
  selectedCheckpoint: string | null;
  submissions: string[];
  publicLb: number | null;
  rejected: string[];
  invalidation: string | null;
}

const FINAL: ReadonlySet<Status> = new Set(['completed', 'failed', 'invalidated']);

/** One row per candidate: plan, lifecycle, chosen checkpoint, dev and public LB. */
export const candidatesProjection = defineProjection({
  name: 'candidates',
  description: 'candidate table',
  eventTypes: [
    RoundStarted.type,
    CandidateForked.type,
    WorkerStarted.type,
    WorkerFailed.type,
    ManifestSubmitted.type,
    CheckpointSelected.type,
    FrozenPathViolated.type,
    SubmissionRequested.type,
    LeaderboardScored.type,
    SubmissionRejected.type,
  ],
  initial: () => new Map<string, CandidateRow>(),
  apply(state, e) {
    if (isEvent(e, RoundStarted)) {
      for (const c of e.data.candidates) {
        if (state.has(c.candidateId)) continue;
        state.set(c.candidateId, {
          campaignId: e.campaignId,
          round: e.data.round,
          index: c.index,
          axis: c.axis,
          isAnchor: c.isAnchor,
          seeds: [...c.seeds],
          status: 'planned',
          policyRevision: e.data.policyRevision,
          chosenCheckpoint: null,
          dev: null,
          devDomains: null,
          recipeChanges: 0,
          failureModes: [],
          selectedCheckpoint: null,
          submissions: [],
          publicLb: null,
          rejected: [],
          invalidation: null,
        });
      }
      return state;
    }
    const id = (e.data as { candidateId?: string }).candidateId;
    if (typeof id !== 'string') return state;
    const row = state.get(id);
    if (!row) return state;
    if (isEvent(e, CandidateForked)) {
      if (row.status === 'planned') row.status = 'forked';
    } else if (isEvent(e, WorkerStarted)) {
      if (!FINAL.has(row.status)) row.status = 'working';
    } else if (isEvent(e, WorkerFailed)) {
      if (row.status !== 'invalidated' && row.status !== 'completed') row.status = 'failed';
    } else if (isEvent(e, ManifestSubmitted)) {
      const m = e.data.manifest;
      if (row.status !== 'invalidated') row.status = m.status;
      row.chosenCheckpoint = m.chosenCheckpoint?.checkpoint ?? null;
      row.dev = m.chosenCheckpoint?.dev.overall ?? null;
      row.devDomains = m.chosenCheckpoint ? { ...m.chosenCheckpoint.dev.domains } : null;
      row.recipeChanges = m.recipeChanges.length;
      row.failureModes = [...new Set(m.failureModes.map((f) => f.kind))].sort();
    } else if (isEvent(e, CheckpointSelected)) {
      row.selectedCheckpoint = e.data.checkpoint;
    } else if (isEvent(e, FrozenPathViolated)) {
      row.status = 'invalidated';
      row.invalidation = `${e.data.kind}: ${e.data.path}`;
    } else if (isEvent(e, SubmissionRequested)) {
      if (!row.submissions.includes(e.data.submissionId))
        row.submissions = [...row.submissions, e.data.submissionId].sort();
    } else if (isEvent(e, LeaderboardScored)) {
      if (row.publicLb === null || e.data.publicScore > row.publicLb) row.publicLb = e.data.publicScore;
    } else if (isEvent(e, SubmissionRejected)) {
      if (!row.rejected.includes(e.data.reason)) row.rejected = [...row.rejected, e.data.reason].sort();
    }
    return state;
  },
  snapshot: (state) => sortedRecord(state, (r) => r),
});
