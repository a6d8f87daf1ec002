import 'reflect-metadata';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CampaignPaused, CampaignReportRecorded, createEvent, type DataOf } from '@aevo/contracts';
import { PostgresEventStore, type StoredEvent } from '@aevo/eventstore';
import type { ServiceApp } from '@aevo/messaging';
import { reportRendererVersion, chartJsUmdSource, syntheticCampaignLog } from '@aevo/projections';
import { runCli } from '@aevo/cli';
import { eventually, startServiceHarness, type ServiceHarness, type TestDb } from '@aevo/testkit';
import { CollectorModule } from '../src/collector.module';
import { CollectorController } from '../src/collector.controller';
import { CollectorWorkflow, reportStreamId } from '../src/app/collector-workflow';

jest.setTimeout(180_000);

type Recorded = StoredEvent & { data: DataOf<typeof CampaignReportRecorded> };

describe('collector: the campaign report recorded when the campaign completes', () => {
  let h: ServiceHarness;
  let db: TestDb;
  let store: PostgresEventStore;
  let replicas: ServiceApp[];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aevo-collector-report-'));

  const reports = async (campaignId: string) =>
    (await store.readAll({ campaignId, types: [CampaignReportRecorded.type] })) as Recorded[];

  /** `aevo report <campaign> --json` against the test store. */
  async function cliReport(campaignId: string) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(['report', campaignId, '--out', path.join(dir, `${campaignId}.html`), '--json'], {
      out: (l) => out.push(l),
      err: (l) => err.push(l),
      env: { AEVO_DATABASE_URL: db.url, AEVO_DB_SCHEMA: db.schema },
      openStore: (env) =>
        PostgresEventStore.open({ connectionString: env.AEVO_DATABASE_URL as string, schema: env.AEVO_DB_SCHEMA }),
    });
    expect(err).toEqual([]);
    return { code, json: JSON.parse(out[0]) as { sha256: string; bytes: number; recorded: { status: string } } };
  }

  beforeAll(async () => {
    const collector = () =>
      CollectorModule.forRoot({
        // The timer is slow here: the record must come from the CampaignCompleted message.
        settings: { deadlineSeconds: 3600, tickMs: 3_600_000, claimSeconds: 300, prose: { kind: 'off' } },
        prose: null,
      });
    h = await startServiceHarness([collector(), collector()], { service: 'collector' });
    ({ db, store, replicas } = h);
  });

  afterAll(async () => {
    await h?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('records the hash once, even on redelivery and racing replicas, equal to what aevo report prints', async () => {
    const log = syntheticCampaignLog({ campaignId: 'done', rounds: 2, workersPerRound: 3, seed: 5 });
    for (const e of log) await store.append(e.streamId, 'any', [e]);
    const [rec] = await eventually(async () => {
      const r = await reports('done');
      return r.length > 0 && r;
    }, 60_000);
    const completed = (await store.readAll({ campaignId: 'done', types: ['CampaignCompleted'] }))[0];
    const through = (await store.readAll({ campaignId: 'done' })).filter((e) => e.position <= completed.position);
    expect(rec.streamId).toBe(reportStreamId('done'));
    expect(rec.causationId).toBe(completed.id);
    expect(rec.data).toMatchObject({
      throughEventId: completed.id,
      throughPosition: completed.position,
      events: through.length,
      rendererVersion: reportRendererVersion(chartJsUmdSource()),
    });

    // Redelivered to both replicas at once, and found again by their timers: nothing more is recorded.
    const controllers = replicas.map((r) => r.app.get(CollectorController));
    await Promise.all(controllers.flatMap((c) => [c.onCampaignCompleted(completed), c.onCampaignCompleted(completed)]));
    await Promise.all(replicas.map((r) => r.app.get(CollectorWorkflow).tick()));
    expect(await reports('done')).toHaveLength(1);
    expect(await store.readStream(reportStreamId('done'))).toHaveLength(1);

    // A late event of the campaign does not change the report: the CLI renders the same cut, byte for byte.
    const late = createEvent(
      CampaignPaused,
      { reason: 'late' },
      { campaignId: 'done', streamId: 'campaign-done', source: 'orchestrator' },
    );
    await store.append(late.streamId, 'any', [late]);
    const cli = await cliReport('done');
    expect(cli.code).toBe(0);
    expect(cli.json).toMatchObject({
      sha256: rec.data.reportSha256,
      bytes: rec.data.bytes,
      recorded: { status: 'equal' },
    });
  });

  it('records nothing for a campaign that has not completed', async () => {
    const log = syntheticCampaignLog({ campaignId: 'running', rounds: 1, workersPerRound: 3, seed: 6 });
    for (const e of log.filter((x) => x.type !== 'CampaignCompleted')) await store.append(e.streamId, 'any', [e]);
    const workflow = replicas[1].app.get(CollectorWorkflow);
    expect(await workflow.recordReport('running')).toBe('waiting');
    await workflow.tick();
    expect(await reports('running')).toEqual([]);
  });
});
