import type { EventStore, StoredEvent } from '@aevo/eventstore';

/**
 * One campaign's events in log order, up to position `upTo` (a defined cut of a live log), read in pages. Shared by
 * `aevo report` and the collector, which render the report from it.
 */
export async function readCampaignLog(store: EventStore, campaignId: string, upTo: number): Promise<StoredEvent[]> {
  const events: StoredEvent[] = [];
  for (let from = 0; from < upTo;) {
    const page = await store.readAll({ fromPosition: from, limit: 5000, campaignId });
    if (page.length === 0) break;
    for (const e of page) if (e.position <= upTo) events.push(e);
    from = page[page.length - 1].position;
  }
  return events;
}
