import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, noOverflow, show } from '../../test/chromium';
import { createEvent, LeaderboardScored, SubmissionRequested, type EventEnvelope } from '@aevo/contracts';
import { PostgresEventStore, type StoredEvent } from '@aevo/eventstore';
import {
  axisEffectsView,
  budgetView,
  campaignReport,
  chartJsUmdSource,
  foldViews,
  ProjectionSet,
  syntheticCampaignLog,
} from '@aevo/projections';
import { createTestDb, eventually, type TestDb } from '@aevo/testkit';
import { startApi } from '../main';

jest.setTimeout(180_000);
const CHROMIUM = process.env.AEVO_CHROMIUM ?? '/usr/bin/chromium';
/** Screenshots of every view (gitignored), kept as test artefacts. */
const ARTIFACTS = path.resolve(__dirname, '../../test-artifacts');
/**
 * A campaign recorded on the simulated substrate (services/meta-policy/test/sim-campaign.ts, seed 11, 6 rounds: the
 * substrate's scripts trained, evaluated and scored every candidate; the real collector and meta-policy cores wrote
 * the evidence and the revisions). Its designed decoupling region shows: equation is suspected in round 3, probed
 * and confirmed in round 4.
 */
const RECORDED = path.resolve(__dirname, '../../test/fixtures/sim6-decoupling.jsonl');

type Row = Record<string, unknown>;
const f3 = (x: unknown) => (typeof x === 'number' ? x.toFixed(3) : '—');

/**
 * The dashboard's views in headless Chromium (Debian's), as a person would see them, checked against the projections.
 */
