import {
  BadRequestException,
  Controller,
  Get,
  NotFoundException,
  Param,
  Query,
  Sse,
  MessageEvent,
  Header,
} from '@nestjs/common';
import {
  campaignDetailView,
  campaignListView,
  campaignOf,
  campaignSummaries,
  campaignView,
  candidatePageView,
  candidateRowsView,
  chartJsUmdSource,
  compareView,
  jobRowsView,
  policiesView,
  roundEvidenceOf,
  UnknownViewTarget,
  VIEW_NAMES,
  type ViewName,
} from '@aevo/projections';
import { Observable, filter, map } from 'rxjs';
import { z } from 'zod';
import { zodIssues } from '@aevo/contracts';
import { DashboardService } from './read-model/dashboard.service';
import { DASHBOARD_HTML } from './http/dashboard-page';

let chartJs: string | null = null;

const EventQuery = z
  .object({
    campaign: z.string().min(1).optional(),
    type: z
      .string()
      .regex(/^[A-Za-z,]+$/, 'expected comma-separated event type names')
      .optional(),
    after: z.coerce.number().int().min(0).default(0),
    limit: z.coerce.number().int().min(1).max(1000).default(200),
  })
  .strict();

const RoundParam = z.coerce.number().int().min(1);

const EventPageQuery = z
  .object({
    offset: z.coerce.number().int().min(0).default(0),
    limit: z.coerce.number().int().min(1).max(500).default(50),
    type: z
      .string()
      .regex(/^[A-Za-z]+(,[A-Za-z]+)*$/, 'expected comma-separated event type names')
      .optional(),
  })
  .strict();

const ViewParam = z.enum(VIEW_NAMES);

const CompareQuery = z
  .object({
    kind: z.enum(['candidates', 'rounds']).default('candidates'),
    a: z.string().min(1, 'expected a candidate id or round number'),
    b: z.string().min(1, 'expected a candidate id or round number'),
  })
  .strict();

/**
 * A view builder's "not found" (unknown campaign, candidate or round) as a 404 naming the field; the resource routes
 * answer an unknown campaign with UNKNOWN_CAMPAIGN.
 */
function viewOf<T>(build: () => T, unknownCampaign = false): T {
  try {
    return build();
  } catch (err) {
    if (err instanceof UnknownViewTarget && unknownCampaign && err.field === 'campaignId')
      throw new NotFoundException({
        code: 'UNKNOWN_CAMPAIGN',
        message: err.message,
        issues: [{ path: 'campaignId', message: 'not found' }],
      });
    if (err instanceof UnknownViewTarget)
      throw new NotFoundException({
        code: 'NOT_FOUND',
        message: err.message,
        issues: [{ path: err.field, message: 'not found' }],
      });
    throw err;
  }
}

function parse<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const r = schema.safeParse(value);
  if (!r.success)
    throw new BadRequestException({
      code: 'INVALID_REQUEST',
      message: `invalid ${where}`,
      issues: zodIssues(r.error, where),
    });
  return r.data;
}

@Controller()
export class ApiController {
  constructor(private readonly dashboard: DashboardService) {}

  @Get()
  @Header('content-type', 'text/html; charset=utf-8')
  page() {
    return DASHBOARD_HTML;
  }

  /**
   * Chart.js's UMD build, served from here: the machine has no internet and the CSP admits scripts from 'self' only.
   */
  @Get('assets/chart.umd.js')
  @Header('content-type', 'application/javascript; charset=utf-8')
  @Header('cache-control', 'public, max-age=3600')
  chartLibrary() {
    chartJs ??= chartJsUmdSource();
    return chartJs;
  }

  /** The campaigns as the views see them (for the dashboard's selector). */
  @Get('api/views/campaigns')
  viewCampaigns() {
    return campaignListView(this.dashboard.views);
  }

  /** One campaign-wide view: overview, scatter, candidates, axes, lineage or budget. */
  @Get('api/campaigns/:id/views/:name')
  view(@Param('id') id: string, @Param('name') name: string) {
    const v = parse(ViewParam, name, 'view') as ViewName;
    return viewOf(() => campaignView(this.dashboard.views, id, v));
  }

