import {
  CampaignPaused,
  CampaignResumed,
  DomainError,
  createEvent,
  type Decider,
  type EventEnvelope,
} from '@aevo/contracts';
import { createTestDb, randomSuffix, type TestDb } from '@aevo/testkit';
import {
  COMMAND_RETRIES,
  ConcurrencyError,
  PostgresEventStore,
  dataEventsOf,
  handle,
  withEnvelopes,
  type EventStore,
} from '../src';
import { pauseSwitch, withRacingWriter, type Command, type State } from './pause-switch';

jest.setTimeout(120_000);

describe('handle (the one command handler)', () => {
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

  it('reads, folds, decides and appends at the version it read', async () => {
    const streamId = newStream();
    const decider = pauseSwitch(campaignId, streamId);
    const out = await handle(
      store,
      streamId,
      decider,
      { kind: 'pause', reason: 'first' },
      { result: ({ state, version }) => ({ pauses: state.pauses, version }) },
    );
    expect(out.duplicate).toBe(false);
    expect(out.attempts).toBe(1);
    expect(out.events.map((e) => [e.type, e.streamVersion])).toEqual([['CampaignPaused', 1]]);
    expect(out.state).toEqual({ paused: true, pauses: 1 });
    expect(out.result).toEqual({ pauses: 1, version: 1 });
    const again = await handle(store, streamId, decider, { kind: 'resume' });
    expect(again.events.map((e) => [e.type, e.streamVersion])).toEqual([['CampaignResumed', 2]]);
    expect(again.result).toBeNull();
    await expect(handle(store, streamId, decider, { kind: 'resume' })).rejects.toMatchObject({
      code: 'NOT_PAUSED',
    });
    expect(await store.streamVersion(streamId)).toBe(2);
  });

  it('on a concurrency conflict re-reads and decides again on the new state', async () => {
    // The racing writer resumes the stream that was paused, so the retry sees "not paused" and pauses again.
    const streamId = newStream();
    const decider = pauseSwitch(campaignId, streamId);
    await handle(store, streamId, decider, { kind: 'pause', reason: 'seed' });
    const racing = withRacingWriter(store, campaignId, 1);
    const resumed = await handle(racing, streamId, decider, { kind: 'resume' }).catch((e: unknown) => e);
    // Our "resume" lost to the racing resume: the retry decides on "not paused" and refuses.
    expect(resumed).toBeInstanceOf(DomainError);
    expect((resumed as DomainError).code).toBe('NOT_PAUSED');
    expect(racing.interferences).toBe(1);

    const racing2 = withRacingWriter(store, campaignId, 1);
    const out = await handle(racing2, streamId, decider, { kind: 'pause', reason: 'after race' }).catch(
      (e: unknown) => e,
    );
    // The racing writer paused first; the retry refuses to pause twice.
    expect((out as DomainError).code).toBe('ALREADY_PAUSED');
    expect((await store.readStream(streamId)).map((e) => e.type)).toEqual([
      'CampaignPaused',
      'CampaignResumed',
      'CampaignPaused',
    ]);
  });

  it('retries until the append goes through, then reports the attempts', async () => {
    const streamId = newStream();
    const flip: Decider<Command, EventEnvelope, State> = {
      ...pauseSwitch(campaignId, streamId),
      // A command that is valid in any state, so every retry decides to write again.
      decide: (_c, s) => [
        s.paused
          ? createEvent(CampaignResumed, {}, { campaignId, streamId, source: 'orchestrator' })
          : createEvent(CampaignPaused, { reason: 'flip' }, { campaignId, streamId, source: 'orchestrator' }),
      ],
    };
    const racing = withRacingWriter(store, campaignId, 2);
    const out = await handle(racing, streamId, flip, { kind: 'resume' }, { retries: 3 });
    expect(out.attempts).toBe(3);
    expect(out.events).toHaveLength(1);
    expect(out.events[0].streamVersion).toBe(3);
    expect(await store.streamVersion(streamId)).toBe(3);
  });

  it('gives up with ConcurrencyError after `retries`', async () => {
    const streamId = newStream();
    const flip: Decider<Command, EventEnvelope, State> = {
      ...pauseSwitch(campaignId, streamId),
      decide: (_c, s) => [
        s.paused
          ? createEvent(CampaignResumed, {}, { campaignId, streamId, source: 'orchestrator' })
          : createEvent(CampaignPaused, { reason: 'flip' }, { campaignId, streamId, source: 'orchestrator' }),
      ],
    };
    const racing = withRacingWriter(store, campaignId, 100);
    await expect(handle(racing, streamId, flip, { kind: 'resume' }, { retries: 2 })).rejects.toBeInstanceOf(
      ConcurrencyError,
    );
    expect(racing.interferences).toBe(3);
    expect(await store.streamVersion(streamId)).toBe(3);
    await expect(handle(store, streamId, flip, { kind: 'resume' }, { retries: -1 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });

  it(
    'answers a retried commandId with the first outcome and writes ' + 'nothing, even when deciding again would refuse',
    async () => {
      const streamId = newStream();
      const decider = pauseSwitch(campaignId, streamId);
      const commandId = `cmd-${randomSuffix()}`;
      const result = ({ state }: { state: State }) => ({ pauses: state.pauses });
      const first = await handle(store, streamId, decider, { kind: 'pause', reason: 'once' }, { commandId, result });
      const head = await store.headPosition();
      const retry = await handle(store, streamId, decider, { kind: 'pause', reason: 'once' }, { commandId, result });
      expect(retry.duplicate).toBe(true);
      expect(retry.result).toEqual({ pauses: 1 });
      expect(retry.events).toEqual(first.events);
      expect(retry.state).toEqual(first.state);
      expect(await store.headPosition()).toBe(head);
      // Without a commandId the same command is decided again, and refused.
      await expect(handle(store, streamId, decider, { kind: 'pause', reason: 'once' })).rejects.toMatchObject({
        code: 'ALREADY_PAUSED',
      });
    },
  );

  it('lets exactly one of several racing executions of the same decision write', async () => {
    const streamId = newStream();
    const decider = pauseSwitch(campaignId, streamId);
    const others = await Promise.all(
      [1, 2].map(() => PostgresEventStore.open({ connectionString: db.url, schema: db.schema, poolSize: 2 })),
    );
    try {
      const outcomes = await Promise.allSettled(
        [store, ...others].map((s, i) =>
          handle(
            s,
            streamId,
            decider,
            { kind: 'pause', reason: `replica ${i}` },
            { commandId: `cmd-${randomSuffix()}` },
          ),
        ),
      );
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      for (const o of outcomes)
        if (o.status === 'rejected') expect((o.reason as DomainError).code).toBe('ALREADY_PAUSED');
      expect((await store.readStream(streamId)).map((e) => e.type)).toEqual(['CampaignPaused']);
    } finally {
      await Promise.all(others.map((o) => o.close()));
    }
  });

  it(
    'binds a commandId to its fingerprint: the exact retry is a duplicate, another ' +
      'body or stream is IDEMPOTENCY_CONFLICT and writes nothing',
    async () => {
      const streamId = newStream();
      const other = newStream();
      const commandId = `cmd-${randomSuffix()}`;
      const run = (opts: { streamId?: string; fingerprint?: string; reason?: string; store?: EventStore }) =>
        handle(
          opts.store ?? store,
          opts.streamId ?? streamId,
          pauseSwitch(campaignId, opts.streamId ?? streamId),
          { kind: 'pause', reason: opts.reason ?? 'first' },
          { commandId, fingerprint: opts.fingerprint ?? 'f-1', result: ({ version }) => ({ version }) },
        );
      const first = await run({});
      expect(first).toMatchObject({ duplicate: false, result: { version: 1 } });
      const head = await store.headPosition();
      await expect(run({})).resolves.toMatchObject({ duplicate: true, result: { version: 1 } });
      await expect(run({ fingerprint: 'f-2', reason: 'another body' })).rejects.toMatchObject({
        code: 'IDEMPOTENCY_CONFLICT',
        issues: [{ path: 'commandId' }],
      });
      await expect(run({ fingerprint: 'f-3', streamId: other })).rejects.toMatchObject({
        code: 'IDEMPOTENCY_CONFLICT',
      });
      // Also when the conflict is only found by the append itself (a racing first execution committed in between).
      const noLookup = Object.create(store) as EventStore;
      (noLookup as { commandOutcome?: unknown }).commandOutcome = undefined;
      await expect(run({ fingerprint: 'f-4', streamId: other, store: noLookup })).rejects.toMatchObject({
        code: 'IDEMPOTENCY_CONFLICT',
      });
      expect(await store.headPosition()).toBe(head);
      expect(await store.streamVersion(other)).toBe(0);
      // An id recorded without a fingerprint (an internal writer's) is not a fingerprinted command's to reuse.
      const internal = `internal-${randomSuffix()}`;
      await handle(
        store,
        other,
        pauseSwitch(campaignId, other),
        { kind: 'pause', reason: 'internal' },
        { commandId: internal },
      );
      await expect(
        handle(
          store,
          other,
          pauseSwitch(campaignId, other),
          { kind: 'resume' },
          { commandId: internal, fingerprint: 'f-1' },
        ),
      ).rejects.toMatchObject({ code: 'IDEMPOTENCY_CONFLICT' });
    },
  );

  it(
    'takes a reaction (a function of the current state): null writes ' + 'nothing, a command is decided on that state',
    async () => {
      const streamId = newStream();
      const decider = pauseSwitch(campaignId, streamId);
      const head = await store.headPosition();
      const skipped = await handle(store, streamId, decider, (s: State) =>
        s.paused ? { kind: 'resume' as const } : null,
      );
      expect(skipped).toMatchObject({ events: [], append: null, duplicate: false, attempts: 1 });
      expect(await store.headPosition()).toBe(head);
      await handle(store, streamId, decider, { kind: 'pause', reason: 'then' });
      const resumed = await handle(store, streamId, decider, (s: State) =>
        s.paused ? { kind: 'resume' as const } : null,
      );
      expect(resumed.events.map((e) => e.type)).toEqual(['CampaignResumed']);
      expect(resumed.state).toEqual({ paused: false, pauses: 1 });
    },
  );

  it(
    'lifts a decider over { type, data } events with withEnvelopes: ' +
      'envelopes of the context, unknown types not folded',
    async () => {
      const streamId = newStream();
      type DataEv = { type: 'CampaignPaused'; data: { reason: string } } | { type: 'CampaignResumed'; data: object };
      const seen: string[] = [];
      const dataDecider: Decider<Command, DataEv, State> = {
        initialState: () => ({ paused: false, pauses: 0 }),
        evolve: (s, e) => {
          seen.push(e.type);
          return e.type === 'CampaignPaused' ? { paused: true, pauses: s.pauses + 1 } : { ...s, paused: false };
        },
        decide: (c) => (c.kind === 'pause' ? [{ type: 'CampaignPaused', data: { reason: c.reason } }] : []),
      };
      const ctx = { campaignId, streamId, source: 'orchestrator' as const, causationId: 'cause-1' };
      await handle(store, streamId, pauseSwitch(campaignId, streamId), { kind: 'pause', reason: 'outside' });
      await handle(store, streamId, pauseSwitch(campaignId, streamId), { kind: 'resume' });
      const lifted = withEnvelopes(dataDecider, ctx, new Set(['CampaignPaused']));
      const out = await handle(store, streamId, lifted, { kind: 'pause', reason: 'lifted' });
      expect(seen).toEqual(['CampaignPaused', 'CampaignPaused']);
      expect(out.state).toEqual({ paused: true, pauses: 2 });
      expect(out.events).toHaveLength(1);
      expect(out.events[0]).toMatchObject({
        type: 'CampaignPaused',
        campaignId,
        causationId: 'cause-1',
        streamVersion: 3,
      });
      expect(dataEventsOf(out)).toEqual([{ type: 'CampaignPaused', data: { reason: 'lifted' } }]);
      const unregistered = withEnvelopes(
        { ...dataDecider, decide: () => [{ type: 'NoSuchEvent', data: {} } as unknown as DataEv] },
        ctx,
      );
      await expect(handle(store, streamId, unregistered, { kind: 'pause', reason: 'x' })).rejects.toThrow(
        'unregistered event type NoSuchEvent',
      );
      expect(await store.streamVersion(streamId)).toBe(3);
    },
  );

  it('retries COMMAND_RETRIES times by default', async () => {
    expect(COMMAND_RETRIES).toBe(8);
    const streamId = newStream();
    const racing = withRacingWriter(store, campaignId, COMMAND_RETRIES);
    const out = await handle(racing, streamId, pauseSwitch(campaignId, streamId), (s: State) =>
      s.paused ? { kind: 'resume' as const } : { kind: 'pause' as const, reason: 'eventually' },
    );
    expect(out.attempts).toBe(COMMAND_RETRIES + 1);
  });
});
