import { Controller, Inject, Logger } from '@nestjs/common';
import {
  BudgetExhausted,
  budgetExhaustedReason,
  CampaignAborted,
  CandidateForked,
  type EventOf,
} from '@aevo/contracts';
import { OnEvent, type JetStreamEventContext } from '@aevo/messaging';
import { Ctx, Payload } from '@nestjs/microservices';
import { WorkerWorkflow } from './app/worker-workflow';
import { handlerConcurrency } from './config';

/**
 * Transport edge. Replicas share the durable consumer `worker__CandidateForked`, so candidates spread over them.
 * The handler holds the message for the candidate's whole run — the transport keeps it alive with `working()` —
 * and acks only when the candidate has ended (manifest submitted or failed). A replica that dies leaves the message
 * unacked; after the ack wait it goes to another replica, which resumes the candidate from its trace. (Acking at
 * once and tracking work in the store would need a lease table and a sweeper to find orphaned candidates; the
 * redelivery of an unacked message is that sweeper, and the trace makes a redelivered candidate cheap to resume.)
 */
@Controller()
export class WorkerController {
  private readonly log = new Logger('WorkerController');
  constructor(@Inject(WorkerWorkflow) private readonly workflow: WorkerWorkflow) {}

  @OnEvent(CandidateForked, { concurrency: handlerConcurrency() })
  async onCandidateForked(
    @Payload() e: EventOf<typeof CandidateForked>,
    @Ctx() ctx: JetStreamEventContext,
  ): Promise<void> {
    const out = await this.workflow.onCandidateForked(e, ctx.getDeliveryCount());
    this.log.log(`${e.data.candidateId}: ${out.kind}${'reason' in out ? ` (${out.reason})` : ''}`);
  }

  /**
   * The durable consumer is shared by the replicas, so only one of them hears this; the others find the abort in
   * the log (each checks at most every few seconds between a candidate's steps).
   */
  @OnEvent(CampaignAborted)
  onCampaignAborted(@Payload() e: EventOf<typeof CampaignAborted>): void {
    this.workflow.campaignAborted(e.campaignId, e.data.reason);
    this.log.log(`${e.campaignId}: aborted (${e.data.reason}); its running candidates stop before their next step`);
  }

  @OnEvent(BudgetExhausted)
  onBudgetExhausted(@Payload() e: EventOf<typeof BudgetExhausted>): void {
    this.workflow.campaignStopped(e.campaignId, budgetExhaustedReason(e.data));
    this.log.log(
      `${e.campaignId}: ${budgetExhaustedReason(e.data)}; its running candidates stop before their next step`,
    );
  }
}
