import { Module } from '@nestjs/common';
import type { EventStore } from '@aevo/eventstore';
import { CommandClient, EVENT_STORE } from '@aevo/messaging';
import { OrchestratorCommandsController } from './orchestrator-commands.controller';
import { OrchestratorEventsController } from './orchestrator-events.controller';
import { OrchestratorWorkflow } from './app/orchestrator-workflow';
import { CampaignFactsCache, LiveCampaigns } from './app/campaign-facts';
import { FileCampaignInputs } from './app/campaign-inputs';
import { CampaignReactions } from './app/campaign-reactions';
import { CampaignTicker } from './app/campaign-ticker';
import { inputRootsFromEnv, orchestratorSettingsFromEnv } from './config';

@Module({
  controllers: [OrchestratorCommandsController, OrchestratorEventsController],
  providers: [
    {
      provide: OrchestratorWorkflow,
      useFactory: (store: EventStore) =>
        new OrchestratorWorkflow(store, new FileCampaignInputs(inputRootsFromEnv()), new CampaignFactsCache(store)),
      inject: [EVENT_STORE],
    },
    {
      provide: CampaignReactions,
      useFactory: (campaigns: OrchestratorWorkflow, store: EventStore, client: CommandClient) =>
        new CampaignReactions(campaigns, store, client, { unsealRetryMs: orchestratorSettingsFromEnv().unsealRetryMs }),
      inject: [OrchestratorWorkflow, EVENT_STORE, CommandClient],
    },
    {
      provide: CampaignTicker,
      useFactory: (campaigns: OrchestratorWorkflow, reactions: CampaignReactions, store: EventStore) =>
        new CampaignTicker(campaigns, reactions, new LiveCampaigns(store), orchestratorSettingsFromEnv().tickMs),
      inject: [OrchestratorWorkflow, CampaignReactions, EVENT_STORE],
    },
  ],
})
export class OrchestratorModule {}
