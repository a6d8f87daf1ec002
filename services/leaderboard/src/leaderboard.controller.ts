import { Controller, Inject, type OnApplicationBootstrap } from '@nestjs/common';
import {
  CampaignStarted,
  JobCancelled,
  JobFailed,
  JobSucceeded,
  SubmissionRequested,
  SubstrateSnapshotted,
  UnsealPrivateLeaderboard,
  type CommandOf,
  type EventOf,
} from '@aevo/contracts';
import { OnCommand, OnEvent } from '@aevo/messaging';
import { LeaderboardWorkflow } from './app/leaderboard-workflow';

/** Transport edge: events and the unseal command are handed to the workflow; a throw naks for redelivery. */
@Controller()
export class LeaderboardController implements OnApplicationBootstrap {
  constructor(@Inject(LeaderboardWorkflow) private readonly workflow: LeaderboardWorkflow) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.workflow.resumePolls();
  }

  @OnEvent(CampaignStarted)
  async onCampaignStarted(e: EventOf<typeof CampaignStarted>): Promise<void> {
    await this.workflow.onCampaignStarted(e);
  }

  // A local board opens from the campaign's snapshot, announced here.
  @OnEvent(SubstrateSnapshotted)
  async onSubstrateSnapshotted(e: EventOf<typeof SubstrateSnapshotted>): Promise<void> {
    await this.workflow.onSubstrateSnapshotted(e);
  }

  // One at a time, in stream order: which submission of a round takes the last quota slot follows the log.
  @OnEvent(SubmissionRequested)
  async onSubmissionRequested(e: EventOf<typeof SubmissionRequested>): Promise<void> {
    await this.workflow.onSubmissionRequested(e);
  }

  // A predict job's end, whichever way it ended.
  @OnEvent([JobSucceeded, JobFailed, JobCancelled], { concurrency: 4 })
  async onJobTerminal(
    e: EventOf<typeof JobSucceeded> | EventOf<typeof JobFailed> | EventOf<typeof JobCancelled>,
  ): Promise<void> {
    await this.workflow.onJobTerminal(e);
  }

  @OnCommand(UnsealPrivateLeaderboard)
  async unseal(cmd: CommandOf<typeof UnsealPrivateLeaderboard>) {
    return this.workflow.unseal(cmd.payload.campaignId, cmd.commandId);
  }
}
