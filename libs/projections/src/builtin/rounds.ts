import {
  CandidateForked,
  isEvent,
  LeaderboardScored,
  ManifestSubmitted,
  PolicyRevised,
  RoundClosed,
  RoundEvidenceRecorded,
  RoundStarted,
  SubmissionRequested,
} from '@aevo/contracts';
import { defineProjection, sortedRecord } from '../projection';

interface RoundState {
  campaignId: string;
  round: number;
  status: 'started' | 'evidence-recorded' | 'closed';
  policyRevision: number;
  policySha256: string;
  seed: number;
  planned: number;
  anchorSeeds: number;
  forked: Set<string>;
  manifests: Map<string, 'completed' | 'failed'>;
  bestDev: number | null;
  submissions: Set<string>;
  publicScores: Map<string, number>;
  evidenceSha256: string | null;
  revisedToRevision: number | null;
  closedBestPublicLb: number | null;
}

export const roundKey = (campaignId: string, round: number): string =>
  `${campaignId}/${String(round).padStart(4, '0')}`;

/** One row per (campaign, round): plan, progress, results and the policy it produced. */
export const roundsProjection = defineProjection({
  name: 'rounds',
  description: 'round table',
  eventTypes: [
    RoundStarted.type,
    CandidateForked.type,
    ManifestSubmitted.type,
    SubmissionRequested.type,
    LeaderboardScored.type,
    RoundEvidenceRecorded.type,
    PolicyRevised.type,
    RoundClosed.type,
  ],
  initial: () => new Map<string, RoundState>(),
  apply(state, e) {
    if (isEvent(e, RoundStarted)) {
      const anchor = e.data.candidates.find((c) => c.isAnchor);
      state.set(roundKey(e.campaignId, e.data.round), {
        campaignId: e.campaignId,
        round: e.data.round,
        status: 'started',
        policyRevision: e.data.policyRevision,
        policySha256: e.data.policySha256,
        seed: e.data.seed,
        planned: e.data.candidates.length,
        anchorSeeds: anchor ? anchor.seeds.length : 0,
        forked: new Set(),
        manifests: new Map(),
        bestDev: null,
        submissions: new Set(),
        publicScores: new Map(),
        evidenceSha256: null,
        revisedToRevision: null,
        closedBestPublicLb: null,
      });
      return state;
    }
    const d = e.data as { round?: number };
    if (typeof d.round !== 'number') return state;
    const r = state.get(roundKey(e.campaignId, d.round));
    if (!r) return state;
    if (isEvent(e, CandidateForked)) r.forked.add(e.data.candidateId);
    else if (isEvent(e, ManifestSubmitted)) {
      r.manifests.set(e.data.candidateId, e.data.manifest.status);
      const dev = e.data.manifest.chosenCheckpoint?.dev.overall;
      if (dev !== undefined && (r.bestDev === null || dev > r.bestDev)) r.bestDev = dev;
    } else if (isEvent(e, SubmissionRequested)) r.submissions.add(e.data.submissionId);
    else if (isEvent(e, LeaderboardScored)) r.publicScores.set(e.data.submissionId, e.data.publicScore);
    else if (isEvent(e, RoundEvidenceRecorded)) {
      r.evidenceSha256 = e.data.evidenceSha256;
      if (r.status === 'started') r.status = 'evidence-recorded';
    } else if (isEvent(e, PolicyRevised)) r.revisedToRevision = e.data.policy.revision;
    else if (isEvent(e, RoundClosed)) {
      r.status = 'closed';
      r.closedBestPublicLb = e.data.bestPublicLb;
    }
    return state;
  },
  snapshot: (state) =>
    sortedRecord(state, (r) => {
      const manifests = [...r.manifests.values()];
      const scores = [...r.publicScores.values()];
      return {
        campaignId: r.campaignId,
        round: r.round,
        status: r.status,
        policyRevision: r.policyRevision,
        policySha256: r.policySha256,
        seed: r.seed,
        planned: r.planned,
        anchorSeeds: r.anchorSeeds,
        forked: r.forked.size,
        manifestsCompleted: manifests.filter((s) => s === 'completed').length,
        manifestsFailed: manifests.filter((s) => s === 'failed').length,
        bestDev: r.bestDev,
        submissions: r.submissions.size,
        scored: scores.length,
        bestPublicLb: scores.length > 0 ? Math.max(...scores) : null,
        evidenceSha256: r.evidenceSha256,
        revisedToRevision: r.revisedToRevision,
        closedBestPublicLb: r.closedBestPublicLb,
      };
    }),
});
