import { Controller, Inject } from '@nestjs/common';
import {
  CampaignCompleted,
  FrozenPathViolated,
  LeaderboardScored,
  ManifestSubmitted,
  RoundStarted,
  SubmissionAccepted,
  SubmissionRejected,
  SubmissionRequested,
  type EventEnvelope,
} from '@aevo/contracts';
import { OnEvent } from '@aevo/messaging';
import { CollectorWorkflow } from './app/collector-workflow';

/** Transport edge: every fact that can complete a round re-checks it; a throw naks for redelivery. */
@Controller()
export class CollectorController {
  constructor(@Inject(CollectorWorkflow) private readonly workflow: CollectorWorkflow) {}

  @OnEvent(RoundStarted)
  async onRoundStarted(e: EventEnvelope): Promise<void> {
    await this.workflow.onEvent(e);
  }

  @OnEvent(ManifestSubmitted)
  async onManifest(e: EventEnvelope): Promise<void> {
    await this.workflow.onEvent(e);
  }

  @OnEvent(SubmissionRequested)
  async onSubmissionRequested(e: EventEnvelope): Promise<void> {
    await this.workflow.onEvent(e);
  }

  @OnEvent(SubmissionAccepted)
  async onSubmissionAccepted(e: EventEnvelope): Promise<void> {
    await this.workflow.onEvent(e);
  }

  @OnEvent(LeaderboardScored)
  async onScored(e: EventEnvelope): Promise<void> {
    await this.workflow.onEvent(e);
  }

  @OnEvent(SubmissionRejected)
  async onRejected(e: EventEnvelope): Promise<void> {
    await this.workflow.onEvent(e);
  }

  @OnEvent(FrozenPathViolated)
  async onViolation(e: EventEnvelope): Promise<void> {
    await this.workflow.onEvent(e);
  }

  /** The campaign is over: its report is rendered from the log and its hash recorded (once). */
  @OnEvent(CampaignCompleted)
  async onCampaignCompleted(e: EventEnvelope): Promise<void> {
    await this.workflow.recordReport(e.campaignId);
  }
}
