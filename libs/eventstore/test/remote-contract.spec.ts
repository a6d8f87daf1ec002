import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { CampaignPaused, createEvent, DomainError } from '@aevo/contracts';
import { createTestDb, NATS_URL, randomSuffix, type TestDb } from '@aevo/testkit';
import { Client } from 'pg';
import {
  ConcurrencyError,
  eventStoreSelection,
  handle,
  openEventStoreFromEnv,
  PostgresEventStore,
  RemoteEventStore,
  runEventStoreContractTests,
  StoreGateway,
  storeSubject,
} from '../src';

jest.setTimeout(120_000);

/**
 * The remote adapter passes the same contract suite as the stores it fronts: PostgreSQL behind a StoreGateway,
 * reached only over a real nats-server by request/reply (as a compute cluster reaches the control cluster).
 */
runEventStoreContractTests('RemoteEventStore (NATS request/reply → StoreGateway → PostgreSQL)', async () => {
  const db: TestDb = await createTestDb();
  const prefix = `t${randomSuffix()}`;
  const backing = await PostgresEventStore.open({
    connectionString: db.url,
    schema: db.schema,
    poolSize: 4,
    pollIntervalMs: 500,
  });
  const gatewayNc = await connect({ servers: NATS_URL, name: 'store-gateway-test' });
  const gateway = StoreGateway.start({ nc: gatewayNc, prefix, store: backing });
  const clients: NatsConnection[] = [];
  const open = async () => {
    const nc = await connect({ servers: NATS_URL, name: 'remote-store-test' });
    clients.push(nc);
    return new RemoteEventStore({ nc, prefix, pollIntervalMs: 500 });
  };
  const store = await open();
  const raw = new Client({ connectionString: db.url });
  await raw.connect();
  const refused = async (sql: string, eventId: string) => {
    try {
      await raw.query(sql, [eventId]);
    } catch (err) {
      if (PostgresEventStore.isAppendOnlyViolation(err)) throw err;
      throw new Error(`refused for another reason: ${String(err)}`);
    }
  };
  return {
    store,
    openAnother: open,
    tamper: {
      update: (id) =>
        refused(`UPDATE "${db.schema}".events SET data = '{"reason":"tampered"}' WHERE event_id = $1`, id),
      delete: (id) => refused(`DELETE FROM "${db.schema}".events WHERE event_id = $1`, id),
    },
    async teardown() {
      await store.close();
      await gateway.close();
      await Promise.all(clients.map((c) => c.close()));
      await gatewayNc.close();
      await backing.close();
      await raw.end();
      await db.drop();
    },
  };
});

