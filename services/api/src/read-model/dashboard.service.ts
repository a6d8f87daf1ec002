import { Inject, Injectable, OnModuleDestroy, OnModuleInit, Logger } from '@nestjs/common';
import { Subject } from 'rxjs';
import type { EventStore, StoredEvent, Subscription } from '@aevo/eventstore';
import { SecretScrubber } from '@aevo/executors';
import { applyViewEvent, emptyViewsState, type ViewsState } from '@aevo/projections';
import type { ApiConfig } from '../config';
import { servedEvent } from './served-events';

export const EVENT_STORE = Symbol('EVENT_STORE');
export const API_CONFIG = Symbol('API_CONFIG');

/** What the fold leaves out (it reads no times or positions): when each campaign started, for the list's order. */
export interface CampaignLogMarks {
  startedAt: string;
  lastPosition: number;
}

/** Position and type of each event of a campaign, in log order: the event log pages and filters on it. */
export interface EventIndexEntry {
  position: number;
  type: string;
}

/**
 * Keeps the read model (libs/projections' views fold, behind every route) current by following the store from
 * position 0; fans events out to SSE. Both see events scrubbed of secrets (`served`), as does every other route that
 * returns event data.
 */
@Injectable()
export class DashboardService implements OnModuleInit, OnModuleDestroy {
  private readonly log = new Logger('DashboardService');
  /** The fold behind every route: the views, the campaigns' resources, the list. */
  readonly views: ViewsState = emptyViewsState();
  readonly marks = new Map<string, CampaignLogMarks>();
  /** The last position folded. */
  lastPosition = 0;
  readonly eventIndex = new Map<string, EventIndexEntry[]>();
  readonly events$ = new Subject<StoredEvent>();
  private readonly scrubber: SecretScrubber;
  private sub: Subscription | null = null;
  private caughtUp = false;

  constructor(
    @Inject(EVENT_STORE) readonly store: EventStore,
    @Inject(API_CONFIG) config: Pick<ApiConfig, 'secretsEnv'>,
  ) {
    this.scrubber = SecretScrubber.fromEnv({ env: config.secretsEnv });
  }

  async onModuleInit() {
    const head = await this.store.headPosition();
    this.sub = this.store.subscribe(0, async (stored) => {
      const e = this.served(stored);
      applyViewEvent(this.views, e);
      this.lastPosition = Math.max(this.lastPosition, e.position);
      const marks = this.marks.get(e.campaignId);
      if (marks) marks.lastPosition = e.position;
      else if (e.type === 'CampaignStarted')
        this.marks.set(e.campaignId, { startedAt: e.time, lastPosition: e.position });
      let index = this.eventIndex.get(e.campaignId);
      if (!index) this.eventIndex.set(e.campaignId, (index = []));
      index.push({ position: e.position, type: e.type });
      if (e.position >= head) this.caughtUp = true;
      this.events$.next(e);
    });
    if (head === 0) this.caughtUp = true;
    this.log.log(`following the event store from position 0 (head ${head})`);
  }

  /** `e` as the API may show it: secrets (configured values, token shapes) in its data redacted. */
  served<E extends { data: unknown }>(e: E): E {
    return servedEvent(e, this.scrubber);
  }

  /**
   * One page of a campaign's event log, newest first: `offset` events skipped, at most `limit`, only `types` when
   * given. The index picks the positions; one store query reads exactly those events.
   */
  async eventPage(
    campaignId: string,
    offset: number,
    limit: number,
    types: readonly string[] | null,
  ): Promise<{ total: number; events: StoredEvent[] }> {
    const index = this.eventIndex.get(campaignId) ?? [];
    const wanted = types ? new Set(types) : null;
    const matching = wanted ? index.filter((x) => wanted.has(x.type)) : index;
    const total = matching.length;
    // Newest first: offset 0 is the last matching event.
    const end = total - offset;
    const start = Math.max(0, end - limit);
    if (end <= 0) return { total, events: [] };
    const page = matching.slice(start, end);
    const events = await this.store.readAll({
      fromPosition: page[0].position - 1,
      limit: page.length,
      campaignId,
      types: types ? [...types] : undefined,
    });
    return {
      total,
      events: events
        .filter((e) => e.position <= page[page.length - 1].position)
        .map((e) => this.served(e))
        .reverse(),
    };
  }

  get ready() {
    return this.caughtUp;
  }

  async onModuleDestroy() {
    await this.sub?.close();
    this.events$.complete();
  }
}
