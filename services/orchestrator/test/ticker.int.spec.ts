import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { PostgresEventStore } from '@aevo/eventstore';
import { writeSubstrateFixture } from '@aevo/substrate-kit';
import { eventually, startServiceHarness, type ServiceHarness } from '@aevo/testkit';
import { OrchestratorWorkflow } from '../src/app/orchestrator-workflow';
import { CampaignFactsCache, LiveCampaigns } from '../src/app/campaign-facts';
import { FileCampaignInputs } from '../src/app/campaign-inputs';
import { DEPLOY_ROOT } from '../src/config';
import { CampaignReactions } from '../src/app/campaign-reactions';
import { CampaignTicker } from '../src/app/campaign-ticker';
import { factsFor } from './fixtures';

jest.setTimeout(120_000);

/**
 * The tick alone drives a campaign: no NATS, no consumers — only the store. This is what recovers a campaign whose
 * trigger messages were lost (dead-lettered during an outage).
 */
describe('CampaignTicker on PostgreSQL', () => {
  let h: ServiceHarness;
  let store: PostgresEventStore;
  let dir: string;

  beforeAll(async () => {
    // The harness for the suite's own schema and store only: no service app, and no relay to JetStream.
    h = await startServiceHarness([], { service: 'orchestrator', harnessRelay: false });
    store = h.store;
    dir = writeSubstrateFixture(fs.mkdtempSync(path.join(os.tmpdir(), 'aevo-orch-tick-')));
  });

  afterAll(async () => {
    await h?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('starts round 1, requests submissions and stops after the campaign ends, from the log alone', async () => {
    const campaigns = new OrchestratorWorkflow(
      store,
      new FileCampaignInputs([dir, DEPLOY_ROOT]),
      new CampaignFactsCache(store),
    );
    const reactions = new CampaignReactions(campaigns, store, {
      send: () => Promise.reject(new Error('the ticker test sends no commands')),
    });
    const ticker = new CampaignTicker(campaigns, reactions, new LiveCampaigns(store), 50);
    const f = factsFor('tick-a');
    await campaigns.startCampaign({
      commandId: 'cmd-tick-a',
      name: 'StartCampaign',
      issuedBy: 'test',
      correlationId: null,
      payload: {
        campaignId: 'tick-a',
        substratePath: dir,
        constitutionPath: 'constitutions/default.yaml',
        size: 'tiny',
        rounds: 1,
        workersPerRound: 2,
        axes: ['learning-rate'],
        anchorSeeds: 1,
        seed: 5,
        workerKind: 'heuristic',
        metaKind: 'rules',
        leaderboard: 'local',
        executor: 'local',
        budgets: { gpuSeconds: 100, llmTokens: 0, submissionsPerRound: 1 },
      },
    });
    const count = async (type: string) => (await store.readAll({ campaignId: 'tick-a', types: [type] })).length;
    ticker.onApplicationBootstrap();
    try {
      await eventually(async () => (await count('RoundStarted')) === 1, 30_000);
      for (const e of [f.forked(1, 0), f.forked(1, 1), f.manifest(1, 0, 0.4), f.manifest(1, 1, 0.6)])
        await store.append(e.streamId, 'any', [e]);
      await eventually(async () => (await count('SubmissionRequested')) === 1, 30_000);
      await campaigns.abort({
        commandId: 'cmd-tick-abort',
        name: 'AbortCampaign',
        issuedBy: 'test',
        correlationId: null,
        payload: { campaignId: 'tick-a', reason: 'done here' },
      });
      const head = await store.headPosition();
      await new Promise((r) => setTimeout(r, 500));
      // An ended campaign leaves the live set: nothing more is appended.
      expect(await store.headPosition()).toBe(head);
      expect(await new LiveCampaigns(store).list()).toEqual([]);
    } finally {
      await ticker.onModuleDestroy();
    }
  });
});
