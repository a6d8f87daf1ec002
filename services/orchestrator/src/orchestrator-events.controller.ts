import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import {
  BudgetExhausted,
  budgetExhaustedReason,
  CampaignAborted,
  CampaignResumed,
  CampaignStarted,
  FinalAuditStarted,
  FrozenPathViolated,
  ManifestSubmitted,
  PolicyRevised,
  PrivateLeaderboardUnsealed,
  SnapshotDamaged,
  SubstrateRejected,
  WorkerFailed,
  type EventEnvelope,
} from '@aevo/contracts';
import { OnEvent } from '@aevo/messaging';
import { CampaignReactions } from './app/campaign-reactions';

/**
 * The orchestrator's durable consumers (`orchestrator__<Type>`, shared by replicas). Every trigger runs the same
 * idempotent step (Advance) on the campaign stream, so a redelivery, a second replica or an out-of-order arrival
 * does no harm; the facts are re-read from the store, never taken from the message.
 */
@Controller()
export class OrchestratorEventsController {
  constructor(@Inject(CampaignReactions) private readonly reactions: CampaignReactions) {}

  private step(e: EventEnvelope, why: string) {
    return this.reactions.advance(e.campaignId, e.id, why);
  }

  @OnEvent(CampaignStarted)
  onCampaignStarted(@Payload() e: EventEnvelope) {
    return this.step(e, 'campaign started');
  }

  @OnEvent(CampaignResumed)
  onCampaignResumed(@Payload() e: EventEnvelope) {
    return this.step(e, 'campaign resumed');
  }

  @OnEvent(ManifestSubmitted, { concurrency: 4 })
  onManifest(@Payload() e: EventEnvelope) {
    return this.step(e, 'manifest submitted');
  }

  @OnEvent(WorkerFailed, { concurrency: 4 })
  onWorkerFailed(@Payload() e: EventEnvelope) {
    return this.step(e, 'worker failed');
  }

  @OnEvent(FrozenPathViolated, { concurrency: 4 })
  onViolation(@Payload() e: EventEnvelope) {
    return this.step(e, 'candidate invalidated');
  }

  @OnEvent(PolicyRevised)
  onPolicyRevised(@Payload() e: EventEnvelope) {
    return this.step(e, 'policy revised');
  }

  @OnEvent(FinalAuditStarted)
  onFinalAudit(@Payload() e: EventEnvelope) {
    return this.reactions.unseal(e.campaignId, e.id);
  }

  @OnEvent(PrivateLeaderboardUnsealed)
  onUnsealed(@Payload() e: EventEnvelope) {
    return this.step(e, 'private leaderboard unsealed');
  }

  @OnEvent(SubstrateRejected)
  onSubstrateRejected(@Payload() e: EventEnvelope) {
    return this.step(e, 'substrate rejected');
  }

  /**
   * Only an unrecoverable one changes anything (the campaign aborts); a rebuilt snapshot lets the step find nothing.
   */
  @OnEvent(SnapshotDamaged)
  onSnapshotDamaged(@Payload() e: EventEnvelope) {
    return this.step(e, 'substrate snapshot damaged');
  }

  @OnEvent(CampaignAborted)
  async onAborted(@Payload() e: EventEnvelope) {
    await this.reactions.cancelJobs(e.campaignId, `campaign aborted: ${(e.data as { reason: string }).reason}`);
  }

  /** The round goes on without its open jobs; workers stop on their own (they read BudgetExhausted). */
  @OnEvent(BudgetExhausted)
  async onBudgetExhausted(@Payload() e: EventEnvelope) {
    const d = e.data as { round: number; exhausted: string[] };
    await this.reactions.cancelJobs(e.campaignId, budgetExhaustedReason(d));
  }
}
