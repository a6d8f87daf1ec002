import { Controller, Inject } from '@nestjs/common';
import {
  CampaignCompleted,
  CampaignStarted,
  JobCancelled,
  JobFailed,
  JobSucceeded,
  ManifestSubmitted,
  RoundClosed,
  RoundStarted,
  VerifySandbox,
  type CommandOf,
  type EventOf,
  type SandboxVerification,
} from '@aevo/contracts';
import { commandFingerprint, commandResult, OnCommand, OnEvent, type CommandResult } from '@aevo/messaging';
import { SubstrateWorkflow, causeOf } from './app/substrate-workflow';

/** Transport edge: events and the VerifySandbox command are handed to the workflow; a throw naks the message. */
@Controller()
export class SubstrateController {
  constructor(@Inject(SubstrateWorkflow) private readonly workflow: SubstrateWorkflow) {}

  @OnEvent(CampaignStarted)
  async onCampaignStarted(e: EventOf<typeof CampaignStarted>): Promise<void> {
    await this.workflow.ensureSnapshot(e.campaignId, causeOf(e));
  }

  @OnEvent(RoundStarted)
  async onRoundStarted(e: EventOf<typeof RoundStarted>): Promise<void> {
    await this.workflow.forkRound(e.campaignId, e.data.round, causeOf(e));
  }

  /** Round-close check: the sandbox as the worker leaves it, before the collector builds the round's evidence. */
  @OnEvent(ManifestSubmitted)
  async onManifestSubmitted(e: EventOf<typeof ManifestSubmitted>): Promise<void> {
    await this.workflow.verifyAtRoundClose(e.campaignId, e.data.candidateId, causeOf(e));
  }

  // A round's or campaign's end, or a job's (whichever way it ended), may release sandboxes the retention policy
  // was waiting for.
  @OnEvent([RoundClosed, CampaignCompleted, JobSucceeded, JobFailed, JobCancelled])
  async onSandboxesMayBeFree(
    e:
      | EventOf<typeof RoundClosed>
      | EventOf<typeof CampaignCompleted>
      | EventOf<typeof JobSucceeded>
      | EventOf<typeof JobFailed>
      | EventOf<typeof JobCancelled>,
  ): Promise<void> {
    await this.workflow.collectGarbage(e.campaignId, causeOf(e));
  }

  @OnCommand(VerifySandbox)
  async verifySandbox(cmd: CommandOf<typeof VerifySandbox>): Promise<CommandResult<SandboxVerification>> {
    const p = cmd.payload;
    // Prefixed: the store's idempotency table is shared by every service; bound to the body like any command.
    const out = await this.workflow.verifyOutcome(p.campaignId, p.candidateId, p.checkedAt, p.paths, {
      commandId: `substrate:VerifySandbox:${cmd.commandId}`,
      fingerprint: commandFingerprint(cmd),
      correlationId: cmd.correlationId,
    });
    return commandResult(out.result, { duplicate: out.duplicate });
  }
}
