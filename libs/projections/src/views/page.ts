import { canonicalJson } from '@aevo/contracts';
import { DASHBOARD_SCRIPT } from './page-script';
import { DASHBOARD_STYLE } from './page-style';

export { DASHBOARD_SCRIPT, DASHBOARD_STYLE };

const shell = (head: string, body: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>aevo — campaigns</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<style>${DASHBOARD_STYLE}</style>${head}</head>
<body>
<header><h1>aevo</h1><small>autonomous post-training control plane</small>\
<select id="campaign" data-testid="campaign-select" aria-label="campaign"></select>\
<span id="live" class="muted" data-testid="live">connecting…</span></header>
<nav id="nav"></nav>
<main id="view" data-testid="view"></main>
${body}</body></html>`;

/** The live dashboard: Chart.js from the API (/assets/chart.umd.js), one inline script (its hash goes into the CSP). */
export const dashboardHtml = (): string =>
  shell('', `<script src="/assets/chart.umd.js"></script>\n<script>${DASHBOARD_SCRIPT}</script>\n`);

/**
 * Canonical JSON (sorted keys: the store's JSONB does not keep key order, and the report's bytes must not depend on
 * where the events were read from), safe inside a <script> element: no "</script>", "<!--" or U+2028/2029 can end or
 * confuse it.
 */
export const scriptSafeJson = (value: unknown): string =>
  canonicalJson(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');

/** A self-contained page: the views' data, Chart.js and the dashboard script inline. */
export function selfContainedHtml(data: unknown, chartJs: string): string {
  if (/<\/script/i.test(chartJs)) throw new Error('chart library source contains "</script": it cannot be inlined');
  return shell(
    '',
    `<script id="aevo-report-data" type="application/json">${scriptSafeJson(data)}</script>\n` +
      `<script>${chartJs}</script>\n<script>${DASHBOARD_SCRIPT}</script>\n`,
  );
}
