import { CampaignPaused, CampaignResumed, createEvent, WorkerFailed } from '@aevo/contracts';
import { createTestDb, createTestNatsNames, type TestDb, type TestNatsNames } from '@aevo/testkit';
import { jetstream, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { Client } from 'pg';
import {
  chainLink,
  compareJetStreamCopy,
  eventContentHash,
  GENESIS_CHAIN_HASH,
  metadataHash,
  migrateEventStoreSchema,
  OutboxRelay,
  PostgresEventStore,
  relayHeaders,
  relayPayload,
  schemaNames,
  type StoredEvent,
} from '../src';
import { deleteStream, natsConnect } from './nats-helpers';
import { flipOneByte, seeded } from './tamper';

jest.setTimeout(180_000);

const mix = (i: number, campaignId: string, streamId: string) => {
  const ctx = {
    campaignId,
    streamId,
    source: 'orchestrator' as const,
    causationId: i % 3 === 0 ? `cause-${i}` : undefined,
  };
  if (i % 3 === 0)
    return createEvent(CampaignPaused, { reason: `pause ${i} — ünïcode, "quotes", \\ and 0.1+0.2=${0.1 + 0.2}` }, ctx);
  if (i % 3 === 1) return createEvent(CampaignResumed, {}, ctx);
  return createEvent(
    WorkerFailed,
    { candidateId: `c-${i}`, round: 1 + (i % 4), reason: 'exit 3', step: i % 2 ? null : 12 },
    { ...ctx, source: 'worker' },
  );
};

async function appendMix(store: PostgresEventStore, n: number, tag: string): Promise<void> {
  // Concurrent writers, so that group commits chain several appends in one transaction.
  await Promise.all(
    [0, 1, 2, 3].map(async (w) => {
      for (let i = w; i < n; i += 4) {
        const streamId = `campaign-${tag}-${w}`;
        await store.append(
          streamId,
          'any',
          [mix(i, `camp-${w % 2}`, streamId), mix(i + 1, `camp-${w % 2}`, streamId)],
          i % 5 === 0 ? { commandId: `${tag}-cmd-${i}` } : undefined,
        );
      }
    }),
  );
}

describe('hash chain', () => {
  let db: TestDb;
  let raw: Client;
  const stores: PostgresEventStore[] = [];
  const open = async (schema = db.schema) => {
    const s = await PostgresEventStore.open({ connectionString: db.url, schema, poolSize: 4 });
    stores.push(s);
    return s;
  };

  beforeAll(async () => {
    db = await createTestDb();
    raw = new Client({ connectionString: db.url });
    await raw.connect();
  });
  afterAll(async () => {
    for (const s of stores) await s.close();
    await raw?.end();
    await db?.drop();
  });

  it('chains every append (group commits included) and an independent recomputation agrees', async () => {
    const store = await open();
    await appendMix(store, 120, 'a');
    const report = await store.verifyChain();
    expect(report).toMatchObject({ upTo: 240, checked: 240, retroactiveThrough: 0, findings: [] });
    // Recompute from what reads return, without the store's verifier.
    const events = await store.readAll();
    const { rows } = await raw.query<{ position: string; metadata: unknown; content_hash: string; chain_hash: string }>(
      `SELECT position, metadata, content_hash, chain_hash FROM "${db.schema}".events ORDER BY position`,
    );
    let prev = GENESIS_CHAIN_HASH;
    events.forEach((e: StoredEvent, i) => {
      const content = eventContentHash(e);
      expect(rows[i].content_hash).toBe(content);
      prev = chainLink(prev, e.position, e.streamVersion, content, metadataHash(rows[i].metadata));
      expect(rows[i].chain_hash).toBe(prev);
    });
  });

  it('names the position of a single flipped byte in any column of any event, and only that one', async () => {
    const store = await open();
    if ((await store.headPosition()) === 0) await appendMix(store, 120, 'a'); // run alone (-t)
    const head = await store.headPosition();
    const seed = Date.now() % 1_000_000;
    const rnd = seeded(seed);
    for (let trial = 0; trial < 30; trial++) {
      const position = 1 + Math.floor(rnd() * head);
      const { column, undo } = await flipOneByte(raw, db.schema, position, rnd);
      try {
        const report = await store.verifyChain();
        const context = `seed ${seed}, trial ${trial}: flipped ${column} at ${position}`;
        expect({ context, first: report.findings[0]?.position, count: report.findings.length }).toEqual({
          context,
          first: position,
          count: 1,
        });
      } finally {
        await undo();
      }
    }
    expect((await store.verifyChain()).findings).toEqual([]);
  });

  it('refuses an append without content hashes (an older client) instead of writing an unchained row', async () => {
    const store = await open();
    const n = schemaNames(db.schema);
    const e = createEvent(
      CampaignResumed,
      {},
      { campaignId: 'camp', streamId: 'campaign-old', source: 'orchestrator' },
    );
    await expect(
      raw.query(`SELECT ${n.appendGroupFn}($1::jsonb)`, [
        JSON.stringify([{ stream: 'campaign-old', expected: -1, commandId: null, events: [e], metadata: {} }]),
      ]),
    ).rejects.toThrow(/without content hashes/);
    expect((await store.verifyChain()).findings).toEqual([]);
  });

  it('migrates a store written before the chain: old rows chained once, recorded as retroactive', async () => {
    const schema = `${db.schema}_old`;
    const n = schemaNames(schema);
    await migrateEventStoreSchema(raw, n, 1);
    const old = Array.from({ length: 25 }, (_, i) => mix(i, 'camp-old', 'campaign-old'));
    await raw.query(`SELECT ${n.appendGroupFn}($1::jsonb)`, [
      JSON.stringify([
        {
          stream: 'campaign-old',
          expected: 0,
          commandId: 'old-1',
          events: old.slice(0, 10),
          metadata: { commandId: 'old-1' },
        },
        { stream: 'campaign-old', expected: 10, commandId: null, events: old.slice(10), metadata: {} },
      ]),
    ]);
    try {
      const store = await open(schema);
      await appendMix(store, 8, 'new');
      const report = await store.verifyChain();
      expect(report).toMatchObject({ upTo: 41, retroactiveThrough: 25, findings: [] });
      expect(report.chainedAt).toEqual(expect.any(String));
      // Opening again migrates nothing and changes nothing.
      const again = await open(schema);
      expect(await again.migrate()).toEqual([]);
      expect((await again.verifyChain()).findings).toEqual([]);
    } finally {
      for (const s of stores.splice(0)) await s.close();
      await raw.query(`DROP SCHEMA "${schema}" CASCADE`);
    }
  });

  describe('JetStream copy', () => {
    let names: TestNatsNames;
    let store: PostgresEventStore;
    const lacking = () => `${names.stream}_LACKING`;

    beforeAll(async () => {
      names = createTestNatsNames();
      store = await open();
    });
    afterAll(async () => {
      await deleteStream(names.url, names.stream);
      await deleteStream(names.url, lacking());
    });

    it('agrees with what the relay published, and names a position a stream lacks', async () => {
      const relay = await OutboxRelay.start({
        databaseUrl: db.url,
        schema: db.schema,
        natsUrl: names.url,
        subjectPrefix: names.subjectPrefix,
        stream: names.stream,
        pollIntervalMs: 100,
      });
      const upTo = await store.headPosition();
      try {
        const deadline = Date.now() + 60_000;
        for (;;) {
          const r = await compareJetStreamCopy(store, { natsUrl: names.url, stream: names.stream, upTo });
          if (r.findings.length === 0) {
            expect(r.messages).toBeGreaterThanOrEqual(upTo);
            break;
          }
          if (Date.now() > deadline) throw new Error(r.findings.map((f) => f.reason).join('\n'));
          await new Promise((res) => setTimeout(res, 200));
        }
      } finally {
        await relay.stop();
      }

      // A second stream, filled by hand with every event but one (deny_delete streams cannot lose one afterwards).
      const nc = await natsConnect(names.url);
      try {
        const prefix = `${names.subjectPrefix}lack`;
        await (
          await jetstreamManager(nc)
        ).streams.add({ name: lacking(), subjects: [`${prefix}.evt.>`], storage: StorageType.File });
        const js = jetstream(nc);
        const skip = 1 + Math.floor(Math.random() * upTo);
        for (const e of await store.readAll()) {
          if (e.position === skip) continue;
          await js.publish(`${prefix}.evt.${e.campaignId}.${e.type}`, relayPayload(e), {
            msgID: e.id,
            headers: relayHeaders(e),
          });
        }
        const r = await compareJetStreamCopy(store, { natsUrl: names.url, stream: lacking(), upTo });
        expect(r.findings.map((f) => f.reason)).toEqual([
          `count: JetStream holds ${upTo - 1} of the store's ${upTo} events at positions 1..${upTo}`,
          expect.stringMatching(
            new RegExp(`^position ${skip} \\(.*\\) is missing from JetStream stream ${lacking()}$`),
          ),
        ]);
        // One altered message (content hash differs, id the same).
        const last = (await store.readAll({ fromPosition: upTo - 1 }))[0];
        await store.append('campaign-extra', 'any', [mix(1, 'camp-0', 'campaign-extra')]);
        const extra = (await store.readAll({ fromPosition: upTo }))[0];
        await js.publish(
          `${prefix}.evt.${extra.campaignId}.${extra.type}`,
          relayPayload({ ...extra, time: '2000-01-01T00:00:00.000Z' }),
          { msgID: extra.id, headers: relayHeaders(extra) },
        );
        const altered = await compareJetStreamCopy(store, {
          natsUrl: names.url,
          stream: lacking(),
          upTo: extra.position,
        });
        expect(altered.findings.map((f) => f.position)).toEqual([0, skip, extra.position]);
        expect(altered.findings[2].reason).toMatch(/JetStream copy hashes to .*, the store recorded/);
        expect(last.position).toBe(upTo);

        // A tail cut off the store (trigger lifted, as a DBA would): the chain cannot show it, the copy does.
        const table = `"${db.schema}".events`;
        await raw.query(`ALTER TABLE ${table} DISABLE TRIGGER events_append_only`);
        await raw.query(`DELETE FROM ${table} WHERE position = $1`, [extra.position]);
        await raw.query(`ALTER TABLE ${table} ENABLE TRIGGER events_append_only`);
        expect((await store.verifyChain()).findings).toEqual([]);
        const cut = await compareJetStreamCopy(store, { natsUrl: names.url, stream: lacking(), upTo: upTo });
        expect(cut.findings.map((f) => f.position)).toEqual([0, skip, extra.position]);
        expect(cut.findings[2].reason).toBe(
          `JetStream holds positions up to ${extra.position}, the store only up to ${upTo}: positions ` +
            `${extra.position}..${extra.position} are gone from the store`,
        );
      } finally {
        await nc.close();
      }
    });
  });
});
