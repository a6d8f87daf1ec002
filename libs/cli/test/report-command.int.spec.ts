import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CampaignPaused, CampaignReportRecorded, createEvent } from '@aevo/contracts';
import { PostgresEventStore } from '@aevo/eventstore';
import {
  campaignReport,
  chartJsUmdSource,
  completedCampaignReport,
  reportRendererVersion,
  syntheticCampaignLog,
} from '@aevo/projections';
import { createTestDb, type TestDb } from '@aevo/testkit';
import { runCli, type CliIo } from '../src';

jest.setTimeout(120_000);

describe('aevo report', () => {
  let db: TestDb;
  let store: PostgresEventStore;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aevo-report-cli-'));
  const log = [
    ...syntheticCampaignLog({ campaignId: 'rep', rounds: 3, workersPerRound: 4, seed: 2 }),
    ...syntheticCampaignLog({ campaignId: 'other', rounds: 1, workersPerRound: 3, seed: 3 }),
  ];

  const run = async (args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const io: CliIo = {
      out: (l) => out.push(l),
      err: (l) => err.push(l),
      env: { AEVO_DATABASE_URL: db.url, AEVO_DB_SCHEMA: db.schema },
      openStore: (env) =>
        PostgresEventStore.open({
          connectionString: env.AEVO_DATABASE_URL as string,
          schema: env.AEVO_DB_SCHEMA,
          poolSize: 2,
        }),
    };
    return { code: await runCli(args, io), out, err };
  };

  beforeAll(async () => {
    db = await createTestDb();
    store = await PostgresEventStore.open({ connectionString: db.url, schema: db.schema });
    for (const e of log) await store.append(e.streamId, 'any', [e]);
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it(
    'writes one self-contained HTML file built from the log alone and ' +
      'prints its sha256; a second run reproduces it',
    async () => {
      const file = path.join(dir, 'a', 'report.html');
      const first = await run(['report', 'rep', '--out', file]);
      expect(first.err).toEqual([]);
      expect(first.code).toBe(0);
      const html = fs.readFileSync(file, 'utf8');
      const sha = createHash('sha256').update(html, 'utf8').digest('hex');
      expect(first.out[1]).toBe(`sha256 ${sha}`);
      expect(first.out[0]).toContain(`${log.filter((e) => e.campaignId === 'rep').length} event(s)`);
      // Self-contained: no external script, stylesheet or fetch target; the data, Chart.js and the script inline.
      expect(html).not.toMatch(/<script[^>]+src=/);
      expect(html).not.toMatch(/<link[^>]+stylesheet/);
      expect(html).toContain('id="aevo-report-data"');
      expect(html).toContain(chartJsUmdSource().slice(0, 200));
      // Only this campaign's data.
      expect(html).toContain('rep-r3-c1');
      expect(html).not.toContain('other-r1-c1');
      // The same bytes as the in-memory builder over the same events, and again on a second run.
      expect(campaignReport(log, 'rep', chartJsUmdSource()).sha256).toBe(sha);
      const again = await run(['report', 'rep', '--out', path.join(dir, 'b.html'), '--json']);
      expect(JSON.parse(again.out[0])).toMatchObject({
        campaignId: 'rep',
        sha256: sha,
        bytes: Buffer.byteLength(html),
      });
    },
  );

  it(
    'covers a completed campaign up to its CampaignCompleted and ' + 'says whether its hash equals the recorded one',
    async () => {
      const recordReport = async (campaignId: string, reportSha256: string) => {
        const report = completedCampaignReport(await store.readAll({ campaignId }), campaignId, chartJsUmdSource())!;
        const data = {
          reportSha256,
          throughEventId: report.through.id,
          throughPosition: report.through.position,
          events: report.events,
          bytes: report.bytes,
          rendererVersion: reportRendererVersion(chartJsUmdSource()),
        };
        const streamId = `collector-report-${campaignId}`;
        const e = createEvent(CampaignReportRecorded, data, { campaignId, streamId, source: 'collector' });
        return { report, position: (await store.append(streamId, 'any', [e])).positions[0] };
      };
      const before = await run(['report', 'rep', '--out', path.join(dir, 'c.html')]);
      expect(before.out[2]).toBe('recorded: none yet (the collector records the hash after CampaignCompleted)');
      const { report, position } = await recordReport(
        'rep',
        completedCampaignReport(await store.readAll({ campaignId: 'rep' }), 'rep', chartJsUmdSource())!.sha256,
      );
      // What happens after completion (the record itself, a late event) is not in the report.
      const late = createEvent(
        CampaignPaused,
        { reason: 'after the end' },
        { campaignId: 'rep', streamId: 'campaign-rep', source: 'orchestrator' },
      );
      await store.append(late.streamId, 'any', [late]);
      const after = await run(['report', 'rep', '--out', path.join(dir, 'd.html')]);
      expect(after.code).toBe(0);
      expect(after.out).toEqual([
        `report of rep: ${report.events} event(s) (up to its CampaignCompleted at position ` +
          `${report.through.position}) → ${path.join(dir, 'd.html')} (${report.bytes} bytes)`,
        `sha256 ${report.sha256}`,
        `recorded: equal (CampaignReportRecorded at position ${position})`,
      ]);
      // A record that does not match the log is a finding (exit 1), named.
      const other = syntheticCampaignLog({ campaignId: 'forged', rounds: 1, workersPerRound: 3, seed: 4 });
      for (const e of other) await store.append(e.streamId, 'any', [e]);
      const wrong = `${'0'.repeat(63)}1`;
      const forged = await recordReport('forged', wrong);
      const json = await run(['report', 'forged', '--out', path.join(dir, 'e.html'), '--json']);
      expect(json.code).toBe(1);
      expect(JSON.parse(json.out[0])).toMatchObject({
        sha256: forged.report.sha256,
        through: forged.report.through,
        recorded: { status: 'differs', position: forged.position, sha256: wrong },
      });
    },
  );

  it('refuses an unknown campaign with a usage error and writes nothing', async () => {
    const file = path.join(dir, 'none.html');
    const r = await run(['report', 'nope', '--out', file]);
    expect(r.code).toBe(2);
    expect(r.err.join('\n')).toContain('no campaign "nope"');
    expect(fs.existsSync(file)).toBe(false);
  });
});
