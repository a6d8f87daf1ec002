import { PostgresEventStore } from '@aevo/eventstore';
import { sampleCampaignLog } from '@aevo/projections';
import { createTestDb, eventually, type TestDb } from '@aevo/testkit';
import { startApi } from '../main';

jest.setTimeout(60_000);

// A made-up value standing for a secret of the API's environment (any *_TOKEN variable counts), and a log tail of a
// hostile job that prints it, encoded too, next to a token-shaped string.
const FAKE_TOKEN = 'fake-api-test-token-0123456789';
const LEAKY_TAIL = [
  'step 100 loss=0.4312',
  `token ${FAKE_TOKEN}`,
  `b64 ${Buffer.from(FAKE_TOKEN).toString('base64')} hex ${Buffer.from(FAKE_TOKEN).toString('hex')}`,
  'key sk-ant-api03-FakeFakeFake0123456789abcdef',
].join('\n');

describe('api over a real event store', () => {
  let db: TestDb;
  let api: Awaited<ReturnType<typeof startApi>>;
  let writer: PostgresEventStore;

  beforeAll(async () => {
    db = await createTestDb();
    writer = await PostgresEventStore.open({ connectionString: db.url, schema: db.schema });
    for (const e of sampleCampaignLog({ campaignId: 'demo', seed: 7, rounds: 2, candidatesPerRound: 3 }))
      await writer.append(e.streamId, 'any', [e]);
    // Recorded before tails were scrubbed (events are append-only): the API must not serve it as it is.
    for (const e of sampleCampaignLog({ campaignId: 'leaky', seed: 3, rounds: 1, candidatesPerRound: 1 }))
      await writer.append(e.streamId, 'any', [
        e.type === 'JobSucceeded' ? { ...e, data: { ...(e.data as object), logTail: LEAKY_TAIL } } : e,
      ]);
    process.env.AEVO_API_TEST_FAKE_TOKEN = FAKE_TOKEN;
    api = await startApi({ port: 0, databaseUrl: db.url, dbSchema: db.schema, quiet: true });
  });
  afterAll(async () => {
    delete process.env.AEVO_API_TEST_FAKE_TOKEN;
    await api?.close();
    await writer?.close();
    await db?.drop();
  });

  const get = async (path: string) => {
    const r = await fetch(api.url + path);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const body: any = r.headers.get('content-type')?.includes('json') ? await r.json() : await r.text();
    return { status: r.status, body };
  };

  it('serves the campaign list, detail, candidates, jobs and the event log', async () => {
    await eventually(async () => (await get('/healthz')).body.caughtUp);
    const list = await get('/api/campaigns');
    expect(list.body).toEqual([
      expect.objectContaining({ campaignId: 'demo', rounds: 2 }),
      expect.objectContaining({ campaignId: 'leaky' }),
    ]);
    const detail = await get('/api/campaigns/demo');
    expect(detail.body.trajectory).toHaveLength(2);
    const candidates = await get('/api/campaigns/demo/candidates?round=1');
    expect(candidates.body).toHaveLength(3);
    expect(candidates.body[0]).toMatchObject({ round: 1, isAnchor: true });
    const events = await get('/api/events?campaign=demo&type=RoundStarted');
    expect(events.body.map((e: { type: string }) => e.type)).toEqual(['RoundStarted', 'RoundStarted']);
    const page = await get('/');
    expect(page.body).toContain('<title>aevo');
  });

  it(
    'serves job log tails scrubbed of configured secrets and token ' + 'shapes, from the read model and the event log',
    async () => {
      // Given a JobSucceeded whose recorded tail holds a configured secret, its encodings and a token-shaped string
      await eventually(async () => (await get('/healthz')).body.caughtUp);
      // When the jobs and the raw events are read
      const jobs = await get('/api/campaigns/leaky/jobs');
      const events = await get('/api/events?campaign=leaky&type=JobSucceeded');
      // Then no form of either survives, and the ordinary line does
      expect(jobs.body).toHaveLength(1);
      expect(events.body).toHaveLength(1);
      for (const served of [JSON.stringify(jobs.body), JSON.stringify(events.body)]) {
        for (const f of [
          FAKE_TOKEN,
          Buffer.from(FAKE_TOKEN).toString('base64'),
          Buffer.from(FAKE_TOKEN).toString('hex'),
          'sk-ant-api03-FakeFake',
        ])
          expect(served).not.toContain(f);
      }
      expect(jobs.body[0].logTail).toBe(
        'step 100 loss=0.4312\ntoken [redacted:secret]\nb64 [redacted:secret] hex [redacted:secret]\nkey ' +
          '[redacted:anthropic-key]',
      );
      expect(events.body[0].data.logTail).toBe(jobs.body[0].logTail);
    },
  );

  it('answers bad input with a 400 naming the field, and unknown campaigns with a 404', async () => {
    const bad = await get('/api/events?limit=abc&bogus=1');
    expect(bad.status).toBe(400);
    expect(bad.body.issues.map((i: { path: string }) => i.path).sort()).toEqual(['query', 'query.limit']);
    const round = await get('/api/campaigns/demo/candidates?round=0');
    expect(round.status).toBe(400);
    expect(round.body.issues[0].path).toBe('round');
    const missing = await get('/api/campaigns/nope');
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('UNKNOWN_CAMPAIGN');
  });

  it('streams new events over server-sent events', async () => {
    const ctrl = new AbortController();
    const res = await fetch(`${api.url}/api/stream?campaign=live`, { signal: ctrl.signal });
    const reader = res.body!.getReader();
    const [extra] = sampleCampaignLog({ campaignId: 'live', seed: 1, rounds: 1, candidatesPerRound: 1 });
    await writer.append(extra.streamId, 'any', [extra]);
    let text = '';
    await eventually(async () => {
      const { value } = await reader.read();
      text += Buffer.from(value ?? new Uint8Array()).toString();
      return text.includes('CampaignStarted');
    });
    ctrl.abort();
    expect(text).toMatch(/event: event/);
  });
});
