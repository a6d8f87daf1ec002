import { Inject, Injectable, OnModuleDestroy, OnModuleInit, Logger } from '@nestjs/common';
import { Subject } from 'rxjs';
import type { EventStore, StoredEvent, Subscription } from '@aevo/eventstore';
import { SecretScrubber } from '@aevo/executors';
import { applyToDashboard, emptyDashboard, DashboardModel } from './dashboard-model';
import { servedEvent } from './served-events';

export const EVENT_STORE = Symbol('EVENT_STORE');

/**
 * Keeps the dashboard read model current by following the store from position 0; fans events out to SSE. Both see
 * events scrubbed of secrets (`served`), as does every other route that returns event data.
 */
@Injectable()
export class DashboardService implements OnModuleInit, OnModuleDestroy {
  private readonly log = new Logger('DashboardService');
  readonly model: DashboardModel = emptyDashboard();
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

  get ready() {
    return this.caughtUp;
  }

  async onModuleDestroy() {
    await this.sub?.close();
    this.events$.complete();
  }
}
