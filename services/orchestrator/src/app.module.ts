import { Module } from '@nestjs/common';
import type { EventStore } from '@aevo/eventstore';
import { EVENT_STORE } from '@aevo/messaging';
import { CampaignCommandsController } from './campaign/campaign-commands.controller';
import { CampaignService } from './campaign/campaign.service';
import { FileCampaignInputs } from './campaign/campaign-inputs';

@Module({
  controllers: [CampaignCommandsController],
  providers: [
    {
      provide: CampaignService,
      useFactory: (store: EventStore) => new CampaignService(store, new FileCampaignInputs()),
      inject: [EVENT_STORE],
    },
  ],
})
export class AppModule {}
