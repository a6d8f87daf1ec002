import { canonicalJson, createEvent, LeaderboardScored, SubmissionRequested } from '@aevo/contracts';
import { PostgresEventStore } from '@aevo/eventstore';
import { chartJsUmdSource, foldViews, scatterView, syntheticCampaignLog } from '@aevo/projections';
import { createTestDb, eventually, type TestDb } from '@aevo/testkit';
import { startApi } from '../main';

jest.setTimeout(60_000);

/** The views API: one route per view, the candidate page, compare, the paged event log, and the chart library. */
describe('views API over a real event store', () => {
  let db: TestDb;
  let api: Awaited<ReturnType<typeof startApi>>;
  let writer: PostgresEventStore;
  const log = syntheticCampaignLog({ campaignId: 'va', rounds: 3, workersPerRound: 4, seed: 8 });

  beforeAll(async () => {
    db = await createTestDb();
    writer = await PostgresEventStore.open({ connectionString: db.url, schema: db.schema });
    for (const e of log) await writer.append(e.streamId, 'any', [e]);
    api = await startApi({ port: 0, databaseUrl: db.url, dbSchema: db.schema, quiet: true });
    await eventually(
      async () => ((await (await fetch(`${api.url}/healthz`)).json()) as { caughtUp: boolean }).caughtUp,
    );
  });
  afterAll(async () => {
    await api?.close();
    await writer?.close();
    await db?.drop();
  });

  const get = async (path: string) => {
    const r = await fetch(api.url + path);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const body: any = r.headers.get('content-type')?.includes('json') ? await r.json() : await r.text();
    return { status: r.status, body, type: r.headers.get('content-type') };
  };

  it('answers each view from the fold of the log, and updates it as events arrive', async () => {
    const scatter = await get('/api/campaigns/va/views/scatter');
    expect(scatter.status).toBe(200);
    expect(canonicalJson(scatter.body)).toBe(canonicalJson(scatterView(foldViews(log), 'va')));
    for (const name of ['overview', 'candidates', 'evidence', 'axes', 'lineage', 'budget'])
      expect((await get(`/api/campaigns/va/views/${name}`)).status).toBe(200);
    expect((await get('/api/views/campaigns')).body).toEqual([
      expect.objectContaining({ campaignId: 'va', rounds: 3, candidates: 12 }),
    ]);
    const page = await get('/api/campaigns/va/candidates/va-r1-c1/page');
    expect(page.body).toMatchObject({ candidateId: 'va-r1-c1', round: 1 });
    expect(page.body.trace.map((t: { tool: string }) => t.tool)).toEqual([
      'edit_recipe',
      'train',
      'evaluate',
      'submit_manifest',
    ]);
    const cmp = await get('/api/campaigns/va/compare?kind=rounds&a=1&b=3');
    expect([cmp.body.a.round, cmp.body.b.round]).toEqual([1, 3]);

    // A late score for an unscored candidate shows up in the scatter.
    const unscored = (await get('/api/campaigns/va/views/candidates')).body.find(
      (c: { publicLb: number | null; dev: number | null }) => c.publicLb === null && c.dev !== null,
    );
    const ctx = { campaignId: 'va', streamId: 'campaign-va', source: 'orchestrator' as const };
    await writer.append('campaign-va', 'any', [
      createEvent(
        SubmissionRequested,
        {
          round: unscored.round,
          submissionId: 'late-1',
          candidateId: unscored.candidateId,
          checkpoint: 'ck',
          sandboxPath: '/s',
          reason: 'late',
        },
        ctx,
      ),
    ]);
    await writer.append('lb-va', 'any', [
      createEvent(
        LeaderboardScored,
        {
          submissionId: 'late-1',
          candidateId: unscored.candidateId,
          round: unscored.round,
          publicScore: 0.4242,
          publicDomains: null,
        },
        { ...ctx, streamId: 'lb-va', source: 'leaderboard' },
      ),
    ]);
    await eventually(async () =>
      (await get('/api/campaigns/va/views/scatter')).body.points.some(
        (p: { candidateId: string; publicLb: number }) =>
          p.candidateId === unscored.candidateId && p.publicLb === 0.4242,
      ),
    );
  });

  it('pages and filters the event log on the server, newest first', async () => {
    const total = log.length + 2;
    const first = await get('/api/campaigns/va/events?limit=10');
    expect(first.body).toMatchObject({ total, offset: 0, limit: 10 });
    const positions = first.body.events.map((e: { position: number }) => e.position);
    expect(positions).toEqual([...positions].sort((a, b) => b - a));
    const second = await get('/api/campaigns/va/events?limit=10&offset=10');
    expect(Math.max(...second.body.events.map((e: { position: number }) => e.position))).toBeLessThan(
      Math.min(...positions),
    );
    const last = await get(`/api/campaigns/va/events?limit=10&offset=${total - 3}`);
    expect(last.body.events).toHaveLength(3);
    expect(last.body.events[2].type).toBe('CampaignStarted');
    expect((await get(`/api/campaigns/va/events?offset=${total}`)).body.events).toEqual([]);
    const typed = await get('/api/campaigns/va/events?type=RoundStarted,RoundClosed&limit=4');
    expect(typed.body.total).toBe(6);
    expect(
      typed.body.events.map((e: { type: string; data: { round: number } }) => `${e.type} ${e.data.round}`),
    ).toEqual(['RoundClosed 3', 'RoundStarted 3', 'RoundClosed 2', 'RoundStarted 2']);
  });

  it('answers bad input with a 400 naming the field and unknown targets with a 404', async () => {
    const view = await get('/api/campaigns/va/views/nope');
    expect(view.status).toBe(400);
    expect(view.body.issues[0].path).toBe('view');
    const paging = await get('/api/campaigns/va/events?limit=5000&offset=-1&type=Bad-Type');
    expect(paging.status).toBe(400);
    expect(paging.body.issues.map((i: { path: string }) => i.path).sort()).toEqual([
      'query.limit',
      'query.offset',
      'query.type',
    ]);
    const cmp = await get('/api/campaigns/va/compare?kind=teams&a=1');
    expect(cmp.body.issues.map((i: { path: string }) => i.path).sort()).toEqual(['query.b', 'query.kind']);
    const cand = await get('/api/campaigns/va/candidates/va-r9-c9/page');
    expect([cand.status, cand.body.issues[0].path]).toEqual([404, 'candidateId']);
    const round = await get('/api/campaigns/va/compare?kind=rounds&a=1&b=7');
    expect([round.status, round.body.issues[0].path]).toEqual([404, 'round']);
    expect((await get('/api/campaigns/zz/views/overview')).status).toBe(404);
    expect((await get('/api/campaigns/zz/events')).status).toBe(404);
  });

  it('serves Chart.js from the API (no network on the page) and the dashboard that loads it', async () => {
    const js = await get('/assets/chart.umd.js');
    expect(js.status).toBe(200);
    expect(js.type).toContain('javascript');
    expect(js.body).toBe(chartJsUmdSource());
    const page = await get('/');
    expect(page.body).toContain('<script src="/assets/chart.umd.js"></script>');
  });
});