describe('RemoteEventStore and StoreGateway beyond the contract', () => {
  let db: TestDb;
  let backing: PostgresEventStore;
  let gatewayNc: NatsConnection;
  let clientNc: NatsConnection;
  let gateway: StoreGateway;
  let remote: RemoteEventStore;
  const prefix = `t${randomSuffix()}`;
  const campaignId = `c${randomSuffix()}`;
  const paused = (streamId: string, reason: string) =>
    createEvent(CampaignPaused, { reason }, { campaignId, streamId, source: 'orchestrator' });

  beforeAll(async () => {
    db = await createTestDb();
    backing = await PostgresEventStore.open({ connectionString: db.url, schema: db.schema, poolSize: 4 });
    gatewayNc = await connect({ servers: NATS_URL });
    clientNc = await connect({ servers: NATS_URL });
    gateway = StoreGateway.start({ nc: gatewayNc, prefix, store: backing, pageEvents: 7 });
    remote = new RemoteEventStore({ nc: clientNc, prefix, pageBytes: 4096 });
  });
  afterAll(async () => {
    await remote.close();
    await gateway.close();
    await clientNc.close();
    await gatewayNc.close();
    await backing.close();
    await db.drop();
  });

  it('pages large reads by bytes and by events: every event once, in order', async () => {
    const streamId = `campaign-${campaignId}-paging`;
    const big = 'x'.repeat(1500);
    for (let i = 0; i < 5; i++)
      await backing.append(
        streamId,
        'any',
        [0, 1, 2, 3].map((j) => paused(streamId, `${big}-${i}-${j}`)),
      );
    const local = await backing.readStream(streamId);
    expect((await remote.readStream(streamId)).map((e) => e.id)).toEqual(local.map((e) => e.id));
    expect((await remote.readStream(streamId, 6)).map((e) => e.streamVersion)).toEqual(
      local.slice(5).map((e) => e.streamVersion),
    );
    const all = await backing.readAll({ campaignId });
    expect((await remote.readAll({ campaignId })).map((e) => e.position)).toEqual(all.map((e) => e.position));
    expect((await remote.readAll({ campaignId, limit: 9 })).map((e) => e.position)).toEqual(
      all.slice(0, 9).map((e) => e.position),
    );
  });

  it('carries the command handler across the wire: conflicts retried, a retried command id answered once', async () => {
    const streamId = `campaign-${campaignId}-handler`;
    const decider = {
      initialState: () => 0,
      evolve: (n: number) => n + 1,
      decide: (c: { reason: string }) => [paused(streamId, c.reason)],
    };
    const racing = Object.create(remote) as RemoteEventStore;
    let raced = false;
    racing.append = async (...args: Parameters<RemoteEventStore['append']>) => {
      if (!raced) {
        raced = true;
        await backing.append(streamId, 'any', [paused(streamId, 'racing writer')]);
      }
      return remote.append(...args);
    };
    const out = await handle(racing, streamId, decider, { reason: 'remote' }, { commandId: `cmd-${randomSuffix()}` });
    expect(out.attempts).toBe(2);
    expect(out.state).toBe(2);
    await expect(remote.append(streamId, 0, [paused(streamId, 'stale')])).rejects.toBeInstanceOf(ConcurrencyError);
    const commandId = `cmd-${randomSuffix()}`;
    const first = await handle(remote, streamId, decider, { reason: 'once' }, { commandId });
    const again = await handle(remote, streamId, decider, { reason: 'once' }, { commandId });
    expect(again.duplicate).toBe(true);
    expect(again.events.map((e) => e.id)).toEqual(first.events.map((e) => e.id));
    expect(await backing.streamVersion(streamId)).toBe(3);
  });

  it('refuses a malformed request at the gateway with the field named, and writes nothing', async () => {
    const head = await backing.headPosition();
    const ask = async (op: 'append' | 'readAll', body: unknown) =>
      JSON.parse(
        new TextDecoder().decode((await clientNc.request(storeSubject(prefix, op), JSON.stringify(body))).data),
      );
    await expect(ask('append', { streamId: 'campaign-x', expected: -3, events: [] })).resolves.toMatchObject({
      ok: false,
      error: {
        code: 'INVALID_ARGUMENT',
        issues: expect.arrayContaining([expect.objectContaining({ path: 'expected' })]),
      },
    });
    await expect(ask('readAll', { fromPosition: 0 })).resolves.toMatchObject({
      ok: false,
      error: { code: 'INVALID_ARGUMENT', issues: [expect.objectContaining({ path: 'maxBytes' })] },
    });
    const notJson = await clientNc.request(storeSubject(prefix, 'append'), 'not json{');
    expect(JSON.parse(new TextDecoder().decode(notJson.data))).toMatchObject({
      ok: false,
      error: { code: 'INVALID_ARGUMENT' },
    });
    // An envelope the store refuses comes back as the store's own error.
    await expect(
      remote.append('campaign-x', 'any', [{ ...paused('campaign-x', 'r'), data: { reason: 42 } } as never]),
    ).rejects.toMatchObject({ code: 'INVALID_APPEND' });
    expect(await backing.headPosition()).toBe(head);
  });

  it('says which gateway is missing when none answers', async () => {
    const orphan = new RemoteEventStore({ nc: clientNc, prefix: `t${randomSuffix()}`, timeoutMs: 500 });
    const err = await orphan.headPosition().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DomainError);
    expect((err as DomainError).code).toBe('STORE_UNAVAILABLE');
    // An outage, not a refusal: a consumer's handler waits it out (@aevo/messaging unavailableDependency).
    expect(err).toMatchObject({ dependencyUnavailable: true });
    expect((err as DomainError).message).toMatch(
      /\.store\.headPosition: (no store gateway is listening|no answer within 500 ms)/,
    );
    await orphan.close();
  });

  it('wakes a remote subscription on the gateway’s head announcement', async () => {
    const streamId = `campaign-${campaignId}-follow`;
    const seen: number[] = [];
    const head = await backing.headPosition();
    const slow = new RemoteEventStore({ nc: clientNc, prefix, pollIntervalMs: 60_000 });
    const sub = slow.subscribe(head, async (e) => void seen.push(e.position), { campaignId });
    try {
      await new Promise((r) => setTimeout(r, 300));
      // Appended behind the gateway's back (as a local service would): the store's own notification is relayed.
      const { positions } = await backing.append(streamId, 'any', [paused(streamId, 'follow')]);
      const t0 = Date.now();
      while (seen.length === 0 && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 50));
      expect(seen).toEqual(positions);
    } finally {
      await sub.close();
      await slow.close();
    }
  });

  it('passes the appended event types on with the head, as the PostgreSQL notification names them', async () => {
    const streamId = `campaign-${campaignId}-types`;
    const heard: { head: number | null; types?: string[] }[] = [];
    const listener = new RemoteEventStore({ nc: clientNc, prefix });
    const off = listener.onHeadMoved((head, types) => heard.push({ head, types: types && [...types] }));
    try {
      await new Promise((r) => setTimeout(r, 300));
      const { positions } = await backing.append(streamId, 'any', [paused(streamId, 'typed')]);
      const t0 = Date.now();
      while (heard.length === 0 && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 50));
      expect(heard).toEqual([{ head: positions[0], types: ['CampaignPaused'] }]);
    } finally {
      off();
      await listener.close();
    }
  });
});

