import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import {
  AbortCampaign,
  PauseCampaign,
  ResumeCampaign,
  StartCampaign,
  StartRound,
  type CommandOf,
} from '@aevo/contracts';
import { OnCommand } from '@aevo/messaging';
import { OrchestratorWorkflow } from './app/orchestrator-workflow';

/**
 * The orchestrator's command topic (queue group "orchestrator"): `aevo.cmd.StartCampaign`, `StartRound`,
 * `PauseCampaign`, `ResumeCampaign`, `AbortCampaign`. What follows a command (round 1 after the start, pending
 * steps after a resume) is the reactions' job: they see the command's event like any other.
 */
@Controller()
export class OrchestratorCommandsController {
  constructor(@Inject(OrchestratorWorkflow) private readonly campaigns: OrchestratorWorkflow) {}

  @OnCommand(StartCampaign)
  startCampaign(@Payload() cmd: CommandOf<typeof StartCampaign>) {
    return this.campaigns.startCampaign(cmd);
  }

  @OnCommand(StartRound)
  startRound(@Payload() cmd: CommandOf<typeof StartRound>) {
    return this.campaigns.startRound(cmd);
  }

  @OnCommand(PauseCampaign)
  pause(@Payload() cmd: CommandOf<typeof PauseCampaign>) {
    return this.campaigns.pause(cmd);
  }

  @OnCommand(ResumeCampaign)
  resume(@Payload() cmd: CommandOf<typeof ResumeCampaign>) {
    return this.campaigns.resume(cmd);
  }

  @OnCommand(AbortCampaign)
  abort(@Payload() cmd: CommandOf<typeof AbortCampaign>) {
    return this.campaigns.abort(cmd);
  }
}
