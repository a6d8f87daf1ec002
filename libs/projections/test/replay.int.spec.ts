import type { EventEnvelope } from '@aevo/contracts';
import { PostgresEventStore } from '@aevo/eventstore';
import { createTestDb, type TestDb } from '@aevo/testkit';
import {
  asStoredEvents,
  BUILTIN_PROJECTIONS,
  defaultRegistry,
  ProjectionSet,
  replay,
  replayDetailed,
  sampleCampaignLog,
} from '../src';

jest.setTimeout(120_000);

/** Appends a log in its order, batching consecutive events of one stream as a service would. */
async function appendLog(store: PostgresEventStore, events: EventEnvelope[]): Promise<void> {
  let batch: EventEnvelope[] = [];
  const flush = async () => {
    if (batch.length > 0) await store.append(batch[0].streamId, 'any', batch);
    batch = [];
  };
  for (const e of events) {
    if (batch.length > 0 && batch[0].streamId !== e.streamId) await flush();
    batch.push(e);
  }
  await flush();
}

describe('replay from a PostgreSQL event store', () => {
  const dbs: TestDb[] = [];
  const stores: PostgresEventStore[] = [];
  const open = async () => {
    const db = await createTestDb();
    dbs.push(db);
    const store = await PostgresEventStore.open({ connectionString: db.url, schema: db.schema });
    stores.push(store);
    return store;
  };
  afterAll(async () => {
    for (const s of stores) await s.close();
    for (const d of dbs) await d.drop();
  });

  it('yields identical projection hashes when the same log is replayed twice', async () => {
    const store = await open();
    const log = [
      ...sampleCampaignLog({ campaignId: 'a', seed: 3, rounds: 3, candidatesPerRound: 5 }),
      ...sampleCampaignLog({ campaignId: 'b', seed: 4, rounds: 2 }),
    ];
    await appendLog(store, log);
    const first = await replay(store);
    const second = await replay(store);
    expect(second).toEqual(first);
    expect(first.map((p) => p.name)).toEqual(defaultRegistry().names());
    for (const p of first) expect(p.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(first.find((p) => p.name === 'event-counts')?.events).toBeGreaterThan(0);
    // Paging does not matter, and the stored log folds to what the events fold to in memory.
    expect(await replay(store, { batchSize: 7 })).toEqual(first);
    const inMemory = new ProjectionSet()
      .applyAll(asStoredEvents(log))
      .results()
      .map(({ name, hash, events }) => ({ name, hash, events }));
    expect(first).toEqual(inMemory);
  });

  it('replays a fixed prefix of a log that is still growing', async () => {
    const store = await open();
    await appendLog(store, sampleCampaignLog({ campaignId: 'p', seed: 5, rounds: 1 }));
    const before = await replayDetailed(store);
    await appendLog(store, sampleCampaignLog({ campaignId: 'q', seed: 6, rounds: 1 }));
    const prefix = await replayDetailed(store, { toPosition: before.upTo });
    expect(prefix.upTo).toBe(before.upTo);
    expect(prefix.projections.map((p) => p.hash)).toEqual(before.projections.map((p) => p.hash));
    const all = await replayDetailed(store);
    expect(all.upTo).toBeGreaterThan(before.upTo);
    expect(all.projections.find((p) => p.name === 'campaigns')?.hash).not.toBe(
      before.projections.find((p) => p.name === 'campaigns')?.hash,
    );
  });

  it(
    'gives an undisturbed and a disturbed run with the same seed ' + 'equal hashes for every deterministic projection',
    async () => {
      const calm = await open();
      const disturbed = await open();
      await appendLog(calm, sampleCampaignLog({ campaignId: 'd', seed: 9, rounds: 2 }));
      await appendLog(
        disturbed,
        sampleCampaignLog({ campaignId: 'd', seed: 9, rounds: 2, disturbed: true, interleaveSeed: 77 }),
      );
      const a = await replay(calm);
      const b = await replay(disturbed);
      for (const p of BUILTIN_PROJECTIONS.filter((x) => x.deterministic !== false)) {
        expect([p.name, b.find((x) => x.name === p.name)?.hash]).toEqual([
          p.name,
          a.find((x) => x.name === p.name)?.hash,
        ]);
      }
    },
  );

  it('replays an empty log', async () => {
    const store = await open();
    const report = await replayDetailed(store);
    expect(report.upTo).toBe(0);
    expect(report.events).toBe(0);
    expect(report.projections.every((p) => p.events === 0)).toBe(true);
  });
});