describe('dashboard views in headless Chromium', () => {
  let db: TestDb;
  let api: Awaited<ReturnType<typeof startApi>>;
  let browser: Browser;
  let stored: StoredEvent[];
  let candidates: Record<string, Row>;
  let trajectory: Record<string, Row>;
  const errors: string[] = [];

  beforeAll(async () => {
    if (!fs.existsSync(CHROMIUM))
      throw new Error(`${CHROMIUM} is missing: run tools/setup-system.sh (installs Debian chromium)`);
    db = await createTestDb();
    const writer = await PostgresEventStore.open({ connectionString: db.url, schema: db.schema });
    const recorded = fs
      .readFileSync(RECORDED, 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as EventEnvelope);
    for (const e of [
      ...recorded,
      ...syntheticCampaignLog({ campaignId: 'synth', rounds: 4, workersPerRound: 5, seed: 5 }),
    ])
      await writer.append(e.streamId, 'any', [e]);
    stored = await writer.readAll({ fromPosition: 0, limit: 100_000 });
    await writer.close();
    const set = new ProjectionSet().applyAll(stored);
    candidates = set.snapshot('candidates') as Record<string, Row>;
    trajectory = set.snapshot('trajectory') as Record<string, Row>;
    api = await startApi({ port: 0, databaseUrl: db.url, dbSchema: db.schema, quiet: true });
    await eventually(
      async () => ((await (await fetch(`${api.url}/healthz`)).json()) as { caughtUp: boolean }).caughtUp,
    );
    browser = await launchChromium(CHROMIUM);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
  });
  beforeEach(() => {
    errors.length = 0;
  });
  afterAll(async () => {
    await browser?.close();
    await api?.close();
    await db?.drop();
  });

  async function openPage(width: number): Promise<Page> {
    const page = await browser.newPage({ viewport: { width, height: 1000 } });
    page.on('pageerror', (e) => errors.push(String(e)));
    // The API's Content-Security-Policy must admit everything the dashboard does (Chart.js from /assets included).
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('response', (r) => {
      if (r.status() >= 400) errors.push(`HTTP ${r.status()} ${r.url()}`);
    });
    return page;
  }

  const cells = (page: Page, rowSelector: string, key: string) =>
    page.locator(`${rowSelector} [data-k="${key}"]`).allTextContents();

  it(
    'shows each view of the recorded campaign with the projections’ ' + 'numbers, the decoupling marked on the scatter',
    async () => {
      const page = await openPage(1280);
      const base = `${api.url}/`;

      await show(page, base, 'sim6/overview', 'overview');
      const rounds = Object.values(trajectory)
        .filter((t) => t.campaignId === 'sim6')
        .sort((a, b) => (a.round as number) - (b.round as number));
      expect(rounds).toHaveLength(6);
      expect(await cells(page, '[data-testid=round-row]', 'bestDev')).toEqual(rounds.map((t) => f3(t.bestDev)));
      expect(await cells(page, '[data-testid=round-row]', 'bestPublicLb')).toEqual(
        rounds.map((t) => f3(t.bestPublicLb)),
      );
      expect(await page.getByTestId('hypothesis-row').first().textContent()).toContain('confirmed');
      expect(Number(await page.getByTestId('trajectory').getAttribute('data-points'))).toBeGreaterThanOrEqual(12);

      await show(page, base, 'sim6/scatter', 'scatter');
      const scored = Object.entries(candidates).filter(
        ([, c]) => c.campaignId === 'sim6' && c.dev !== null && c.publicLb !== null,
      );
      const chart = page.getByTestId('scatter-chart');
      expect(Number(await chart.getAttribute('data-points'))).toBe(scored.length);
      // The suspect (sim6-r3-c1) and its two probes in round 4.
      expect(Number(await chart.getAttribute('data-marked'))).toBe(3);
      expect(await chart.getAttribute('data-band')).toBe('yes');
      const hypothesis = await page.getByTestId('scatter-hypothesis').textContent();
      expect(hypothesis).toContain('confirmed');
      expect(hypothesis).toContain('sim6-r3-c1');
      const pointIds = await page
        .locator('[data-testid=scatter-point]')
        .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-candidate')));
      expect(pointIds.sort()).toEqual(scored.map(([id]) => id).sort());
      expect(await cells(page, '[data-testid=scatter-point]', 'dev')).toEqual(
        pointIds.map((id) => f3(candidates[id as string].dev)),
      );
      expect(await cells(page, '[data-testid=scatter-point]', 'publicLb')).toEqual(
        pointIds.map((id) => f3(candidates[id as string].publicLb)),
      );

      // The round evidence as the collector recorded it: round 3 flagged the decoupling.
      await show(page, base, 'sim6/evidence?round=3', 'evidence');
      expect(await page.getByTestId('decoupling').textContent()).toBe('proxy decoupling: FLAGGED');
      expect(await page.getByTestId('evidence-candidate').count()).toBe(4);
      await page.selectOption('#ev-round', '2');
      await page.locator('[data-testid=evidence][data-round="2"]').waitFor();
      expect(await page.getByTestId('decoupling').textContent()).toBe('proxy decoupling: no');

      // Axis effects: the dev effect per axis is the mean of (candidate dev − its round's anchor dev), from the
      // candidates projection.
      await show(page, base, 'sim6/axes', 'axes');
      const sim = Object.values(candidates).filter((c) => c.campaignId === 'sim6');
      const anchorDev = new Map(sim.filter((c) => c.isAnchor).map((c) => [c.round, c.dev as number]));
      const devEffects = new Map<string, number[]>();
      for (const c of sim)
        if (!c.isAnchor && c.dev !== null)
          devEffects.set(c.axis as string, [
            ...(devEffects.get(c.axis as string) ?? []),
            (c.dev as number) - (anchorDev.get(c.round) as number),
          ]);
      const axesShown = await page
        .locator('[data-testid=axis-row]')
        .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-axis')));
      expect(axesShown).toEqual([...devEffects.keys()].sort());
      const signed = (x: number) => (x > 0 ? '+' : '') + x.toFixed(3);
      expect(await cells(page, '[data-testid=axis-row]', 'devMean')).toEqual(
        axesShown.map((a) =>
          signed(
            (devEffects.get(a as string) as number[]).reduce((s, x) => s + x, 0) /
              (devEffects.get(a as string) as number[]).length,
          ),
        ),
      );
      const axesView = axisEffectsView(foldViews(stored), 'sim6');
      expect(await cells(page, '[data-testid=axis-row]', 'lbMean')).toEqual(
        axesView.axes.map((a) => (a.lb.mean === null ? '—' : signed(a.lb.mean))),
      );

      await show(page, base, 'sim6/lineage', 'lineage');
      expect(await page.getByTestId('revision').count()).toBe(
        stored.filter((e) => e.campaignId === 'sim6' && e.type === 'PolicyRevised').length + 1,
      );

      await show(page, base, 'sim6/compare?kind=candidates&a=sim6-r3-c1&b=sim6-r4-c2', 'compare');
      expect(await page.getByTestId('compare-a-dev').textContent()).toBe(f3(candidates['sim6-r3-c1'].dev));
      expect(await page.getByTestId('compare-b-lb').textContent()).toBe(f3(candidates['sim6-r4-c2'].publicLb));

      // The event log: paged and filtered on the server.
      await show(page, base, 'sim6/events?type=RoundStarted', 'events');
      expect(await page.getByTestId('events-total').textContent()).toBe('6');
      expect(await page.locator('[data-testid=event-row] td:nth-child(2)').allTextContents()).toEqual(
        Array(6).fill('RoundStarted'),
      );
      await show(page, base, 'sim6/events', 'events');
      expect(Number(await page.getByTestId('events-total').textContent())).toBe(
        stored.filter((e) => e.campaignId === 'sim6').length,
      );
      const firstPage = await page.locator('[data-testid=event-row] td:nth-child(1)').allTextContents();
      expect(firstPage).toHaveLength(50);
      await page.getByTestId('events-next').click();
      await page.locator('#view[data-ready="true"]').waitFor();
      await eventually(async () => (await page.getByTestId('events-range').textContent())?.startsWith('51–') === true);
      const secondPage = (await page.locator('[data-testid=event-row] td:nth-child(1)').allTextContents()).map(Number);
      expect(Math.max(...secondPage)).toBeLessThan(Math.min(...firstPage.map(Number)));
      await page.getByTestId('live').getByText('live').waitFor();
      expect(errors).toEqual([]);
      await page.close();
    },
  );

  it(
    'shows a candidate page (trace, jobs, checkpoints, selection, ' + 'submissions, frozen checks) and the budget',
    async () => {
      const page = await openPage(1280);
      const base = `${api.url}/`;
      await show(page, base, 'synth/candidates', 'candidates');
      const ids = Object.keys(candidates).filter((id) => candidates[id].campaignId === 'synth');
      expect(await page.getByTestId('candidate-row').count()).toBe(ids.length);
      await page.selectOption('#f-round', '2');
      expect(await page.getByTestId('candidate-row').count()).toBe(
        ids.filter((id) => candidates[id].round === 2).length,
      );

      const probe = 'synth-r2-c1';
      await page.locator(`[data-candidate-link="${probe}"]`).first().click();
      await page.locator('#view[data-view="candidate"][data-ready="true"]').waitFor();
      expect(await page.getByTestId('cand-dev').textContent()).toBe(f3(candidates[probe].dev));
      expect(await page.getByTestId('cand-lb').textContent()).toBe(f3(candidates[probe].publicLb));
      expect(await page.getByTestId('trace-step').count()).toBe(4);
      expect(await page.getByTestId('job').count()).toBe(
        stored.filter(
          (e) => e.type === 'JobRequested' && (e.data as { spec: { candidateId: string } }).spec.candidateId === probe,
        ).length,
      );
      expect(await page.getByTestId('checkpoint-row').count()).toBe(2);
      expect(await page.getByTestId('cand-selection').textContent()).toContain(
        String(candidates[probe].selectedCheckpoint),
      );
      expect(await page.getByTestId('submission-row').count()).toBe((candidates[probe].submissions as string[]).length);
      expect(await page.getByTestId('frozen-ok').count()).toBe(1);
      expect(await page.getByTestId('candidate-page').textContent()).toContain('probed');

      // After the final audit: the private scores, as CampaignCompleted recorded them for the best candidate.
      const completed = stored.find((e) => e.campaignId === 'synth' && e.type === 'CampaignCompleted')?.data as {
        bestCandidateId: string;
        bestPublicLb: number;
        bestPrivateLb: number;
      };
      await show(page, base, 'synth/overview', 'overview');
      expect(await page.locator('[data-testid=result] [data-k=bestPrivateLb]').textContent()).toBe(
        f3(completed.bestPrivateLb),
      );
      await show(page, base, 'synth/scatter', 'scatter');
      const best = page.locator(`[data-testid=scatter-point][data-candidate="${completed.bestCandidateId}"]`);
      expect([
        await best.locator('[data-k=publicLb]').textContent(),
        await best.locator('[data-k=privateLb]').textContent(),
      ]).toEqual([f3(completed.bestPublicLb), f3(completed.bestPrivateLb)]);

      // Live: a score recorded while the scatter is open appears in it (server-sent events, then a re-render).
      const pointsBefore = Number(await page.getByTestId('scatter-chart').getAttribute('data-points'));
      const unscored = Object.entries(candidates).find(
        ([, c]) => c.campaignId === 'synth' && c.dev !== null && c.publicLb === null,
      ) as [string, Row];
      const ctx = { campaignId: 'synth', streamId: 'campaign-synth', source: 'orchestrator' as const };
      await api.store.append('campaign-synth', 'any', [
        createEvent(
          SubmissionRequested,
          {
            round: unscored[1].round as number,
            submissionId: 'live-1',
            candidateId: unscored[0],
            checkpoint: 'ck',
            sandboxPath: '/s',
            reason: 'live test',
          },
          ctx,
        ),
      ]);
      await api.store.append('lb-synth', 'any', [
        createEvent(
          LeaderboardScored,
          {
            submissionId: 'live-1',
            candidateId: unscored[0],
            round: unscored[1].round as number,
            publicScore: 0.4321,
            publicDomains: null,
          },
          { ...ctx, streamId: 'lb-synth', source: 'leaderboard' },
        ),
      ]);
      await page.locator(`[data-testid=scatter-chart][data-points="${pointsBefore + 1}"]`).waitFor();
      expect(
        await page
          .locator(`[data-testid=scatter-point][data-candidate="${unscored[0]}"] [data-k=publicLb]`)
          .textContent(),
      ).toBe('0.432');

      await show(page, base, 'synth/budget', 'budget');
      const gpu = stored
        .filter((e) => e.campaignId === 'synth' && (e.type === 'JobSucceeded' || e.type === 'JobFailed'))
        .reduce((s, e) => s + (e.data as { gpuSeconds: number }).gpuSeconds, 0);
      expect(await page.locator('[data-testid=budget-totals] [data-k=gpuSeconds]').textContent()).toBe(gpu.toFixed(1));
      expect(await cells(page, '[data-testid=budget-row]', 'submissions')).toEqual(
        // (the live test's submission included)
        [1, 2, 3, 4].map(
          (r) =>
            String(
              stored.filter(
                (e) =>
                  e.campaignId === 'synth' &&
                  e.type === 'SubmissionRequested' &&
                  (e.data as { round: number }).round === r,
              ).length + (r === unscored[1].round ? 1 : 0),
            ) + ' / 4',
        ),
      );
      expect(await page.locator('[data-testid=budget-totals] [data-k=llmTokens]').textContent()).toBe(
        String(budgetView(foldViews(stored), 'synth').totals.llmTokens),
      );
      expect(errors).toEqual([]);
      await page.close();
    },
  );

  it('fits every view without horizontal overflow at 1280 and 1920 px, and keeps a screenshot of each', async () => {
    const routes: Array<[string, string]> = [
      ['sim6/overview', 'overview'],
      ['sim6/scatter', 'scatter'],
      ['sim6/candidates', 'candidates'],
      ['sim6/evidence?round=3', 'evidence'],
      ['synth/candidate/synth-r2-c1', 'candidate'],
      ['sim6/axes', 'axes'],
      ['sim6/lineage', 'lineage'],
      ['sim6/compare?kind=rounds&a=3&b=4', 'compare'],
      ['synth/budget', 'budget'],
      ['sim6/events', 'events'],
    ];
    for (const width of [1280, 1920]) {
      const page = await openPage(width);
      for (const [route, view] of routes) {
        await show(page, `${api.url}/`, route, view);
        const { scrollWidth, innerWidth } = await noOverflow(page);
        expect({ route, width, scrollWidth: scrollWidth <= innerWidth }).toEqual({ route, width, scrollWidth: true });
        if (width === 1280) {
          const png = await page.screenshot({ path: path.join(ARTIFACTS, `${view}-${width}.png`), fullPage: true });
          expect(png.readUInt32BE(16)).toBe(width);
        }
      }
      await page.close();
    }
    expect(errors).toEqual([]);
  });

  it('opens the campaign report from disk with the network disabled and shows the same numbers', async () => {
    const report = campaignReport(stored, 'sim6', chartJsUmdSource());
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'aevo-report-')), 'report.html');
    fs.writeFileSync(file, report.html);
    const context = await browser.newContext({ offline: true, viewport: { width: 1280, height: 1000 } });
    const requests: string[] = [];
    await context.route('**/*', (route) => {
      if (!route.request().url().startsWith('file:')) requests.push(route.request().url());
      return route.request().url().startsWith('file:') ? route.continue() : route.abort();
    });
    const page = await context.newPage();
    page.on('pageerror', (e) => errors.push(String(e)));
    const base = `file://${file}`;
    await show(page, base, 'sim6/scatter', 'scatter');
    const scored = Object.values(candidates).filter(
      (c) => c.campaignId === 'sim6' && c.dev !== null && c.publicLb !== null,
    );
    expect(Number(await page.getByTestId('scatter-chart').getAttribute('data-points'))).toBe(scored.length);
    expect(Number(await page.getByTestId('scatter-chart').getAttribute('data-marked'))).toBe(3);
    await show(page, base, 'sim6/overview', 'overview');
    const rounds = Object.values(trajectory)
      .filter((t) => t.campaignId === 'sim6')
      .sort((a, b) => (a.round as number) - (b.round as number));
    expect(await cells(page, '[data-testid=round-row]', 'bestPublicLb')).toEqual(rounds.map((t) => f3(t.bestPublicLb)));
    await show(page, base, 'sim6/candidate/sim6-r4-c1', 'candidate');
    expect(await page.getByTestId('cand-dev').textContent()).toBe(f3(candidates['sim6-r4-c1'].dev));
    await page.screenshot({ path: path.join(ARTIFACTS, 'report-candidate-1280.png'), fullPage: true });
    const { scrollWidth, innerWidth } = await noOverflow(page);
    expect(scrollWidth).toBeLessThanOrEqual(innerWidth);
    expect(requests).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  });
});
