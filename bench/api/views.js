#!/usr/bin/env node
/*
 * Dashboard views at campaign scale: a 64-worker × 20-round simulated campaign's log (syntheticCampaignLog: every
 * event built through its contract schema — traces, jobs, checkpoints, submissions, policy revisions, a decoupling
 * suspected, probed and confirmed), then
 *   1. in process: the fold (@aevo/projections views) and each view builder, and the self-contained report;
 *   2. over HTTP: the API (services/api, a real PostgreSQL) serving each view's JSON, the page, Chart.js and an
 *      event-log page, after catching up on the log;
 *   3. in Debian's Chromium (when installed): each dashboard view from navigation until the script marks it rendered.
 * Times are printed (median of --repeat runs), never asserted. The goal — "pages load in under a second" —
 * is what column 3 shows.
 *
 * Build first:  npx nx run api:build   (builds projections and its other dependencies too)
 * Run:          node bench/api/views.js [--workers 64] [--rounds 20] [--repeat 5] [--no-browser]
 * Uses its own PostgreSQL schema (bench_views_<random>) and drops it at the end.
 */
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const { randomBytes } = require('node:crypto');
const { Client } = require('pg');

const ROOT = path.resolve(__dirname, '../..');
const views = require(path.join(ROOT, 'libs/projections/dist'));
const { startApi } = require(path.join(ROOT, 'services/api/dist/main'));

const args = process.argv.slice(2);
const arg = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const WORKERS = arg('workers', 64);
const ROUNDS = arg('rounds', 20);
const REPEAT = arg('repeat', 5);
const BROWSER = !args.includes('--no-browser');
const CHROMIUM = process.env.AEVO_CHROMIUM || '/usr/bin/chromium';
const PG_URL = process.env.AEVO_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const CAMPAIGN = 'bench-views';

const now = () => Number(process.hrtime.bigint()) / 1e6;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x) => `${x.toFixed(1).padStart(9)} ms`;
function time(f, repeat = REPEAT) {
  const samples = [];
  let out;
  for (let i = 0; i < repeat; i++) {
    const t = now();
    out = f();
    samples.push(now() - t);
  }
  return { ms: median(samples), out };
}
async function timeAsync(f, repeat = REPEAT) {
  const samples = [];
  let out;
  for (let i = 0; i < repeat; i++) {
    const t = now();
    out = await f();
    samples.push(now() - t);
  }
  return { ms: median(samples), out };
}

