import { Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { OrchestratorWorkflow } from './orchestrator-workflow';
import type { CampaignReactions } from './campaign-reactions';
import type { LiveCampaigns } from './campaign-facts';

/**
 * Every `AEVO_ORCHESTRATOR_TICK_MS` each replica re-runs the step of every live campaign and resends a pending
 * final audit's unseal. Messages already do this; the tick covers what they cannot: a trigger dead-lettered during
 * a long database outage, or a leaderboard that was down when the audit started.
 */
export class CampaignTicker implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger('CampaignTicker');
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly campaigns: OrchestratorWorkflow,
    private readonly reactions: CampaignReactions,
    private readonly live: LiveCampaigns,
    private readonly tickMs: number,
  ) {}

  onApplicationBootstrap(): void {
    if (this.tickMs <= 0) return;
    this.timer = setInterval(() => {
      if (this.running || this.stopped) return;
      this.running = this.tick()
        .catch((err) => this.log.warn(`tick: ${(err as Error).message}`))
        .finally(() => (this.running = null));
    }, this.tickMs);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** One pass over the live campaigns (public for tests). */
  async tick(): Promise<void> {
    for (const campaignId of await this.live.list()) {
      if (this.stopped) return;
      try {
        await this.reactions.advance(campaignId, null, 'tick');
        const state = await this.campaigns.state(campaignId);
        if (
          state.audit &&
          state.status !== 'completed' &&
          state.status !== 'aborted' &&
          this.reactions.unsealDue(campaignId)
        )
          await this.reactions.unseal(campaignId, null);
      } catch (err) {
        this.log.warn(`${campaignId}: ${(err as Error).message}`);
      }
    }
  }
}
