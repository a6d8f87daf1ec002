import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { PostgresEventStore } from '@aevo/eventstore';
import { sampleCampaignLog } from '@aevo/projections';
import { createTestDb, eventually, type TestDb } from '@aevo/testkit';
import { startApi } from '../main';

jest.setTimeout(120_000);
const CHROMIUM = process.env.AEVO_CHROMIUM ?? '/usr/bin/chromium';
const OUT = path.resolve(__dirname, '../../../../test-output');

/** The dashboard in headless Chromium (Debian's), as a person would see it. */
describe('dashboard in headless Chromium', () => {
  let db: TestDb;
  let api: Awaited<ReturnType<typeof startApi>>;
  let browser: Browser;

  beforeAll(async () => {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run tools/setup-system.sh (installs Debian chromium)`);
    db = await createTestDb();
    const writer = await PostgresEventStore.open({ connectionString: db.url, schema: db.schema });
    for (const e of sampleCampaignLog({ campaignId: 'browser-demo', seed: 3, rounds: 3, candidatesPerRound: 4 })) await writer.append(e.streamId, 'any', [e]);
    await writer.close();
    api = await startApi({ port: 0, databaseUrl: db.url, dbSchema: db.schema, quiet: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await api?.close();
    await db?.drop();
  });

  it('shows the campaign, its trajectory, candidates with a heatmap, jobs and the event log', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    // The API's Content-Security-Policy must admit everything the dashboard does.
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) errors.push(m.text());
    });
    await page.goto(api.url + '/');
    await page.getByTestId('campaigns').getByText('browser-demo').waitFor();
    await page.getByTestId('candidate-row').first().waitFor();
    expect(await page.getByTestId('candidate-row').count()).toBe(4);
    // three rounds → three points on each visible line of the trajectory chart
    expect(await page.locator('[data-testid=trajectory] polyline').count()).toBeGreaterThanOrEqual(2);
    expect(await page.locator('[data-testid=trajectory] circle').count()).toBeGreaterThanOrEqual(6);
    expect(await page.locator('td.heat').count()).toBeGreaterThan(4);
    expect(await page.getByTestId('events').locator('tr').count()).toBeGreaterThan(10);
    await page.getByTestId('live').getByText('live').waitFor();
    fs.mkdirSync(OUT, { recursive: true });
    const file = path.join(OUT, 'dashboard.png');
    const png = await page.screenshot({ path: file, fullPage: true });
    // A real rendering: PNG signature, the full page height, and many distinct colours (not a blank page).
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(png.readUInt32BE(16)).toBe(1400);
    expect(png.readUInt32BE(20)).toBeGreaterThan(900);
    expect(png.length).toBeGreaterThan(40_000);
    expect(errors).toEqual([]);
  });

  it('filters the event log by type', async () => {
    const page = await browser.newPage();
    await page.goto(api.url + '/');
    await page.getByTestId('candidate-row').first().waitFor();
    await page.fill('#typeFilter', 'RoundStarted');
    await page.dispatchEvent('#typeFilter', 'change');
    // Polled from here: the page's CSP forbids eval, which a string waitForFunction predicate needs.
    await eventually(async () => (await page.locator('[data-testid=events] tr').count()) === 4);
    const types = await page.locator('[data-testid=events] tr td:nth-child(2)').allTextContents();
    expect(types).toEqual(['RoundStarted', 'RoundStarted', 'RoundStarted']);
  });
});
