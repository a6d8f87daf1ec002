import { createTestDb, randomSuffix, type TestDb } from '@aevo/testkit';
import { PostgresEventStore, handle, type EventStore } from '../src';
import { pauseSwitch, withRacingWriter, type State } from './pause-switch';

jest.setTimeout(120_000);

/** handle() from a state the caller already folded (`from`), and deciding on it without a read (`optimistic`). */
describe('handle from a known state', () => {
  let db: TestDb;
  let store: PostgresEventStore;
  const campaignId = `c${randomSuffix()}`;
  const newStream = () => `campaign-${randomSuffix()}`;

  beforeAll(async () => {
    db = await createTestDb();
    store = await PostgresEventStore.open({ connectionString: db.url, schema: db.schema, poolSize: 4 });
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  it(
    'from a state the caller folded: reads only later events, ' + 'also after a conflict, and decides on them',
    async () => {
      const streamId = newStream();
      const decider = pauseSwitch(campaignId, streamId);
      const at = await handle(store, streamId, decider, { kind: 'pause', reason: 'one' }); // version 1: paused
      await handle(store, streamId, decider, { kind: 'resume' }); // version 2, not in `at`
      const reads: (number | undefined)[] = [];
      const racing = withRacingWriter(store, campaignId, 1);
      const spied = Object.create(racing) as EventStore;
      spied.readStream = (id, fromVersion) => (reads.push(fromVersion), racing.readStream(id, fromVersion));
      const toggle = (s: State) => (s.paused ? { kind: 'resume' as const } : { kind: 'pause' as const, reason: 't' });
      // From version 1: reads 2 (resumed) and pauses; the racing writer paused first (3): re-reads 3 only, resumes.
      const out = await handle(spied, streamId, decider, toggle, { from: { state: at.state, version: 1 } });
      expect(reads.slice(0, 2)).toEqual([2, 3]);
      expect(out.attempts).toBe(2);
      expect(out.state).toEqual({ paused: false, pauses: 2 });
      expect(out.events.map((e) => [e.type, e.streamVersion])).toEqual([['CampaignResumed', 4]]);
      expect(out.version).toBe(4); // with out.state, the next command's `from`
      const next = await handle(store, streamId, decider, toggle, { from: out });
      expect([next.version, next.state]).toEqual([5, { paused: true, pauses: 3 }]);
      const nothing = await handle(store, streamId, decider, () => null, { from: next });
      expect(nothing.version).toBe(5);
      // A stale caller state is decided on what is read after it, as a fold from the start would be.
      await expect(
        handle(store, streamId, decider, { kind: 'pause', reason: 'x' }, { from: { state: at.state, version: 1 } }),
      ).rejects.toMatchObject({ code: 'ALREADY_PAUSED' });
      await expect(
        handle(store, streamId, decider, { kind: 'resume' }, { from: { state: at.state, version: -1 } }),
      ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', issues: [{ path: 'from.version' }] });
      expect(await store.streamVersion(streamId)).toBe(5);
    },
  );

  it(
    'optimistic: decides on `from` without reading and answers the stored events without reading them back; a ' +
      'stale `from` is decided again on a read (after a refusal, a conflict or a decision that writes nothing)',
    async () => {
      const streamId = newStream();
      const decider = pauseSwitch(campaignId, streamId);
      const reads: (number | undefined)[] = [];
      const spied = Object.create(store) as EventStore;
      spied.readStream = (id, fromVersion) => (reads.push(fromVersion), store.readStream(id, fromVersion));
      const initial = { state: decider.initialState(), version: 0 };
      const optimistic = <S>(from: { state: S; version: number }) => ({ from, optimistic: true });

      // Current `from` (a new stream, then the last outcome): one append each, no read.
      const first = await handle(spied, streamId, decider, { kind: 'pause', reason: 'one' }, optimistic(initial));
      expect(first.events).toEqual(await store.readStream(streamId));
      const second = await handle(spied, streamId, decider, { kind: 'resume' }, optimistic(first));
      expect(reads).toEqual([]);
      expect([second.version, second.attempts, second.state]).toEqual([2, 1, { paused: false, pauses: 1 }]);

      // Stale and refused (paused at version 1 says "already paused"): the tail is read, the pause goes through.
      const again = await handle(spied, streamId, decider, { kind: 'pause', reason: 'two' }, optimistic(first));
      expect(reads).toEqual([2]);
      expect([again.version, again.attempts, again.state]).toEqual([3, 1, { paused: true, pauses: 2 }]);
      expect(again.events.map((e) => [e.type, e.streamVersion])).toEqual([['CampaignPaused', 3]]);

      // Stale and conflicting (the initial state would pause): the append at 0 is refused, the re-read finds it paused.
      const pauseUnlessPaused = (s: State) => (s.paused ? null : { kind: 'pause' as const, reason: 'r' });
      const none = await handle(spied, streamId, decider, pauseUnlessPaused, optimistic(initial));
      expect(reads).toEqual([2, 1]);
      expect([none.version, none.attempts, none.events]).toEqual([3, 2, []]);

      // Stale and writing nothing (resumed at version 2 says "nothing to resume"): confirmed by a read, which resumes.
      const resumeIfPaused = (s: State) => (s.paused ? { kind: 'resume' as const } : null);
      const resumed = await handle(spied, streamId, decider, resumeIfPaused, optimistic(second));
      expect(reads).toEqual([2, 1, 3]);
      expect(resumed.events.map((e) => [e.type, e.streamVersion])).toEqual([['CampaignResumed', 4]]);
      expect((await store.readStream(streamId)).map((e) => e.type)).toEqual([
        'CampaignPaused',
        'CampaignResumed',
        'CampaignPaused',
        'CampaignResumed',
      ]);
    },
  );
});
