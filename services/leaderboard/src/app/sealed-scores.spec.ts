import { createTestDb, type TestDb } from '@aevo/testkit';
import { PgSealedScoreStore } from './sealed-scores';

jest.setTimeout(60_000);

describe('PgSealedScoreStore (real PostgreSQL)', () => {
  let db: TestDb;
  let store: PgSealedScoreStore;
  beforeAll(async () => {
    db = await createTestDb();
    store = await PgSealedScoreStore.open(db.url, db.schema);
  });
  afterAll(async () => {
    await store.close();
    await db.drop();
  });

  it('keeps private scores per campaign, and a re-seal never overwrites a known score', async () => {
    await store.seal({
      campaignId: 'c1',
      submissionId: 's1',
      board: 'local',
      privateScore: 0.42,
      privateDomains: { arith: 0.84, recall: 0 },
    });
    await store.seal({
      campaignId: 'c1',
      submissionId: 's1',
      board: 'local',
      privateScore: 0.99,
      privateDomains: null,
    });
    await store.seal({
      campaignId: 'c1',
      submissionId: 's2',
      board: 'kaggle',
      privateScore: null,
      privateDomains: null,
    });
    await store.seal({ campaignId: 'c2', submissionId: 's1', board: 'local', privateScore: 0.1, privateDomains: null });
    expect(await store.list('c1')).toEqual([
      {
        campaignId: 'c1',
        submissionId: 's1',
        board: 'local',
        privateScore: 0.42,
        privateDomains: { arith: 0.84, recall: 0 },
      },
      { campaignId: 'c1', submissionId: 's2', board: 'kaggle', privateScore: null, privateDomains: null },
    ]);
    // Kaggle reveals the private score later: a null is filled in.
    await store.seal({
      campaignId: 'c1',
      submissionId: 's2',
      board: 'kaggle',
      privateScore: 0.7,
      privateDomains: null,
    });
    expect((await store.list('c1'))[1].privateScore).toBe(0.7);
  });

  it('opens again on an existing table and refuses a schema that is not an identifier', async () => {
    const again = await PgSealedScoreStore.open(db.url, db.schema);
    expect((await again.list('c2')).map((r) => r.privateScore)).toEqual([0.1]);
    await again.close();
    await expect(PgSealedScoreStore.open(db.url, 'bad;drop')).rejects.toThrow(/dbSchema: expected an SQL identifier/);
  });
});
