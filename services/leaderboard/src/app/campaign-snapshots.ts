import type { EventStore } from '@aevo/eventstore';
import type { Snapshotted } from './leaderboard-board';

/** Each campaign's SubstrateSnapshotted, read once per process once stored (a campaign is snapshotted once). */
export class CampaignSnapshots {
  private readonly cache = new Map<string, Snapshotted>();
  constructor(private readonly store: EventStore) {}

  /** The campaign's SubstrateSnapshotted, or null while the substrate service has not announced one. */
  async of(campaignId: string): Promise<Snapshotted | null> {
    const cached = this.cache.get(campaignId);
    if (cached) return cached;
    const e = (await this.store.readAll({ campaignId, types: ['SubstrateSnapshotted'], limit: 1 }))[0];
    if (!e) return null;
    const data = e.data as Snapshotted;
    this.cache.set(campaignId, data);
    return data;
  }
}
