import { defineProjection, sortedRecord } from '../projection';

/**
 * Event kinds whose number is a property of the campaign, not of how the run went: decisions and outcomes that
 * are appended once per fact (idempotent by command/event id). Excluded on purpose: trace steps, job lifecycle,
 * worker (re)starts, evaluation attempts, dead letters, pause/resume and the like, which crashes and retries
 * legitimately multiply.
 */
export const DETERMINISTIC_EVENT_TYPES: readonly string[] = [
  'CampaignStarted',
  'RoundStarted',
  'SubmissionRequested',
  'RoundClosed',
  'CampaignAborted',
  'CampaignCompleted',
  'SubstrateSnapshotted',
  'CandidateForked',
  'FrozenPathViolated',
  'ManifestSubmitted',
  'CheckpointSelected',
  'LeaderboardOpened',
  'SubmissionAccepted',
  'LeaderboardScored',
  'SubmissionRejected',
  'PrivateLeaderboardUnsealed',
  'RoundEvidenceRecorded',
  'PolicyRevised',
  'ConstitutionViolationRefused',
];

/** Count of each deterministic event kind, per campaign and in total. */
export const eventCountsProjection = defineProjection({
  name: 'event-counts',
  description: 'event counts by type (deterministic kinds only)',
  eventTypes: DETERMINISTIC_EVENT_TYPES,
  initial: () => ({ total: new Map<string, number>(), byCampaign: new Map<string, Map<string, number>>() }),
  apply(state, e) {
    state.total.set(e.type, (state.total.get(e.type) ?? 0) + 1);
    let c = state.byCampaign.get(e.campaignId);
    if (!c) state.byCampaign.set(e.campaignId, (c = new Map()));
    c.set(e.type, (c.get(e.type) ?? 0) + 1);
    return state;
  },
  snapshot: (state) => ({
    total: sortedRecord(state.total, (n) => n),
    byCampaign: sortedRecord(state.byCampaign, (m) => sortedRecord(m, (n) => n)),
  }),
});
