import type { EventEnvelope } from '@aevo/contracts';
import type { EventStore } from '@aevo/eventstore';
import type { CandidateLog } from '../ports';

/** The candidate stream in the event store of record; appends are optimistic (expected version). */
export class EventStoreCandidateLog implements CandidateLog {
  constructor(
    private readonly store: EventStore,
    readonly streamId: string,
  ) {}

  async read(): Promise<EventEnvelope[]> {
    return this.store.readStream(this.streamId);
  }

  async append(events: EventEnvelope[], expectedVersion: number): Promise<number> {
    const r = await this.store.append(this.streamId, expectedVersion === 0 ? 'no-stream' : expectedVersion, events);
    return r.nextExpectedVersion;
  }
}
