import { createHash } from 'node:crypto';
import {
  campaignListView,
  campaignOf,
  campaignView,
  candidateSummary,
  candidatePageView,
  roundSummary,
  VIEW_NAMES,
  type ViewName,
} from './builders';
import { foldViews, type ViewsState } from './campaign-fold';
import { selfContainedHtml } from './page';

type AnyEvent = { type: string; campaignId: string; data: unknown };

/**
 * Everything the report shows for one campaign: each view, every candidate's page, and the summaries compare reads.
 * Built from the fold alone, so it is a function of the log.
 */
export function reportData(state: ViewsState, campaignId: string) {
  const c = campaignOf(state, campaignId);
  const views: Record<string, unknown> = {};
  for (const name of VIEW_NAMES) views[name] = campaignView(state, campaignId, name as ViewName);
  const ids = [...c.candidates.keys()].sort();
  const rounds = [...c.rounds.keys()].sort((a, b) => a - b);
  return {
    ...views,
    pages: Object.fromEntries(ids.map((id) => [id, candidatePageView(state, campaignId, id)])),
    summaries: {
      candidates: Object.fromEntries(ids.map((id) => [id, candidateSummary(state, campaignId, id)])),
      rounds: Object.fromEntries(rounds.map((r) => [String(r), roundSummary(state, campaignId, r)])),
    },
    eventTypes: Object.fromEntries([...c.eventTypes].sort(([a], [b]) => a.localeCompare(b))),
  };
}

export interface CampaignReport {
  html: string;
  /** sha256 (hex) of the HTML's UTF-8 bytes. */
  sha256: string;
  events: number;
  /** Size of the HTML in bytes (UTF-8). */
  bytes: number;
}

/**
 * `aevo report`: one self-contained HTML file (the views' data, the chart library and the dashboard script inline; no
 * server, no network). Deterministic: the same log and chart library give the same bytes, so a replay reproduces it
 * and its hash.
 */
export function campaignReport(events: Iterable<AnyEvent>, campaignId: string, chartJs: string): CampaignReport {
  const state = foldViews([...events].filter((e) => e.campaignId === campaignId));
  const c = campaignOf(state, campaignId);
  const data = {
    caption: `report · ${c.eventCount} events`,
    campaigns: campaignListView(state),
    views: { [campaignId]: reportData(state, campaignId) },
  };
  const html = selfContainedHtml(data, chartJs);
  return {
    html,
    sha256: createHash('sha256').update(html, 'utf8').digest('hex'),
    events: c.eventCount,
    bytes: Buffer.byteLength(html, 'utf8'),
  };
}

/**
 * Names what makes the report's bytes besides the log: this format (bump REPORT_FORMAT when the page, the views or
 * their data change shape) and the chart library's version, read from the banner of the source that is inlined.
 */
const REPORT_FORMAT = 1;
export function reportRendererVersion(chartJs: string): string {
  const version = /Chart\.js v(\d+\.\d+\.\d+\S*)/.exec(chartJs.slice(0, 500))?.[1] ?? 'unknown';
  return `aevo-report/${REPORT_FORMAT} chart.js/${version}`;
}

type LoggedEvent = AnyEvent & { id: string; type: string };

/**
 * The cut a campaign's recorded report is built over: its events in log order up to and including its
 * CampaignCompleted (what happens after completion, the report's own record included, cannot change it). Null when
 * the campaign has not completed.
 */
export function completedReportCut<E extends LoggedEvent>(
  log: Iterable<E>,
  campaignId: string,
): { events: E[]; through: E } | null {
  const events: E[] = [];
  for (const e of log) {
    if (e.campaignId !== campaignId) continue;
    events.push(e);
    if (e.type === 'CampaignCompleted') return { events, through: e };
  }
  return null;
}

export interface CompletedCampaignReport extends CampaignReport {
  /** The campaign's CampaignCompleted, the last event the report covers. */
  through: { id: string; position: number };
  rendererVersion: string;
}

/**
 * The report of a completed campaign as the collector records it and `aevo report` / `aevo audit replay --verify`
 * recompute it: built from the completed cut of the log alone (no clock, no host paths), so the same log gives the
 * same bytes. Null when the campaign has not completed.
 */
export function completedCampaignReport<E extends LoggedEvent & { position: number }>(
  log: Iterable<E>,
  campaignId: string,
  chartJs: string,
): CompletedCampaignReport | null {
  const cut = completedReportCut(log, campaignId);
  if (!cut) return null;
  return {
    ...campaignReport(cut.events, campaignId, chartJs),
    through: { id: cut.through.id, position: cut.through.position },
    rendererVersion: reportRendererVersion(chartJs),
  };
}
