import { randomBytes } from 'node:crypto';
import { NO_STREAM, jsonEvent } from '@kurrent/kurrentdb-client';
import { ConcurrencyError, contractEvent } from '../src';
import { KurrentDbEventStore } from '../src/kurrentdb/kurrentdb-event-store';
import { envelopeMetadata } from '../src/kurrentdb/mapping';
import { KurrentDbProtocolFake } from '../src/kurrentdb/testing/protocol-fake';

jest.setTimeout(120_000);

// A command's owner can die between reserving it, appending its events and recording the outcome. These tests
// write what a dead owner leaves behind straight through the client, then retry the command through the adapter.
describe('KurrentDbEventStore command ids after a writer died mid-command', () => {
  let fake: KurrentDbProtocolFake;
  let store: KurrentDbEventStore;
  const ns = `t${randomBytes(4).toString('hex')}`;
  beforeAll(async () => {
    fake = await KurrentDbProtocolFake.start();
    store = await KurrentDbEventStore.open({ connectionString: fake.connectionString, namespace: ns });
  });
  afterAll(async () => {
    await store.close();
    await fake.stop();
  });

  const reserve = (
    commandId: string,
    streamId: string,
    events: ReturnType<typeof contractEvent>[],
    expected: number | 'any' | 'no-stream',
  ) =>
    store.client.appendToStream(
      store.names.command(commandId),
      jsonEvent({
        type: 'AevoCommandReserved',
        data: { commandId, streamId, expected, events, commandResult: { by: 'dead owner' } } as never,
      }),
      { streamState: NO_STREAM },
    );

  it(
    'finishes a reservation whose events were never written: the reserved ' +
      'events are stored once, the retry is a duplicate',
    async () => {
      const s = `dead-before-write-${randomBytes(3).toString('hex')}`;
      const reserved = [contractEvent(s, 'ccmd', 'reserved')];
      await reserve('cmd-a', s, reserved, 'no-stream');
      const retry = await store.append(s, 'no-stream', [contractEvent(s, 'ccmd', 'retry')], { commandId: 'cmd-a' });
      expect(retry).toMatchObject({ duplicate: true, nextExpectedVersion: 1, commandResult: { by: 'dead owner' } });
      expect((await store.readStream(s)).map((e) => e.id)).toEqual([reserved[0].id]);
      expect(await store.commandOutcome('cmd-a')).toEqual(retry);
    },
  );

  it(
    'finishes a reservation whose events were written but whose ' + 'outcome was not: nothing is written twice',
    async () => {
      const s = `dead-after-write-${randomBytes(3).toString('hex')}`;
      const reserved = [contractEvent(s, 'ccmd', 'one'), contractEvent(s, 'ccmd', 'two')];
      await reserve('cmd-b', s, reserved, 'no-stream');
      await store.client.appendToStream(
        store.names.event(s),
        reserved.map((e) =>
          jsonEvent({ id: e.id, type: e.type, data: e.data as never, metadata: envelopeMetadata(e, 'cmd-b') as never }),
        ),
        { streamState: NO_STREAM },
      );
      const head = await store.headPosition();
      const retry = await store.append(s, 'no-stream', [], { commandId: 'cmd-b' });
      expect(retry).toMatchObject({ duplicate: true, nextExpectedVersion: 2, positions: [head - 1, head] });
      expect(await store.headPosition()).toBe(head);
      expect(await store.streamVersion(s)).toBe(2);
    },
  );

  it('releases a reservation that can no longer be applied, and lets the retry decide afresh', async () => {
    const s = `dead-stale-${randomBytes(3).toString('hex')}`;
    await store.append(s, 'no-stream', [contractEvent(s, 'ccmd', 'moved on')]);
    await reserve('cmd-c', s, [contractEvent(s, 'ccmd', 'stale')], 'no-stream');
    // The reserved append conflicts (the stream exists): the reservation is released and the retry's own events go in.
    const fresh = contractEvent(s, 'ccmd', 'fresh');
    const retry = await store.append(s, 1, [fresh], { commandId: 'cmd-c' });
    expect(retry.duplicate).toBe(false);
    expect((await store.readStream(s)).map((e) => (e.data as { reason: string }).reason)).toEqual([
      'moved on',
      'fresh',
    ]);
    // And a retry whose own expected version is stale gets the conflict, recorded as released again.
    await reserve('cmd-d', s, [contractEvent(s, 'ccmd', 'stale too')], 1);
    await expect(store.append(s, 1, [contractEvent(s, 'ccmd', 'late')], { commandId: 'cmd-d' })).rejects.toBeInstanceOf(
      ConcurrencyError,
    );
    expect(await store.commandOutcome('cmd-d')).toBeNull();
    expect(await store.streamVersion(s)).toBe(2);
  });

  it(
    'refuses a command carrying a stored event id before reserving ' + 'it, so its retry with new events goes through',
    async () => {
      const s = `dup-${randomBytes(3).toString('hex')}`;
      await store.append(s, 'no-stream', [contractEvent(s, 'ccmd', 'first')]);
      const [stored] = await store.readStream(s);
      const { position: _p, streamVersion: _v, ...again } = stored;
      await expect(store.append(s, 1, [again], { commandId: 'cmd-e' })).rejects.toMatchObject({
        code: 'DUPLICATE_EVENT_ID',
      });
      expect(await store.commandOutcome('cmd-e')).toBeNull();
      const retry = await store.append(s, 1, [contractEvent(s, 'ccmd', 'second')], { commandId: 'cmd-e' });
      expect(retry).toMatchObject({ duplicate: false, nextExpectedVersion: 2 });
    },
  );
});
