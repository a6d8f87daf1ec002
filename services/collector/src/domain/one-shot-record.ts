import type {
  CampaignReportRecorded,
  ClaudeFellBack,
  DataOf,
  Decider,
  RoundCollectionDeadlineSet,
  RoundEvidenceRecorded,
} from '@aevo/contracts';

/** What the collector records on its one-shot streams (a round's deadline, a round's evidence, a campaign's report). */
export type OneShotEvent =
  | { type: 'RoundCollectionDeadlineSet'; data: DataOf<typeof RoundCollectionDeadlineSet> }
  | { type: 'ClaudeFellBack'; data: DataOf<typeof ClaudeFellBack> }
  | { type: 'RoundEvidenceRecorded'; data: DataOf<typeof RoundEvidenceRecorded> }
  | { type: 'CampaignReportRecorded'; data: DataOf<typeof CampaignReportRecorded> };

export const ONE_SHOT_EVENT_TYPES: ReadonlySet<string> = new Set<OneShotEvent['type']>([
  'RoundCollectionDeadlineSet',
  'ClaudeFellBack',
  'RoundEvidenceRecorded',
  'CampaignReportRecorded',
]);

export interface RecordOnce {
  type: 'RecordOnce';
  /** Appended together, in this order, when the stream holds nothing yet. */
  events: OneShotEvent[];
}

export interface OneShotState {
  recorded: boolean;
}

/**
 * A one-shot stream (`collector-deadline-…`, `collector-…-r<round>`, `collector-report-…`): the first record is
 * kept, any later one (a redelivery, a racing replica) records nothing, so each fact is recorded exactly once.
 */
export const oneShotDecider: Decider<RecordOnce, OneShotEvent, OneShotState> = {
  initialState: () => ({ recorded: false }),
  evolve: () => ({ recorded: true }),
  decide: (command, state) => (state.recorded ? [] : command.events),
};
