import { Inject, Injectable, OnModuleDestroy, OnModuleInit, Logger } from '@nestjs/common';
import { Subject } from 'rxjs';
import type { EventStore, StoredEvent, Subscription } from '@aevo/eventstore';
import { SecretScrubber } from '@aevo/executors';
import { applyViewEvent, emptyViewsState, type ViewsState } from '@aevo/projections';
import { applyToDashboard, emptyDashboard, DashboardModel } from './dashboard-model';
import { servedEvent } from './served-events';

export const EVENT_STORE = Symbol('EVENT_STORE');

/** Position and type of each event of a campaign, in log order: the event log pages and filters on it. */
export interface EventIndexEntry {
  position: number;
  type: string;
}

/**
 * Keeps the dashboard read models current by following the store from position 0; fans events out to SSE. Both see
 * events scrubbed of secrets (`served`), as does every other route that returns event data.
 */
@Injectable()
export class DashboardService implements OnModuleInit, OnModuleDestroy {
  private readonly log = new Logger('DashboardService');
  readonly model: DashboardModel = emptyDashboard();
  /** The fold behind the views (overview, scatter, candidate pages, axis effects, lineage, compare, budget). */
  readonly views: ViewsState = emptyViewsState();
  readonly eventIndex = new Map<string, EventIndexEntry[]>();
  readonly events$ = new Subject<StoredEvent>();
  private readonly scrubber = SecretScrubber.fromEnv();
  private sub: Subscription | null = null;
  private caughtUp = false;

  constructor(@Inject(EVENT_STORE) readonly store: EventStore) {}

  async onModuleInit() {
    const head = await this.store.headPosition();
    this.sub = this.store.subscribe(0, async (stored) => {
      const e = this.served(stored);
      applyToDashboard(this.model, e);
      applyViewEvent(this.views, e);
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
