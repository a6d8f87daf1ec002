import { Module } from '@nestjs/common';
import type { EventStore } from '@aevo/eventstore';
import { CommandClient, EVENT_STORE } from '@aevo/messaging';
import { CampaignCommandsController } from './campaign/campaign-commands.controller';
import { CampaignEventsController } from './campaign/campaign-events.controller';
import { CampaignService } from './campaign/campaign.service';
import { CampaignFactsCache, LiveCampaigns } from './campaign/campaign-facts';
import { FileCampaignInputs } from './campaign/campaign-inputs';
import { CampaignReactions } from './campaign/campaign-reactions';
import { CampaignTicker } from './campaign/campaign-ticker';
import { orchestratorSettingsFromEnv } from './settings';

@Module({
  controllers: [CampaignCommandsController, CampaignEventsController],
  providers: [
    {
      provide: CampaignService,
      useFactory: (store: EventStore) =>
        new CampaignService(store, new FileCampaignInputs(), new CampaignFactsCache(store)),
      inject: [EVENT_STORE],
    },
    {
      provide: CampaignReactions,
      useFactory: (campaigns: CampaignService, store: EventStore, client: CommandClient) =>
        new CampaignReactions(campaigns, store, client, { unsealRetryMs: orchestratorSettingsFromEnv().unsealRetryMs }),
      inject: [CampaignService, EVENT_STORE, CommandClient],
    },
    {
      provide: CampaignTicker,
      useFactory: (campaigns: CampaignService, reactions: CampaignReactions, store: EventStore) =>
        new CampaignTicker(campaigns, reactions, new LiveCampaigns(store), orchestratorSettingsFromEnv().tickMs),
      inject: [CampaignService, CampaignReactions, EVENT_STORE],
    },
  ],
})
export class AppModule {}
