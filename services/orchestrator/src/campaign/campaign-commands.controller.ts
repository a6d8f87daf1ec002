import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { StartCampaign, StartRound, type CommandOf } from '@aevo/contracts';
import { OnCommand } from '@aevo/messaging';
import { CampaignService } from './campaign.service';

/** The orchestrator's command topic: `aevo.cmd.StartCampaign`, `aevo.cmd.StartRound` (queue group "orchestrator"). */
@Controller()
export class CampaignCommandsController {
  constructor(@Inject(CampaignService) private readonly campaigns: CampaignService) {}

  @OnCommand(StartCampaign)
  startCampaign(@Payload() cmd: CommandOf<typeof StartCampaign>) {
    return this.campaigns.startCampaign(cmd);
  }

  @OnCommand(StartRound)
  startRound(@Payload() cmd: CommandOf<typeof StartRound>) {
    return this.campaigns.startRound(cmd);
  }
}