  /** Everything recorded about one candidate. */
  @Get('api/campaigns/:id/candidates/:candidateId/page')
  candidatePage(@Param('id') id: string, @Param('candidateId') candidateId: string) {
    return viewOf(() => candidatePageView(this.dashboard.views, id, candidateId));
  }

  /** Two candidates (ids) or two rounds (numbers) side by side. */
  @Get('api/campaigns/:id/compare')
  compare(@Param('id') id: string, @Query() query: Record<string, string>) {
    const q = parse(CompareQuery, query, 'query');
    return viewOf(() => compareView(this.dashboard.views, id, q.kind, q.a, q.b));
  }

  /** A campaign's event log, newest first, paginated (offset, limit) and filtered by type on the server. */
  @Get('api/campaigns/:id/events')
  async campaignEvents(@Param('id') id: string, @Query() query: Record<string, string>) {
    viewOf(() => campaignOf(this.dashboard.views, id), true);
    const q = parse(EventPageQuery, query, 'query');
    const page = await this.dashboard.eventPage(id, q.offset, q.limit, q.type ? q.type.split(',') : null);
    return {
      total: page.total,
      offset: q.offset,
      limit: q.limit,
      events: page.events.map((e) => ({
        position: e.position,
        type: e.type,
        streamId: e.streamId,
        source: e.source,
        time: e.time,
        data: e.data,
      })),
    };
  }

  @Get('healthz')
  health() {
    return { ok: true, caughtUp: this.dashboard.ready, lastPosition: this.dashboard.lastPosition };
  }

  /** Every campaign, in the order they started. */
  @Get('api/campaigns')
  campaigns() {
    const marks = this.dashboard.marks;
    return campaignSummaries(this.dashboard.views)
      .map((c) => ({ ...c, startedAt: marks.get(c.campaignId)?.startedAt ?? '' }))
      .sort((a, b) => a.startedAt.localeCompare(b.startedAt) || a.campaignId.localeCompare(b.campaignId));
  }

  @Get('api/campaigns/:id')
  campaignDetail(@Param('id') id: string) {
    return viewOf(() => campaignDetailView(this.dashboard.views, id), true);
  }

  @Get('api/campaigns/:id/candidates')
  candidates(@Param('id') id: string, @Query('round') round?: string) {
    const r = round === undefined ? undefined : parse(RoundParam, round, 'round');
    return viewOf(() => candidateRowsView(this.dashboard.views, id, r), true);
  }

  @Get('api/campaigns/:id/rounds/:round/evidence')
  evidence(@Param('id') id: string, @Param('round') round: string) {
    const r = parse(RoundParam, round, 'round');
    const evidence = viewOf(() => roundEvidenceOf(this.dashboard.views, id, r), true);
    if (!evidence)
      throw new NotFoundException({
        code: 'NO_EVIDENCE',
        message: `round ${round} has no evidence record yet`,
        issues: [],
      });
    return evidence;
  }

  @Get('api/campaigns/:id/policies')
  policies(@Param('id') id: string) {
    return viewOf(() => policiesView(this.dashboard.views, id), true);
  }

  @Get('api/campaigns/:id/jobs')
  jobs(@Param('id') id: string) {
    return viewOf(() => jobRowsView(this.dashboard.views, id), true);
  }

  @Get('api/events')
  async events(@Query() query: Record<string, string>) {
    const q = parse(EventQuery, query, 'query');
    const events = await this.dashboard.store.readAll({
      fromPosition: q.after,
      limit: q.limit,
      campaignId: q.campaign,
      types: q.type ? q.type.split(',') : undefined,
    });
    return events.map((e) => this.dashboard.served(e));
  }

  /** Live events (server-sent events), optionally for one campaign. */
  @Sse('api/stream')
  stream(@Query('campaign') campaign?: string): Observable<MessageEvent> {
    return this.dashboard.events$.pipe(
      filter((e) => !campaign || e.campaignId === campaign),
      map((e) => ({
        id: String(e.position),
        type: 'event',
        data: { position: e.position, type: e.type, campaignId: e.campaignId, streamId: e.streamId, data: e.data },
      })),
    );
  }
}
