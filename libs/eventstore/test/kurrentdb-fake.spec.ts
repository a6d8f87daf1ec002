import { randomUUID } from 'node:crypto';
import {
  ANY,
  BACKWARDS,
  END,
  FORWARDS,
  KurrentDBClient,
  NO_STREAM,
  START,
  STREAM_EXISTS,
  StreamNotFoundError,
  WrongExpectedVersionError,
  eventTypeFilter,
  jsonEvent,
  streamNameFilter,
  type ResolvedEvent,
} from '@kurrent/kurrentdb-client';
import { KurrentDbProtocolFake } from '../src/kurrentdb/testing/protocol-fake';

jest.setTimeout(60_000);

const collect = async (it: AsyncIterable<ResolvedEvent>) => {
  const out: ResolvedEvent[] = [];
  for await (const e of it) out.push(e);
  return out;
};

// The fake is checked here only through the real client: what the client sends and how it reads the answers.
describe('KurrentDB protocol-level fake, through @kurrent/kurrentdb-client', () => {
  let fake: KurrentDbProtocolFake;
  let client: KurrentDBClient;
  beforeAll(async () => {
    fake = await KurrentDbProtocolFake.start();
    client = KurrentDBClient.connectionString(fake.connectionString);
  });
  afterAll(async () => {
    await client.dispose();
    await fake.stop();
  });

  it('leaves ServerFeatures unimplemented, and the client falls back to the plain Append call', async () => {
    const before = fake.stats.appends;
    await client.appendToStream(`fallback-${randomUUID()}`, jsonEvent({ type: 'A', data: {} }));
    // BatchAppend is not served either: had the client chosen it, the append above would have failed.
    expect(fake.stats.appends).toBe(before + 1);
  });

  it(
    'appends with revisions, refuses a wrong expected revision with the ' +
      'current one, and reads back (the Rust bridge path)',
    async () => {
      const s = `fake-${randomUUID()}`;
      const first = await client.appendToStream(
        s,
        [jsonEvent({ type: 'A', data: { n: 1 } }), jsonEvent({ type: 'B', data: { n: 2 } })],
        { streamState: NO_STREAM },
      );
      expect(first.nextExpectedRevision).toBe(1n);
      const stale = await client
        .appendToStream(s, jsonEvent({ type: 'A', data: { n: 3 } }), { streamState: 0n })
        .catch((e: unknown) => e);
      expect(stale).toBeInstanceOf(WrongExpectedVersionError);
      expect((stale as WrongExpectedVersionError).actualState).toBe(1n);
      expect((stale as WrongExpectedVersionError).expectedState).toBe(0n);
      const missing = await client
        .appendToStream(`fake-${randomUUID()}`, jsonEvent({ type: 'A', data: {} }), { streamState: STREAM_EXISTS })
        .catch((e: unknown) => e);
      expect((missing as WrongExpectedVersionError).actualState).toBe('no_stream');
      await client.appendToStream(s, jsonEvent({ type: 'C', data: { n: 3 } }), { streamState: 1n });
      const read = await collect(client.readStream(s, { fromRevision: START, direction: FORWARDS }));
      expect(read.map((r) => [r.event!.type, r.event!.revision, (r.event!.data as { n: number }).n])).toEqual([
        ['A', 0n, 1],
        ['B', 1n, 2],
        ['C', 2n, 3],
      ]);
      expect(
        (await collect(client.readStream(s, { fromRevision: END, direction: BACKWARDS, maxCount: 2 }))).map(
          (r) => r.event!.revision,
        ),
      ).toEqual([2n, 1n]);
      await expect(collect(client.readStream(`fake-${randomUUID()}`))).rejects.toBeInstanceOf(StreamNotFoundError);
    },
  );

  it(
    'answers a retried append of the same event ids after the ' + 'same revision with success, writing nothing',
    async () => {
      const s = `idem-${randomUUID()}`;
      const events = [
        jsonEvent({ id: randomUUID(), type: 'A', data: {} }),
        jsonEvent({ id: randomUUID(), type: 'B', data: {} }),
      ];
      const a = await client.appendToStream(s, events, { streamState: NO_STREAM });
      const b = await client.appendToStream(s, events, { streamState: NO_STREAM });
      expect(b.nextExpectedRevision).toBe(a.nextExpectedRevision);
      expect(b.position).toEqual(a.position);
      expect(await collect(client.readStream(s))).toHaveLength(2);
    },
  );

  it(
    'gives $all positions with gaps (byte offsets, a system event ' + 'first) and reads $all with filters both ways',
    async () => {
      const p = `all${randomUUID().slice(0, 8)}-`;
      await client.appendToStream(`${p}x`, [jsonEvent({ type: 'X1', data: {} }), jsonEvent({ type: 'X2', data: {} })], {
        streamState: ANY,
      });
      await client.appendToStream(`other-${randomUUID()}`, jsonEvent({ type: 'O', data: {} }));
      await client.appendToStream(`${p}y`, jsonEvent({ type: 'Y1', data: {} }));
      const everything = await collect(client.readAll({ fromPosition: START }));
      expect(everything[0].event!.streamId).toBe('$epochs');
      expect(everything[0].event!.position!.commit).toBeGreaterThan(0n);
      const mine = await collect(client.readAll({ fromPosition: START, filter: streamNameFilter({ prefixes: [p] }) }));
      expect(mine.map((r) => r.event!.type)).toEqual(['X1', 'X2', 'Y1']);
      // One transaction: both events share the commit position, the prepare positions differ.
      expect(mine[0].event!.position!.commit).toBe(mine[1].event!.position!.commit);
      expect(mine[0].event!.position!.prepare).toBeLessThan(mine[1].event!.position!.prepare);
      expect(mine[2].event!.position!.commit - mine[1].event!.position!.commit).toBeGreaterThan(1n);
      const fromSecond = await collect(
        client.readAll({ fromPosition: mine[1].event!.position!, filter: streamNameFilter({ prefixes: [p] }) }),
      );
      expect(fromSecond.map((r) => r.event!.type)).toEqual(['X2', 'Y1']);
      const last = await collect(
        client.readAll({
          fromPosition: END,
          direction: BACKWARDS,
          maxCount: 1,
          filter: streamNameFilter({ prefixes: [p] }),
        }),
      );
      expect(last.map((r) => r.event!.type)).toEqual(['Y1']);
      const byType = await collect(client.readAll({ fromPosition: START, filter: eventTypeFilter({ regex: '^X' }) }));
      expect(byType.map((r) => r.event!.type)).toEqual(['X1', 'X2']);
    },
  );

  it(
    'subscribes to $all: confirmation, catch-up after the ' + 'position, live events, checkpoints for a filter',
    async () => {
      const p = `sub${randomUUID().slice(0, 8)}-`;
      await client.appendToStream(`${p}a`, [jsonEvent({ type: 'S1', data: {} }), jsonEvent({ type: 'S2', data: {} })]);
      const [first] = await collect(
        client.readAll({ fromPosition: START, filter: streamNameFilter({ prefixes: [p] }), maxCount: 1 }),
      );
      const seen: string[] = [];
      const checkpoints: bigint[] = [];
      const sub = client.subscribeToAll({
        fromPosition: first.event!.position!,
        filter: streamNameFilter({
          prefixes: [p],
          checkpointInterval: 1,
          maxSearchWindow: 1,
          checkpointReached: async (_s, pos) => void checkpoints.push(pos.commit),
        }),
      });
      let confirmed = false;
      let caughtUp = false;
      sub.on('confirmation', () => (confirmed = true));
      sub.on('caughtUp', () => (caughtUp = true));
      sub.on('data', (r: ResolvedEvent) => seen.push(r.event!.type));
      const until = async (check: () => boolean) => {
        while (!check()) await new Promise((r) => setTimeout(r, 10));
      };
      await until(() => caughtUp);
      await client.appendToStream(`unrelated-${randomUUID()}`, jsonEvent({ type: 'U', data: {} }));
      await client.appendToStream(`${p}b`, jsonEvent({ type: 'S3', data: {} }));
      await until(() => seen.length >= 2);
      await sub.unsubscribe();
      expect(confirmed).toBe(true);
      expect(seen).toEqual(['S2', 'S3']);
      expect(checkpoints.length).toBeGreaterThan(0);
      expect(fake.stats.subscriptions).toBeGreaterThan(0);
    },
  );
});
