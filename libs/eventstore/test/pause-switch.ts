import {
  CampaignPaused,
  CampaignResumed,
  DomainError,
  createEvent,
  isEvent,
  type Decider,
  type EventEnvelope,
} from '@aevo/contracts';
import type { EventStore } from '../src';

/* The decider and the racing writer the command-handler specs share. */

export type Command = { kind: 'pause'; reason: string } | { kind: 'resume' };
export interface State {
  paused: boolean;
  pauses: number;
}

/** A campaign's pause switch: pausing twice is refused, so a lost race shows up as a refusal after the retry. */
export const pauseSwitch = (campaignId: string, streamId: string): Decider<Command, EventEnvelope, State> => ({
  initialState: () => ({ paused: false, pauses: 0 }),
  evolve: (s, e) =>
    isEvent(e, CampaignPaused)
      ? { paused: true, pauses: s.pauses + 1 }
      : isEvent(e, CampaignResumed)
        ? { ...s, paused: false }
        : s,
  decide: (c, s) => {
    const ctx = { campaignId, streamId, source: 'orchestrator' as const };
    if (c.kind === 'pause') {
      if (s.paused) throw new DomainError('ALREADY_PAUSED', 'the campaign is already paused');
      return [createEvent(CampaignPaused, { reason: c.reason }, ctx)];
    }
    if (!s.paused) throw new DomainError('NOT_PAUSED', 'the campaign is not paused');
    return [createEvent(CampaignResumed, {}, ctx)];
  },
});

/** The real store, with a writer that slips in one event right before each of the first `times` appends. */
export function withRacingWriter(
  inner: EventStore,
  campaignId: string,
  times: number,
): EventStore & { interferences: number } {
  const wrapped = Object.create(inner) as EventStore & { interferences: number };
  wrapped.interferences = 0;
  wrapped.append = async (streamId, expected, events, opts) => {
    if (wrapped.interferences < times) {
      wrapped.interferences++;
      const state = (await inner.readStream(streamId)).reduce(pauseSwitch(campaignId, streamId).evolve, {
        paused: false,
        pauses: 0,
      });
      const racing = state.paused
        ? createEvent(CampaignResumed, {}, { campaignId, streamId, source: 'orchestrator' })
        : createEvent(CampaignPaused, { reason: 'racing writer' }, { campaignId, streamId, source: 'orchestrator' });
      await inner.append(streamId, 'any', [racing]);
    }
    return inner.append(streamId, expected, events, opts);
  };
  return wrapped;
}
