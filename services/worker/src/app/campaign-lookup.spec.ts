import { PostgresEventStore, type EventStore } from '@aevo/eventstore';
import { createTestDb, events, randomSuffix, type TestDb } from '@aevo/testkit';
import { CampaignLookup } from './campaign-lookup';

jest.setTimeout(60_000);

describe('CampaignLookup', () => {
  let db: TestDb;
  let store: PostgresEventStore;
  let reads: string[];
  let counted: EventStore;

  beforeAll(async () => {
    db = await createTestDb();
    store = await PostgresEventStore.open({ connectionString: db.url, schema: db.schema, poolSize: 2 });
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });
  beforeEach(() => {
    reads = [];
    counted = Object.create(store) as EventStore;
    counted.readAll = (o) => (reads.push((o?.types ?? []).join(',')), store.readAll(o));
  });

  async function campaignWithRevisions(revisions: number): Promise<string> {
    const campaignId = `c${randomSuffix()}`;
    const started = events.CampaignStarted({ campaignId });
    await store.append(started.streamId, 'any', [started]);
    for (let round = 1; round <= revisions; round++) {
      const revised = events.PolicyRevised({ campaignId, data: { round } });
      await store.append(revised.streamId, 'any', [revised]);
    }
    return campaignId;
  }

  it('reads a campaign once for a whole round of candidates opening at the same time', async () => {
    const campaignId = await campaignWithRevisions(2);
    const lookup = new CampaignLookup(counted);
    const facts = await Promise.all(Array.from({ length: 8 }, () => lookup.campaign(campaignId)));
    expect(new Set(facts).size).toBe(1);
    expect(facts[0].config).toBeDefined();
    const policies = await Promise.all(Array.from({ length: 8 }, () => lookup.policy(campaignId, 2)));
    expect(policies.every((p) => p.revision === 2)).toBe(true);
    expect((await lookup.policy(campaignId, 0)).revision).toBe(0);
    expect(reads).toEqual(['CampaignStarted', 'PolicyRevised']);
  });

  it('names what is missing, and reads again after a failure instead of remembering it', async () => {
    const lookup = new CampaignLookup(counted);
    const unknown = `c${randomSuffix()}`;
    const both = await Promise.all([lookup.campaign(unknown), lookup.campaign(unknown)].map((p) => p.catch((e) => e)));
    expect(both.map((e: { code?: string }) => e.code)).toEqual(['CAMPAIGN_NOT_FOUND', 'CAMPAIGN_NOT_FOUND']);
    expect(reads).toEqual(['CampaignStarted']);
    const started = events.CampaignStarted({ campaignId: unknown });
    await store.append(started.streamId, 'any', [started]);
    expect((await lookup.campaign(unknown)).constitutionSha256).toBe(started.data.constitutionSha256);
    await expect(lookup.policy(unknown, 3)).rejects.toMatchObject({ code: 'POLICY_NOT_FOUND' });
  });
});
