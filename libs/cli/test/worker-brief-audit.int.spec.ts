import { createEvent, WorkerStarted, type EventEnvelope } from '@aevo/contracts';
import { PostgresEventStore } from '@aevo/eventstore';
import { sampleCampaignLog } from '@aevo/projections';
import { createTestDb, type TestDb } from '@aevo/testkit';
import { defaultWorkerBrief } from '@aevo/worker-kit';
import { runCli } from '../src';

jest.setTimeout(120_000);

/** A Claude worker's start under `brief`, on the sample campaign's candidate stream. */
const claudeStart = (
  campaignId: string,
  candidateId: string,
  brief: { source: 'default' | 'substrate'; path: string; sha256: string },
): EventEnvelope =>
  createEvent(
    WorkerStarted,
    {
      candidateId,
      round: 1,
      workerId: 'w-claude',
      agentKind: 'claude',
      resumedFromStep: null,
      brief: { source: brief.source, path: brief.path, sha256: brief.sha256 },
    },
    { campaignId, streamId: `candidate:${campaignId}:${candidateId}`, source: 'worker' },
  );

describe('aevo audit replay --verify: the worker brief each Claude worker recorded', () => {
  let db: TestDb;
  let store: PostgresEventStore;
  const run = async () => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(['audit', 'replay', '--verify'], {
      out: (l) => out.push(l),
      err: (l) => err.push(l),
      env: { AEVO_DATABASE_URL: db.url, AEVO_DB_SCHEMA: db.schema },
      openStore: (e) =>
        PostgresEventStore.open({
          connectionString: e.AEVO_DATABASE_URL as string,
          schema: e.AEVO_DB_SCHEMA,
          poolSize: 2,
        }),
    });
    return { code, out, err };
  };
  beforeAll(async () => {
    db = await createTestDb();
    store = await PostgresEventStore.open({ connectionString: db.url, schema: db.schema });
    for (const e of sampleCampaignLog({ campaignId: 'briefed', seed: 3, rounds: 1 }))
      await store.append(e.streamId, 'any', [e]);
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  it('given workers that recorded the installed default brief, the pin is re-hashed and verified', async () => {
    const b = defaultWorkerBrief();
    await store.append('candidate:briefed:c-a', 'any', [claudeStart('briefed', 'c-a', b)]);
    await store.append('candidate:briefed:c-b', 'any', [claudeStart('briefed', 'c-b', b)]);
    const { code, err } = await run();
    expect(err).toEqual([]);
    expect(code).toBe(0);
  });

  it('given one worker told other rules than the rest, verification fails and names the briefs', async () => {
    const b = defaultWorkerBrief();
    await store.append('candidate:briefed:c-c', 'any', [
      claudeStart('briefed', 'c-c', { ...b, sha256: 'f'.repeat(64) }),
    ]);
    const { code, err } = await run();
    expect(code).toBe(1);
    expect(
      err.some(
        (l) =>
          l.startsWith('MISMATCH briefed: WorkerStarted briefs: one brief for every worker of the campaign') &&
          l.includes('f'.repeat(64)) &&
          l.includes(b.sha256),
      ),
    ).toBe(true);
  });
});