async function main() {
  console.log(`views bench: ${WORKERS} workers × ${ROUNDS} rounds, median of ${REPEAT}`);
  let t = now();
  const log = views.syntheticCampaignLog({ campaignId: CAMPAIGN, rounds: ROUNDS, workersPerRound: WORKERS, seed: 1 });
  const bytes = log.reduce((a, e) => a + JSON.stringify(e).length, 0);
  console.log(
    `synthesised ${log.length} events (${(bytes / 1e6).toFixed(1)} MB of JSON) in ${(now() - t).toFixed(0)} ms`,
  );

  console.log('\n1. in process (fold once, then each builder)');
  const fold = time(() => views.foldViews(log));
  const state = fold.out;
  console.log(`  fold the log                 ${ms(fold.ms)}`);
  for (const name of views.VIEW_NAMES) {
    const r = time(() => JSON.stringify(views.campaignView(state, CAMPAIGN, name)));
    console.log(`  ${name.padEnd(28)} ${ms(r.ms)}  ${(r.out.length / 1e3).toFixed(0).padStart(6)} kB`);
  }
  const someCandidate = `${CAMPAIGN}-r${Math.ceil(ROUNDS / 2)}-c1`;
  const page = time(() => JSON.stringify(views.candidatePageView(state, CAMPAIGN, someCandidate)));
  console.log(`  ${'candidate page'.padEnd(28)} ${ms(page.ms)}  ${(page.out.length / 1e3).toFixed(0).padStart(6)} kB`);
  const cmp = time(() => JSON.stringify(views.compareView(state, CAMPAIGN, 'rounds', '1', String(ROUNDS))));
  console.log(`  ${'compare (two rounds)'.padEnd(28)} ${ms(cmp.ms)}`);
  const chartJs = views.chartJsUmdSource();
  const report = time(() => views.campaignReport(log, CAMPAIGN, chartJs), Math.min(REPEAT, 3));
  console.log(
    `  ${'report (fold + all views + every candidate page + HTML + sha256)'} ${ms(report.ms)}  ` +
      `${(report.out.html.length / 1e6).toFixed(1)} MB`,
  );

  console.log('\n2. over HTTP (API on PostgreSQL)');
  const schema = `bench_views_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  const es = require(path.join(ROOT, 'libs/eventstore/dist'));
  const writer = await es.PostgresEventStore.open({ connectionString: PG_URL, schema });
  let api = null;
  let browser = null;
  try {
    t = now();
    // Consecutive events of one stream are appended together (as a service appends its decisions).
    for (let i = 0; i < log.length;) {
      let j = i + 1;
      while (j < log.length && log[j].streamId === log[i].streamId && j - i < 200) j++;
      await writer.append(log[i].streamId, 'any', log.slice(i, j));
      i = j;
    }
    console.log(`  appended the log             ${ms(now() - t)}`);
    t = now();
    api = await startApi({ port: 0, databaseUrl: PG_URL, dbSchema: schema, quiet: true });
    for (;;) {
      const h = await (await fetch(`${api.url}/healthz`)).json();
      if (h.caughtUp) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    console.log(`  API started and caught up    ${ms(now() - t)}`);
    const routes = [
      ['page (/)', '/'],
      ['chart.umd.js', '/assets/chart.umd.js'],
      ...views.VIEW_NAMES.map((n) => [n, `/api/campaigns/${CAMPAIGN}/views/${n}`]),
      ['candidate page', `/api/campaigns/${CAMPAIGN}/candidates/${someCandidate}/page`],
      ['compare', `/api/campaigns/${CAMPAIGN}/compare?kind=rounds&a=1&b=${ROUNDS}`],
      ['event log, newest 50', `/api/campaigns/${CAMPAIGN}/events?limit=50`],
      ['event log, filtered, deep', `/api/campaigns/${CAMPAIGN}/events?limit=50&offset=2000&type=TraceStepRecorded`],
    ];
    for (const [label, route] of routes) {
      const r = await timeAsync(async () => {
        const res = await fetch(api.url + route);
        const body = await res.text();
        if (!res.ok) throw new Error(`${route}: HTTP ${res.status}`);
        return body.length;
      });
      console.log(`  ${label.padEnd(28)} ${ms(r.ms)}  ${(r.out / 1e3).toFixed(0).padStart(6)} kB`);
    }

    if (BROWSER && fs.existsSync(CHROMIUM)) {
      console.log('\n3. in Chromium (navigation → view rendered, charts drawn)');
      const { chromium } = require(path.join(ROOT, 'node_modules/playwright-core'));
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
      });
      const pageB = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
      const load = async (route, view) => {
        await pageB.goto('about:blank');
        const t0 = now();
        await pageB.goto(`${api.url}/#/${route}`);
        await pageB.locator(`#view[data-view="${view}"][data-ready="true"]`).waitFor({ timeout: 60_000 });
        const total = now() - t0;
        // How much of it was the document itself (HTML, Chart.js parsed, script run) before any view data arrived.
        const dcl = await pageB.evaluate(() => performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd);
        return { total, dcl };
      };
      const pages = [
        ['overview', 'overview'],
        ['scatter', 'scatter'],
        ['candidates', 'candidates'],
        ['evidence', 'evidence'],
        [`candidate/${someCandidate}`, 'candidate'],
        ['axes', 'axes'],
        ['lineage', 'lineage'],
        [`compare?kind=rounds&a=1&b=${ROUNDS}`, 'compare'],
        ['budget', 'budget'],
        ['events', 'events'],
      ];
      for (const [route, view] of pages) {
        const samples = [];
        for (let i = 0; i < Math.min(REPEAT, 3); i++) samples.push(await load(`${CAMPAIGN}/${route}`, view));
        console.log(
          `  ${view.padEnd(28)} ${ms(median(samples.map((x) => x.total)))}  (document ready after ` +
            `${median(samples.map((x) => x.dcl)).toFixed(0)} ms)`,
        );
      }
    } else if (BROWSER) console.log(`\n3. skipped: ${CHROMIUM} not found (AEVO_CHROMIUM names another)`);
  } finally {
    await browser?.close();
    await api?.close();
    await writer.close();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
