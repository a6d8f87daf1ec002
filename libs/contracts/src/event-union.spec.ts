import { eventUnion, type EventOfUnion } from './event-union';
import { JobQueued, JobStarted } from './events/dispatch';
import { RoundClosed } from './events/orchestrator';

describe('eventUnion: an aggregate lists its events once', () => {
  const JOB = eventUnion(JobQueued, JobStarted);
  type JobEv = EventOfUnion<typeof JOB>;

  it('given the listed definitions, the names and the guard come from them', () => {
    expect([...JOB.types]).toEqual(['JobQueued', 'JobStarted']);
    expect(JOB.typeList).toEqual(['JobQueued', 'JobStarted']);
    expect(JOB.is({ type: 'JobStarted', data: {} })).toBe(true);
    expect(JOB.is({ type: RoundClosed.type, data: {} })).toBe(false);
  });

  it('narrows a stored event so its data has the listed schema type (no cast)', () => {
    const stored: { type: string; data: unknown } = { type: 'JobStarted', data: { jobId: 'j1', attempt: 1 } };
    if (!JOB.is(stored)) throw new Error('expected a job event');
    const ev: JobEv = stored;
    expect(ev.type === 'JobStarted' ? ev.data.jobId : null).toBe('j1');
  });

  it('refuses an event listed twice', () => {
    expect(() => eventUnion(JobQueued, JobQueued)).toThrow(/listed twice/);
  });
});
