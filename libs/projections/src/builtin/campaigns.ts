import {
  CampaignAborted,
  CampaignCompleted,
  CampaignPaused,
  CampaignResumed,
  CampaignStarted,
  isEvent,
  PolicyRevised,
  RoundClosed,
  RoundStarted,
} from '@aevo/contracts';
import { defineProjection, sortedRecord } from '../projection';

export interface CampaignRow {
  name: string | null;
  status: 'running' | 'paused' | 'aborted' | 'completed';
  seed: number;
  substratePath: string;
  constitutionSha256: string;
  roundsPlanned: number;
  workersPerRound: number;
  axes: string[];
  roundsStarted: number;
  roundsClosed: number;
  currentRound: number | null;
  policyRevision: number;
  bestPublicLb: number | null;
  abortReason: string | null;
  completion: {
    reason: string;
    rounds: number;
    bestCandidateId: string | null;
    bestPublicLb: number | null;
    bestPrivateLb: number | null;
  } | null;
}

/** One row per campaign: configuration, status, progress and best results. */
export const campaignsProjection = defineProjection({
  name: 'campaigns',
  description: 'campaign summary and status',
  eventTypes: [
    CampaignStarted.type,
    RoundStarted.type,
    RoundClosed.type,
    PolicyRevised.type,
    CampaignPaused.type,
    CampaignResumed.type,
    CampaignAborted.type,
    CampaignCompleted.type,
  ],
  initial: () => new Map<string, CampaignRow>(),
  apply(state, e) {
    if (isEvent(e, CampaignStarted)) {
      const c = e.data.config;
      state.set(e.campaignId, {
        name: c.name ?? null,
        status: 'running',
        seed: c.seed,
        substratePath: c.substratePath,
        constitutionSha256: e.data.constitutionSha256,
        roundsPlanned: c.rounds,
        workersPerRound: c.workersPerRound,
        axes: [...c.axes],
        roundsStarted: 0,
        roundsClosed: 0,
        currentRound: null,
        policyRevision: e.data.initialPolicy.revision,
        bestPublicLb: null,
        abortReason: null,
        completion: null,
      });
      return state;
    }
    const row = state.get(e.campaignId);
    if (!row) return state;
    if (isEvent(e, RoundStarted)) {
      row.roundsStarted = Math.max(row.roundsStarted, e.data.round);
      row.currentRound = e.data.round;
    } else if (isEvent(e, RoundClosed)) {
      row.roundsClosed = Math.max(row.roundsClosed, e.data.round);
      if (e.data.bestPublicLb !== null && (row.bestPublicLb === null || e.data.bestPublicLb > row.bestPublicLb))
        row.bestPublicLb = e.data.bestPublicLb;
    } else if (isEvent(e, PolicyRevised)) {
      row.policyRevision = Math.max(row.policyRevision, e.data.policy.revision);
    } else if (isEvent(e, CampaignPaused)) {
      if (row.status === 'running') row.status = 'paused';
    } else if (isEvent(e, CampaignResumed)) {
      if (row.status === 'paused') row.status = 'running';
    } else if (isEvent(e, CampaignAborted)) {
      row.status = 'aborted';
      row.abortReason = e.data.reason;
    } else if (isEvent(e, CampaignCompleted)) {
      row.status = 'completed';
      row.completion = { ...e.data };
    }
    return state;
  },
  snapshot: (state) => sortedRecord(state, (r) => r),
});
