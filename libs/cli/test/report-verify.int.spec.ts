import { CampaignReportRecorded, createEvent } from '@aevo/contracts';
import { PostgresEventStore } from '@aevo/eventstore';
import { chartJsUmdSource, completedCampaignReport, sampleCampaignLog } from '@aevo/projections';
import { createTestDb, type TestDb } from '@aevo/testkit';
import { Client } from 'pg';
import { runCli } from '../src';

jest.setTimeout(180_000);

/** `aevo audit replay --verify` re-renders each recorded campaign report and compares its hash. */
describe('aevo audit replay --verify: the recorded campaign report', () => {
  let db: TestDb;
  let store: PostgresEventStore;
  let raw: Client;
  let recordPosition = 0;
  const table = () => `"${db.schema}".events`;

  const verify = async () => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(['audit', 'replay', '--verify'], {
      out: (l) => out.push(l),
      err: (l) => err.push(l),
      env: { AEVO_DATABASE_URL: db.url, AEVO_DB_SCHEMA: db.schema },
      openStore: (e) =>
        PostgresEventStore.open({ connectionString: e.AEVO_DATABASE_URL as string, schema: e.AEVO_DB_SCHEMA }),
    });
    return { code, out, err };
  };

  /** Edits one stored event's data as a DBA would (the append-only trigger lifted); returns the undo. */
  async function editData(position: number, sql: string): Promise<() => Promise<void>> {
    const before = (await raw.query<{ data: unknown }>(`SELECT data FROM ${table()} WHERE position = $1`, [position]))
      .rows[0].data;
    await raw.query(`ALTER TABLE ${table()} DISABLE TRIGGER events_append_only`);
    await raw.query(`UPDATE ${table()} SET data = ${sql} WHERE position = $1`, [position]);
    return async () => {
      await raw.query(`UPDATE ${table()} SET data = $2::jsonb WHERE position = $1`, [position, JSON.stringify(before)]);
      await raw.query(`ALTER TABLE ${table()} ENABLE TRIGGER events_append_only`);
    };
  }

  beforeAll(async () => {
    db = await createTestDb();
    store = await PostgresEventStore.open({ connectionString: db.url, schema: db.schema });
    raw = new Client({ connectionString: db.url });
    await raw.connect();
    for (const e of sampleCampaignLog({ campaignId: 'rc', seed: 3, rounds: 2 }))
      await store.append(e.streamId, 'any', [e]);
    // What the collector records after CampaignCompleted (its service test checks it does).
    const report = completedCampaignReport(await store.readAll({ campaignId: 'rc' }), 'rc', chartJsUmdSource())!;
    const recorded = createEvent(
      CampaignReportRecorded,
      {
        reportSha256: report.sha256,
        throughEventId: report.through.id,
        throughPosition: report.through.position,
        events: report.events,
        bytes: report.bytes,
        rendererVersion: report.rendererVersion,
      },
      { campaignId: 'rc', streamId: 'collector-report-rc', source: 'collector', causationId: report.through.id },
    );
    [recordPosition] = (await store.append(recorded.streamId, 'no-stream', [recorded])).positions;
  });
  afterAll(async () => {
    await store?.close();
    await raw?.end();
    await db?.drop();
  });

  it('passes when the report re-rendered from the log hashes to the recorded one', async () => {
    const { code, out, err } = await verify();
    expect(err).toEqual([]);
    expect(code).toBe(0);
    expect(
      out.find((l) => l.startsWith('verified: ') && l.includes('(evidence, policies, constitution, reports)')),
    ).toBeDefined();
  });

  it('a changed byte in the recorded hash fails, naming the CampaignReportRecorded', async () => {
    const undo = await editData(
      recordPosition,
      `jsonb_set(data, '{reportSha256}', to_jsonb(overlay(data->>'reportSha256' placing (CASE WHEN ` +
        `left(data->>'reportSha256', 1) = '0' THEN '1' ELSE '0' END) from 1 for 1)))`,
    );
    try {
      const { code, err } = await verify();
      expect(code).toBe(1);
      expect(err).toContainEqual(
        expect.stringMatching(
          new RegExp(`^MISMATCH rc: CampaignReportRecorded at position ${recordPosition} reportSha256: `),
        ),
      );
    } finally {
      await undo();
    }
  });

  it('a changed score in an event the report shows fails the report hash too (beside the chain)', async () => {
    const scored = (await store.readAll({ campaignId: 'rc', types: ['LeaderboardScored'] }))[0];
    const undo = await editData(scored.position, `jsonb_set(data, '{publicScore}', '0.123')`);
    try {
      const { code, err } = await verify();
      expect(code).toBe(1);
      expect(err).toContainEqual(expect.stringMatching(new RegExp(`^MISMATCH chain: position ${scored.position} `)));
      expect(err).toContainEqual(
        expect.stringMatching(
          new RegExp(`^MISMATCH rc: CampaignReportRecorded at position ${recordPosition} reportSha256: `),
        ),
      );
    } finally {
      await undo();
    }
    expect((await verify()).code).toBe(0);
  });
});
