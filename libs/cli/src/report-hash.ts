import type { CampaignReportRecorded, DataOf } from '@aevo/contracts';
import type { StoredEvent } from '@aevo/eventstore';
import { campaignReport, chartJsUmdSource, reportRendererVersion } from '@aevo/projections';
import type { HashCheck } from './recorded-hashes';

/**
 * Each CampaignReportRecorded of campaign `c` re-rendered from the log alone — the campaign's events (`mine`, in log
 * order) up to and including the CampaignCompleted it names — and its sha256 compared. A record made by another
 * renderer (report format or chart library version) cannot be reproduced here: reported as skipped, as a changed
 * constitution file is.
 */
export function checkRecordedReports(
  c: string,
  mine: StoredEvent[],
  checks: HashCheck[],
  skipped: string[],
  chartJs: string = chartJsUmdSource(),
): void {
  const renderer = reportRendererVersion(chartJs);
  for (const e of mine) {
    if (e.type !== 'CampaignReportRecorded') continue;
    const d = e.data as DataOf<typeof CampaignReportRecorded>;
    const what = `CampaignReportRecorded at position ${e.position} reportSha256`;
    if (d.rendererVersion !== renderer) {
      skipped.push(`${c}: ${what} was rendered by ${d.rendererVersion}, this is ${renderer}; not re-rendered`);
      continue;
    }
    const end = mine.findIndex((x) => x.id === d.throughEventId);
    if (end < 0 || mine[end].type !== 'CampaignCompleted') {
      const found = end < 0 ? 'not in the log' : `a ${mine[end].type}`;
      checks.push({ campaignId: c, what, ok: false, detail: `throughEventId ${d.throughEventId} is ${found}` });
      continue;
    }
    const report = campaignReport(mine.slice(0, end + 1), c, chartJs);
    checks.push({
      campaignId: c,
      what,
      ok: report.sha256 === d.reportSha256,
      detail:
        `${d.reportSha256} re-rendered ${report.sha256} ` +
        `(${report.events} event(s) through position ${mine[end].position})`,
    });
  }
}
