import type { CampaignState } from '../domain/campaign-state';

export interface FoldedState {
  state: CampaignState;
  version: number;
}

/**
 * Per campaign: its stream's state as the last decision in this process left it, and that version, so the next
 * decision reads only later events (`handle`'s `from`). Any recorded pair is valid (a state folded exactly up to its
 * version); the log stays the record, so forgetting one only costs a fold from the start. Bounded: a finished
 * campaign (completed or aborted) is forgotten, and beyond `capacity` campaigns the least recently decided one is.
 */
export class FoldedStates {
  private readonly entries = new Map<string, FoldedState>();

  constructor(private readonly capacity = 256) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new Error(`capacity must be an integer ≥ 1, got ${capacity}`);
  }

  get(campaignId: string): FoldedState | undefined {
    return this.entries.get(campaignId);
  }

  /** Keeps `next` unless a later version is already known (another decision in this process went further). */
  record(campaignId: string, next: FoldedState): void {
    const known = this.entries.get(campaignId);
    if (known && known.version >= next.version) return;
    this.entries.delete(campaignId); // re-inserted last: Map order is recency order
    if (next.state.status === 'completed' || next.state.status === 'aborted') return;
    this.entries.set(campaignId, next);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string);
  }

  get size(): number {
    return this.entries.size;
  }
}