describe('AEVO_EVENT_STORE=remote', () => {
  it('selects the store gateway over NATS, with the prefix and timeout named when they are wrong', () => {
    expect(eventStoreSelection({ AEVO_EVENT_STORE: 'remote', AEVO_SUBJECT_PREFIX: 't1.aevo' })).toEqual({
      kind: 'remote',
      remote: { natsUrl: 'nats://127.0.0.1:4222', prefix: 't1.aevo', timeoutMs: 10_000 },
    });
    expect(
      eventStoreSelection({
        AEVO_EVENT_STORE: 'remote',
        AEVO_NATS_URL: 'nats://leaf:4222',
        AEVO_STORE_GATEWAY_PREFIX: 'hub',
        AEVO_STORE_TIMEOUT_MS: '2500',
      }).remote,
    ).toEqual({ natsUrl: 'nats://leaf:4222', prefix: 'hub', timeoutMs: 2500 });
    expect(() => eventStoreSelection({ AEVO_EVENT_STORE: 'remote', AEVO_STORE_GATEWAY_PREFIX: 'a b' })).toThrow(
      /AEVO_STORE_GATEWAY_PREFIX="a b"/,
    );
    expect(() => eventStoreSelection({ AEVO_EVENT_STORE: 'remote', AEVO_STORE_TIMEOUT_MS: 'soon' })).toThrow(
      /AEVO_STORE_TIMEOUT_MS="soon"/,
    );
  });

  it('opens a RemoteEventStore that owns its connection and reads through a running gateway', async () => {
    const db = await createTestDb();
    const prefix = `t${randomSuffix()}`;
    const backing = await PostgresEventStore.open({ connectionString: db.url, schema: db.schema, poolSize: 2 });
    const gwNc = await connect({ servers: NATS_URL });
    const gateway = StoreGateway.start({ nc: gwNc, prefix, store: backing });
    try {
      const streamId = `campaign-c${prefix}`;
      await backing.append(streamId, 'no-stream', [
        createEvent(CampaignPaused, { reason: 'r' }, { campaignId: `c${prefix}`, streamId, source: 'orchestrator' }),
      ]);
      const store = await openEventStoreFromEnv({
        AEVO_EVENT_STORE: 'remote',
        AEVO_NATS_URL: NATS_URL,
        AEVO_STORE_GATEWAY_PREFIX: prefix,
      });
      expect(store).toBeInstanceOf(RemoteEventStore);
      expect(await store.streamVersion(streamId)).toBe(1);
      await store.close();
      await expect(store.headPosition()).rejects.toThrow('RemoteEventStore is closed');
    } finally {
      await gateway.close();
      await gwNc.close();
      await backing.close();
      await db.drop();
    }
  });
});
