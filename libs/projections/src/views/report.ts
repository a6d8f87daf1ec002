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
  return { html, sha256: createHash('sha256').update(html, 'utf8').digest('hex'), events: c.eventCount };
}
