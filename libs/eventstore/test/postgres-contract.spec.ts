import { createTestDb, type TestDb } from '@aevo/testkit';
import { Client } from 'pg';
import { PostgresEventStore, runEventStoreContractTests } from '../src';

jest.setTimeout(120_000);

runEventStoreContractTests('PostgresEventStore', async () => {
  const db: TestDb = await createTestDb();
  const open = () =>
    PostgresEventStore.open({ connectionString: db.url, schema: db.schema, poolSize: 4, pollIntervalMs: 500 });
  const store = await open();
  const raw = new Client({ connectionString: db.url });
  await raw.connect();
  const refused = async (sql: string, eventId: string) => {
    try {
      await raw.query(sql, [eventId]);
    } catch (err) {
      if (PostgresEventStore.isAppendOnlyViolation(err)) throw err;
      throw new Error(`refused for another reason: ${String(err)}`);
    }
  };
  return {
    store,
    openAnother: open,
    tamper: {
      update: (id) =>
        refused(`UPDATE "${db.schema}".events SET data = '{"reason":"tampered"}' WHERE event_id = $1`, id),
      delete: (id) => refused(`DELETE FROM "${db.schema}".events WHERE event_id = $1`, id),
    },
    async teardown() {
      await store.close();
      await raw.end();
      await db.drop();
    },
  };
});
