import type { EventEnvelope } from '@aevo/contracts';
import { PostgresEventStore, openKurrentDbEventStore, type EventStore } from '@aevo/eventstore';
import { KurrentDbProtocolFake } from '../../eventstore/src/kurrentdb/testing/protocol-fake';
import { createTestDb, type TestDb } from '@aevo/testkit';
import { replayDetailed, sampleCampaignLog } from '../src';

jest.setTimeout(180_000);

/**
 * Appends the log in per-stream batches; every second batch carries a trace context (every fourth with a
 * tracestate too), which both stores keep in the append's metadata and hash into the chain link.
 */
async function appendLog(store: EventStore, events: EventEnvelope[]): Promise<void> {
  let batch: EventEnvelope[] = [];
  let batches = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    const n = batches++;
    const traceparent = `00-${String(n).padStart(32, '0')}-b7ad6b7169203331-01`;
    const traceContext =
      n % 4 === 1 ? { traceparent, tracestate: `k=${n}` } : n % 2 === 1 ? { traceparent } : undefined;
    await store.append(batch[0].streamId, 'any', batch, traceContext ? { traceContext } : undefined);
    batch = [];
  };
  for (const e of events) {
    if (batch.length > 0 && batch[0].streamId !== e.streamId) await flush();
    batch.push(e);
  }
  await flush();
}

describe(
  'the same simulated campaign log on PostgreSQL and on KurrentDB ' +
    '(protocol-level fake) replays to the same projection hashes',
  () => {
    let db: TestDb;
    let fake: KurrentDbProtocolFake;
    const stores: EventStore[] = [];
    afterAll(async () => {
      for (const s of stores) await s.close();
      await db?.drop();
      await fake?.stop();
    });

    it('replays both logs to equal hashes for every projection, and verifies both chains', async () => {
      db = await createTestDb();
      fake = await KurrentDbProtocolFake.start();
      const pg = await PostgresEventStore.open({ connectionString: db.url, schema: db.schema });
      const kdb = await openKurrentDbEventStore({ connectionString: fake.connectionString, namespace: 'replay' });
      stores.push(pg, kdb);
      const log = [
        ...sampleCampaignLog({ campaignId: 'a', seed: 3, rounds: 3, candidatesPerRound: 5 }),
        ...sampleCampaignLog({ campaignId: 'b', seed: 4, rounds: 2 }),
      ];
      await appendLog(pg, log);
      await appendLog(kdb, log);
      const onPg = await replayDetailed(pg);
      const onKdb = await replayDetailed(kdb);
      expect(onKdb.upTo).toBe(onPg.upTo);
      expect(onKdb.projections.map(({ name, hash, events }) => ({ name, hash, events }))).toEqual(
        onPg.projections.map(({ name, hash, events }) => ({ name, hash, events })),
      );
      expect((await kdb.verifyChain!()).findings).toEqual([]);
      expect((await pg.verifyChain!()).findings).toEqual([]);
      // The chains agree link for link: same positions, ids and hashes on both stores (the trace contexts included).
      expect(await kdb.readChainLinks!(0, 10_000)).toEqual(await pg.readChainLinks!(0, 10_000));
    });
  },
);
