import { isEvent, LeaderboardScored, ManifestSubmitted, PrivateLeaderboardUnsealed } from '@aevo/contracts';
import { defineProjection, sortedRecord } from '../projection';
import { roundKey } from './rounds';

interface RoundPoint {
  campaignId: string;
  round: number;
  dev: Map<string, number>;
  anchorDev: Map<string, number>;
  publicBySubmission: Map<string, number>;
  privateBySubmission: Map<string, number>;
}

const max = (xs: number[]): number | null => (xs.length > 0 ? Math.max(...xs) : null);
const mean = (xs: number[]): number | null => (xs.length > 0 ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

/** Per (campaign, round): best dev, anchor dev, best public LB and — once unsealed — the private LB. */
export const trajectoryProjection = defineProjection({
  name: 'trajectory',
  description: 'dev / public LB / private LB per round',
  eventTypes: [ManifestSubmitted.type, LeaderboardScored.type, PrivateLeaderboardUnsealed.type],
  initial: () => new Map<string, RoundPoint>(),
  apply(state, e) {
    const point = (campaignId: string, round: number): RoundPoint => {
      const k = roundKey(campaignId, round);
      let p = state.get(k);
      if (!p) {
        p = {
          campaignId,
          round,
          dev: new Map(),
          anchorDev: new Map(),
          publicBySubmission: new Map(),
          privateBySubmission: new Map(),
        };
        state.set(k, p);
      }
      return p;
    };
    if (isEvent(e, ManifestSubmitted)) {
      const m = e.data.manifest;
      if (m.status === 'completed' && m.chosenCheckpoint) {
        const p = point(e.campaignId, e.data.round);
        p.dev.set(e.data.candidateId, m.chosenCheckpoint.dev.overall);
        if (m.isAnchor) p.anchorDev.set(e.data.candidateId, m.chosenCheckpoint.dev.overall);
      }
    } else if (isEvent(e, LeaderboardScored)) {
      point(e.campaignId, e.data.round).publicBySubmission.set(e.data.submissionId, e.data.publicScore);
    } else if (isEvent(e, PrivateLeaderboardUnsealed)) {
      for (const s of e.data.scores)
        point(e.campaignId, s.round).privateBySubmission.set(s.submissionId, s.privateScore);
    }
    return state;
  },
  snapshot: (state) =>
    sortedRecord(state, (p) => {
      // The submission with the best public score (ties: smallest id) is the one whose private score matters.
      let best: [string, number] | null = null;
      for (const id of [...p.publicBySubmission.keys()].sort()) {
        const s = p.publicBySubmission.get(id) as number;
        if (best === null || s > best[1]) best = [id, s];
      }
      return {
        campaignId: p.campaignId,
        round: p.round,
        bestDev: max([...p.dev.values()]),
        anchorDev: mean([...p.anchorDev.values()]),
        bestPublicLb: best ? best[1] : null,
        bestPublicSubmission: best ? best[0] : null,
        privateLbOfBestPublic: best ? (p.privateBySubmission.get(best[0]) ?? null) : null,
        bestPrivateLb: max([...p.privateBySubmission.values()]),
      };
    }),
});
