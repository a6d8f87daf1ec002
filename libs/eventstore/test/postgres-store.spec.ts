import { CampaignPaused, CampaignResumed, createEvent } from '@aevo/contracts';
import { createTestDb, eventually, randomSuffix, PG_URL, type TestDb } from '@aevo/testkit';
import { Client } from 'pg';
import { eventContentHash, LATEST_SCHEMA_VERSION, metadataHash, PostgresEventStore, type StoredEvent } from '../src';
import { parseHeadPayload } from '../src/postgres/notifier';

jest.setTimeout(120_000);

const paused = (streamId: string, reason = 'r') =>
  createEvent(CampaignPaused, { reason }, { campaignId: 'camp', streamId, source: 'orchestrator' });

describe('PostgresEventStore specifics', () => {
  let db: TestDb;
  let raw: Client;
  const stores: PostgresEventStore[] = [];
  const open = async (opts: { schema?: string; pollIntervalMs?: number } = {}) => {
    const s = await PostgresEventStore.open({
      connectionString: db.url,
      schema: opts.schema ?? db.schema,
      poolSize: 2,
      pollIntervalMs: opts.pollIntervalMs,
    });
    stores.push(s);
    return s;
  };

  beforeAll(async () => {
    db = await createTestDb();
    raw = new Client({ connectionString: PG_URL });
    await raw.connect();
  });
  afterAll(async () => {
    for (const s of stores) await s.close();
    await raw?.end();
    await db?.drop();
  });

  it('migrates once even when several processes start at the same time on a missing schema', async () => {
    const schema = `aevo_t_${randomSuffix()}`;
    try {
      const opened = await Promise.all(Array.from({ length: 5 }, () => open({ schema })));
      expect(opened).toHaveLength(5);
      const versions = await raw.query(`SELECT version FROM "${schema}".schema_migrations ORDER BY version`);
      expect(versions.rows.map((r) => r.version)).toEqual(
        Array.from({ length: LATEST_SCHEMA_VERSION }, (_, i) => i + 1),
      );
      // Re-running is a no-op.
      expect(await opened[0].migrate()).toEqual([]);
    } finally {
      for (const s of stores.splice(0)) await s.close();
      await raw.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    }
  });

  it(
    'stores the envelope in columns, with the commandId in ' + 'metadata, and refuses UPDATE, DELETE and TRUNCATE',
    async () => {
      const store = await open();
      const e = paused('campaign-cols', 'columns');
      await store.append('campaign-cols', 'no-stream', [e], { commandId: 'cmd-cols' });
      const row = (await raw.query(`SELECT * FROM "${db.schema}".events WHERE event_id = $1`, [e.id])).rows[0];
      expect(row).toMatchObject({
        stream_id: 'campaign-cols',
        stream_version: '1',
        type: 'CampaignPaused',
        schema_version: 1,
        campaign_id: 'camp',
        causation_id: null,
        correlation_id: null,
        source: 'orchestrator',
        data: { reason: 'columns' },
        metadata: { commandId: 'cmd-cols' },
        time: e.time,
      });
      expect(row.recorded_at).toBeInstanceOf(Date);
      for (const sql of [
        `UPDATE "${db.schema}".events SET type = 'X'`,
        `DELETE FROM "${db.schema}".events`,
        `TRUNCATE "${db.schema}".events`,
      ]) {
        const err = await raw.query(sql).then(
          () => null,
          (x: unknown) => x,
        );
        expect(PostgresEventStore.isAppendOnlyViolation(err)).toBe(true);
        expect(String(err)).toMatch(/append-only/);
      }
    },
  );

  it('follows new events through NOTIFY (the poll is 10 minutes here)', async () => {
    const reader = await open({ pollIntervalMs: 600_000 });
    const writer = await open();
    const from = await writer.headPosition();
    const seen: StoredEvent[] = [];
    const sub = reader.subscribe(from, async (e) => void seen.push(e));
    // Append only once the LISTEN is in place and the re-read that follows it is done.
    await eventually(
      async () =>
        (await raw.query(`SELECT 1 FROM pg_stat_activity WHERE query = $1`, [`LISTEN "${db.schema}_events"`]))
          .rowCount! > 0,
      30_000,
    );
    await new Promise((r) => setTimeout(r, 300));
    await writer.append('campaign-notify', 'any', [paused('campaign-notify', 'via notify')]);
    await eventually(() => seen.length === 1, 30_000);
    await sub.close();
  });

  it('names the event types each commit appended in its notification (migration 3), one head per commit', async () => {
    const reader = await open();
    const writer = await open();
    const heard: { head: number | null; types?: string[] }[] = [];
    const off = reader.onHeadMoved((head, types) => heard.push({ head, types: types && [...types].sort() }));
    await eventually(async () => heard.some((h) => h.head === null), 30_000); // the LISTEN is in place
    heard.length = 0;
    const resumed = createEvent(
      CampaignResumed,
      {},
      { campaignId: 'camp', streamId: 'campaign-t', source: 'orchestrator' },
    );
    const first = await writer.append('campaign-t', 'any', [paused('campaign-t'), resumed, paused('campaign-t')]);
    const second = await writer.append('campaign-u', 'any', [paused('campaign-u')]);
    // A client older than migration 3 sends no types with its item: the notification then names none (unknown).
    const old = paused('campaign-v');
    const item = { stream: 'campaign-v', expected: -1, commandId: null, events: [old], metadata: {} };
    const hashes = { contentHashes: [eventContentHash(old)], metadataHash: metadataHash({}) };
    await raw.query(`SELECT "${db.schema}".append_group($1::jsonb)`, [JSON.stringify([{ ...item, ...hashes }])]);
    const third = await writer.headPosition();
    await eventually(() => heard.length === 3, 30_000);
    off();
    expect(heard).toEqual([
      { head: first.positions[2], types: ['CampaignPaused', 'CampaignResumed'] },
      { head: second.positions[0], types: ['CampaignPaused'] },
      { head: third, types: undefined },
    ]);
  });

  it('reads a notification payload with or without types, and anything else as an unknown head', () => {
    expect(parseHeadPayload('12')).toEqual({ head: 12 });
    expect(parseHeadPayload('12 A,B')).toEqual({ head: 12, types: new Set(['A', 'B']) });
    expect(parseHeadPayload('12 ')).toEqual({ head: 12, types: new Set() });
    for (const bad of ['', 'x', '-1', '1.5 A', undefined]) expect(parseHeadPayload(bad)).toEqual({ head: null });
  });

  it('reconnects its LISTEN connection when it is killed, and catches up', async () => {
    const reader = await open({ pollIntervalMs: 600_000 });
    const writer = await open();
    const from = await writer.headPosition();
    const seen: StoredEvent[] = [];
    const sub = reader.subscribe(from, async (e) => void seen.push(e));
    const listener = async () =>
      (await raw.query(`SELECT pid FROM pg_stat_activity WHERE query = $1`, [`LISTEN "${db.schema}_events"`])).rows.map(
        (r) => r.pid as number,
      );
    const [pid] = await eventually(async () => ((await listener()).length > 0 ? listener() : null), 30_000);
    await raw.query('SELECT pg_terminate_backend($1)', [pid]);
    // Written while nobody listens: delivered by the catch-up read after the reconnect.
    await writer.append('campaign-relisten', 'any', [paused('campaign-relisten', 'while away')]);
    await eventually(async () => (await listener()).some((p) => p !== pid), 30_000);
    await eventually(() => seen.length === 1, 30_000);
    await writer.append('campaign-relisten', 'any', [paused('campaign-relisten', 'after')]);
    await eventually(() => seen.length === 2, 30_000);
    expect(seen.map((e) => (e.data as { reason: string }).reason)).toEqual(['while away', 'after']);
    await sub.close();
  });

  it('refuses bad read arguments and a bad schema name', async () => {
    const store = await open();
    await expect(store.readAll({ fromPosition: -1 })).rejects.toMatchObject({ code: 'INVALID_READ' });
    expect(() => store.subscribe(-5, async () => undefined)).toThrow(/fromPosition/);
    await expect(PostgresEventStore.open({ connectionString: db.url, schema: 'Bad-Name' })).rejects.toThrow(
      /invalid event store schema name/,
    );
  });
});
