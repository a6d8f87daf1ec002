import { jetstreamManager, StorageType } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { createTestDb, createTestNatsNames, eventually, type TestDb, type TestNatsNames } from '@aevo/testkit';
import { OutboxRelay, PostgresEventStore, type OutboxRelayOptions } from '../src';
import { appendSome, deleteStream, natsConnect, readStreamMessages, streamCount, streamInfo } from './nats-helpers';

jest.setTimeout(180_000);

describe('OutboxRelay (in process)', () => {
  let db: TestDb;
  let names: TestNatsNames;
  let store: PostgresEventStore;
  let nc: NatsConnection;
  const relays: OutboxRelay[] = [];
  const logs: string[] = [];

  const relayOptions = (): OutboxRelayOptions => ({
    databaseUrl: db.url,
    schema: db.schema,
    natsUrl: names.url,
    subjectPrefix: names.subjectPrefix,
    stream: names.stream,
    pollIntervalMs: 200,
    batchSize: 50,
    log: (level, msg, fields) => logs.push(`${level} ${msg} ${JSON.stringify(fields ?? {})}`),
  });
  const startRelay = async () => {
    const r = await OutboxRelay.start(relayOptions());
    relays.push(r);
    return r;
  };

  beforeAll(async () => {
    db = await createTestDb();
    names = createTestNatsNames();
    store = await PostgresEventStore.open({ connectionString: db.url, schema: db.schema, poolSize: 3 });
    nc = await natsConnect(names.url);
  });
  afterAll(async () => {
    for (const r of relays) await r.stop();
    await nc?.close();
    await store?.close();
    await deleteStream(names.url, names.stream);
    await db?.drop();
  });

  it('provisions the stream and publishes every stored event in order with CloudEvents headers', async () => {
    await appendSome(store, 30, 'before');
    const relay = await startRelay();
    const info = await streamInfo(nc, names.stream);
    expect(info?.config).toMatchObject({
      subjects: [`${names.subjectPrefix}.evt.>`],
      storage: StorageType.File,
      deny_delete: true,
      deny_purge: true,
      max_age: 0,
    });
    expect(info!.config.duplicate_window).toBeGreaterThanOrEqual(5 * 60 * 1e9);
    await eventually(async () => (await streamCount(nc, names.stream)) === 30, 60_000);
    // Live events arrive through NOTIFY (or the poll) while the relay runs.
    await appendSome(store, 20, 'live');
    await eventually(async () => (await streamCount(nc, names.stream)) === 50, 60_000);
    await eventually(() => relay.relayedPosition === 50, 30_000);
    const stored = await store.readAll();
    const msgs = await readStreamMessages(nc, names.stream);
    expect(msgs).toHaveLength(50);
    msgs.forEach((m, i) => {
      const e = stored[i];
      expect(m.subject).toBe(`${names.subjectPrefix}.evt.${e.campaignId}.${e.type}`);
      expect(m.headers).toMatchObject({
        'Nats-Msg-Id': e.id,
        'ce-specversion': '1.0',
        'ce-id': e.id,
        'ce-type': e.type,
        'ce-source': `/aevo/${e.source}`,
        'ce-subject': e.streamId,
        'ce-time': e.time,
        'content-type': 'application/json',
        'aevo-position': String(e.position),
        'aevo-stream-version': String(e.streamVersion),
      });
      expect(m.body).toEqual(e);
    });
    expect(relay.role).toBe('leader');
  });

  it('resumes after a restart from what JetStream holds, not from the local checkpoint', async () => {
    const first = relays.shift()!;
    await first.stop();
    expect(first.role).toBe('stopped');
    await appendSome(store, 15, 'while-down');
    // A checkpoint that lags behind JetStream must not cause re-publishing.
    await store.pool.query(`UPDATE ${store.names.relayCheckpoints} SET position = 3`);
    const second = await startRelay();
    await eventually(() => second.relayedPosition === 65, 60_000);
    await appendSome(store, 5, 'after-restart');
    await eventually(() => second.relayedPosition === 70, 60_000);
    const msgs = await readStreamMessages(nc, names.stream);
    expect(msgs.map((m) => Number(m.headers['aevo-position']))).toEqual(Array.from({ length: 70 }, (_, i) => i + 1));
    expect(new Set(msgs.map((m) => m.headers['ce-id'])).size).toBe(70);
    expect(logs.some((l) => l.includes('resuming from JetStream') && l.includes('"position":50'))).toBe(true);
    await eventually(
      async () =>
        Number((await store.pool.query(`SELECT position FROM ${store.names.relayCheckpoints}`)).rows[0].position) ===
        70,
      30_000,
    );
  });

  it('keeps one leader; a standby takes over when the leader stops', async () => {
    const leader = relays[0];
    const standby = await startRelay();
    await new Promise((r) => setTimeout(r, 600));
    expect(leader.role).toBe('leader');
    expect(standby.role).toBe('standby');
    await appendSome(store, 10, 'two-relays');
    await eventually(() => leader.relayedPosition === 80, 60_000);
    await leader.stop();
    relays.shift();
    await eventually(() => standby.role === 'leader', 30_000);
    await appendSome(store, 10, 'after-failover');
    await eventually(() => standby.relayedPosition === 90, 60_000);
    const msgs = await readStreamMessages(nc, names.stream);
    expect(msgs.map((m) => Number(m.headers['aevo-position']))).toEqual(Array.from({ length: 90 }, (_, i) => i + 1));
  });

  it(
    'leaves no gap when a foreign message lands in the stream (last-message ' +
      'expectations), then recovers from the stream tail',
    async () => {
      const relay = relays[0];
      expect(relay.role).toBe('leader');
      // Something else writes into the stream: the relay's next publish expects another last message and is refused,
      // and so is every later one of the pipeline (with sequence-only expectations the second would have been
      // accepted in the foreign message's slot, losing position 91 for good).
      await nc.publish(`${names.subjectPrefix}.evt.camp-a.ForeignThing`, JSON.stringify({ foreign: true }));
      await nc.flush();
      await eventually(async () => (await streamCount(nc, names.stream)) === 91, 30_000);
      await appendSome(store, 10, 'after-foreign');
      await eventually(() => relay.relayedPosition === 100, 60_000);
      const msgs = await readStreamMessages(nc, names.stream);
      expect(msgs).toHaveLength(101);
      expect(msgs[90].subject).toBe(`${names.subjectPrefix}.evt.camp-a.ForeignThing`);
      const relayed = msgs.filter((m) => m.headers['aevo-position'] !== undefined);
      expect(relayed.map((m) => Number(m.headers['aevo-position']))).toEqual(
        Array.from({ length: 100 }, (_, i) => i + 1),
      );
      const refusals = logs.filter((l) => /relay loop error/.test(l));
      expect(refusals.length).toBeGreaterThan(0);
      expect(refusals.every((l) => /wrong last (sequence|msg ?id)/i.test(l))).toBe(true);
    },
  );

  it('refuses a stream of the same name that does not capture the event subjects', async () => {
    const other = createTestNatsNames();
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: other.stream, subjects: [`${other.subjectPrefix}.something.>`] });
    try {
      await expect(
        OutboxRelay.start({ ...relayOptions(), stream: other.stream, subjectPrefix: other.subjectPrefix }),
      ).rejects.toThrow(/does not capture/);
    } finally {
      await jsm.streams.delete(other.stream);
    }
  });
});
