import { CampaignAborted, CampaignCompleted, CampaignStarted } from '@aevo/contracts';
import type { EventStore } from '@aevo/eventstore';
import { applyFact, emptyFacts, FACT_EVENT_TYPES, type CampaignFacts } from '../domain/facts';

const PAGE = 2000;

/**
 * Folds other services' events into CampaignFacts, incrementally: each campaign keeps the last position read and
 * reads only newer events (positions become visible in position order, so nothing is skipped). A fresh process
 * starts from position 0, so the cache is never the record — the log is.
 */
export class CampaignFactsCache {
  private readonly entries = new Map<string, { facts: CampaignFacts; position: number }>();
  private readonly pending = new Map<string, Promise<unknown>>();

  constructor(private readonly store: EventStore) {}

  /** The campaign's facts, caught up with the log as it is now. Calls for one campaign run one at a time. */
  load(campaignId: string): Promise<CampaignFacts> {
    return this.serial(campaignId, async () => {
      let entry = this.entries.get(campaignId);
      if (!entry) this.entries.set(campaignId, (entry = { facts: emptyFacts(), position: 0 }));
      for (;;) {
        const page = await this.store.readAll({
          campaignId,
          types: [...FACT_EVENT_TYPES],
          fromPosition: entry.position,
          limit: PAGE,
        });
        for (const e of page) applyFact(entry.facts, e);
        if (page.length > 0) entry.position = page[page.length - 1].position;
        if (page.length < PAGE) break;
      }
      return entry.facts;
    });
  }

  forget(campaignId: string): void {
    this.entries.delete(campaignId);
  }

  private serial<T>(key: string, f: () => Promise<T>): Promise<T> {
    const prev = this.pending.get(key) ?? Promise.resolve();
    const next = prev.then(f, f);
    const settled = next.catch(() => undefined);
    this.pending.set(key, settled);
    void settled.then(() => {
      if (this.pending.get(key) === settled) this.pending.delete(key);
    });
    return next;
  }
}

/** Campaigns started and not yet completed or aborted, followed incrementally through the log. */
export class LiveCampaigns {
  private position = 0;
  private readonly live = new Set<string>();

  constructor(private readonly store: EventStore) {}

  async list(): Promise<string[]> {
    for (;;) {
      const page = await this.store.readAll({
        types: [CampaignStarted.type, CampaignCompleted.type, CampaignAborted.type],
        fromPosition: this.position,
        limit: PAGE,
      });
      for (const e of page) {
        if (e.type === CampaignStarted.type) this.live.add(e.campaignId);
        else this.live.delete(e.campaignId);
      }
      if (page.length > 0) this.position = page[page.length - 1].position;
      if (page.length < PAGE) break;
    }
    return [...this.live].sort();
  }
}
