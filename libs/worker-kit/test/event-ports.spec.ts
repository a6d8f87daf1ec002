import { PostgresEventStore, type EventStore } from '@aevo/eventstore';
import { createTestDb, events, randomSuffix, type TestDb } from '@aevo/testkit';
import { EventJobPort } from '../src/adapters/event-ports';

jest.setTimeout(60_000);

/** The store with its reads counted and, optionally, its notifications stripped of their types. */
function observed(inner: EventStore, opts: { dropTypes?: boolean } = {}): EventStore & { reads: number } {
  const store = Object.create(inner) as EventStore & { reads: number };
  store.reads = 0;
  store.readAll = (o) => (store.reads++, inner.readAll(o));
  store.onHeadMoved = (fn) => inner.onHeadMoved!((head, types) => fn(head, opts.dropTypes ? undefined : types));
  return store;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('EventJobPort: waiting for a job terminal on the append notifications', () => {
  let db: TestDb;
  let store: PostgresEventStore;

  beforeAll(async () => {
    db = await createTestDb();
    store = await PostgresEventStore.open({ connectionString: db.url, schema: db.schema, poolSize: 4 });
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  /** Waits for `jobId` while 10 appends of other types commit, then appends its terminal; reads and latency. */
  async function waitAmidOtherAppends(port: EventJobPort, counted: { reads: number }, campaignId: string) {
    const jobId = `job-${randomSuffix()}`;
    const waiting = port.wait(jobId, 20_000);
    await sleep(100); // the waiter's first read is done and it waits
    const readsBefore = counted.reads;
    for (let i = 0; i < 10; i++) {
      const other = events.JobRequested({ campaignId });
      await store.append(other.streamId, 'any', [other]);
      await sleep(20);
    }
    const readsDuringOthers = counted.reads - readsBefore;
    const t0 = Date.now();
    const done = events.JobSucceeded({ campaignId, data: { jobId } });
    await store.append(done.streamId, 'any', [done]);
    const terminal = await waiting;
    return { terminal, jobId, readsDuringOthers, latencyMs: Date.now() - t0 };
  }

  it('skips notifications that name only other types and still sees its terminal within milliseconds', async () => {
    const campaignId = `c${randomSuffix()}`;
    const counted = observed(store);
    // pollMs far above the test's span: only a notification can wake the waiter in time.
    const port = new EventJobPort(counted, { campaignId, pollMs: 15_000 });
    const { terminal, jobId, readsDuringOthers, latencyMs } = await waitAmidOtherAppends(port, counted, campaignId);
    expect(terminal).toMatchObject({ jobId, status: 'succeeded', exitCode: 0 });
    expect(readsDuringOthers).toBe(0);
    expect(latencyMs).toBeLessThan(5_000);
  });

  it('reads on every notification when the store does not name the types (as before migration 3)', async () => {
    const campaignId = `c${randomSuffix()}`;
    const counted = observed(store, { dropTypes: true });
    const port = new EventJobPort(counted, { campaignId, pollMs: 15_000 });
    const { terminal, jobId, readsDuringOthers } = await waitAmidOtherAppends(port, counted, campaignId);
    expect(terminal).toMatchObject({ jobId, status: 'succeeded' });
    expect(readsDuringOthers).toBeGreaterThanOrEqual(5);
  });

  it('serves several waiters with shared reads, and stops listening when none waits', async () => {
    const campaignId = `c${randomSuffix()}`;
    let listeners = 0;
    const counted = observed(store);
    counted.onHeadMoved = (fn) => {
      listeners++;
      const off = store.onHeadMoved((head, types) => fn(head, types));
      return () => (listeners--, off());
    };
    const port = new EventJobPort(counted, { campaignId, pollMs: 15_000 });
    const ids = [1, 2, 3].map((i) => `job-${i}-${randomSuffix()}`);
    const waits = ids.map((id) => port.wait(id, 20_000));
    await sleep(100);
    expect(listeners).toBe(1);
    for (const jobId of ids) {
      const done = events.JobSucceeded({ campaignId, data: { jobId } });
      await store.append(done.streamId, 'any', [done]);
    }
    expect((await Promise.all(waits)).map((t) => t?.jobId)).toEqual(ids);
    expect(listeners).toBe(0);
  });

  it('falls back to polling when the store cannot notify, and answers null at its deadline', async () => {
    const campaignId = `c${randomSuffix()}`;
    const silent = Object.create(store) as EventStore;
    silent.onHeadMoved = undefined;
    const port = new EventJobPort(silent, { campaignId, pollMs: 50 });
    expect(await port.wait(`job-none-${randomSuffix()}`, 200)).toBeNull();
    const jobId = `job-${randomSuffix()}`;
    const waiting = port.wait(jobId, 10_000);
    const done = events.JobSucceeded({ campaignId, data: { jobId } });
    await store.append(done.streamId, 'any', [done]);
    expect(await waiting).toMatchObject({ jobId, status: 'succeeded' });
  });
});
