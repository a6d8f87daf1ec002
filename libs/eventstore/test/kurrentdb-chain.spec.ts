import { randomBytes } from 'node:crypto';
import { jsonEvent } from '@kurrent/kurrentdb-client';
import { contractEvent, eventContentHash } from '../src';
import { KurrentDbEventStore } from '../src/kurrentdb/kurrentdb-event-store';
import { KurrentDbProtocolFake } from '../src/kurrentdb/testing/protocol-fake';
import { envelopeMetadata } from '../src/kurrentdb/mapping';

jest.setTimeout(120_000);

describe('KurrentDbEventStore hash chain (through the real client, against the protocol-level fake)', () => {
  let fake: KurrentDbProtocolFake;
  const opened: KurrentDbEventStore[] = [];
  const open = async (namespace: string) => {
    const s = await KurrentDbEventStore.open({ connectionString: fake.connectionString, namespace });
    opened.push(s);
    return s;
  };
  beforeEach(async () => {
    fake = await KurrentDbProtocolFake.start();
  });
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
    await fake.stop();
  });

  async function seed(ns: string) {
    const a = await open(ns);
    const b = await open(ns);
    const campaign = 'cchain';
    // Two instances appending at once: the chain still links every position once, in `$all` order.
    await Promise.all(
      [a, b].map(async (store, w) => {
        for (let i = 0; i < 10; i++) {
          const s = `w${w}-${i % 3}`;
          await store.append(
            s,
            'any',
            [contractEvent(s, campaign, `${w}-${i}`)],
            i === 4 ? { commandId: `cmd-${w}` } : undefined,
          );
        }
      }),
    );
    return { a, b };
  }

  it('links every position once; a fresh instance verifies it with no finding and reads the same links', async () => {
    const ns = `t${randomBytes(4).toString('hex')}`;
    const { a } = await seed(ns);
    const fresh = await open(ns);
    const report = await fresh.verifyChain();
    expect(report.findings).toEqual([]);
    expect(report.checked).toBe(20);
    const links = await fresh.readChainLinks(0, 100);
    expect(links.map((l) => l.position)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    const events = await a.readAll();
    expect(links.map((l) => [l.id, l.contentHash])).toEqual(events.map((e) => [e.id, eventContentHash(e)]));
    expect(await fresh.readChainLinks(18, 1)).toEqual([links[18]]);
  });

  it('reports an event whose stored data was rewritten behind the API, at its position', async () => {
    const ns = `t${randomBytes(4).toString('hex')}`;
    const { a } = await seed(ns);
    const victim = (await a.readAll())[6];
    expect(fake.storage.rewriteData(victim.id, Buffer.from(JSON.stringify({ reason: 'tampered' })))).toBe(true);
    const report = await (await open(ns)).verifyChain();
    expect(report.findings.map((f) => f.position)).toEqual([7]);
    expect(report.findings[0].reason).toMatch(/stored event hashes to/);
  });

  it('reports an event removed behind the API: the positions after it no longer match their links', async () => {
    const ns = `t${randomBytes(4).toString('hex')}`;
    const { a } = await seed(ns);
    const victim = (await a.readAll())[11];
    expect(fake.storage.removeEvent(victim.id)).toBe(true);
    const report = await (await open(ns)).verifyChain();
    expect(report.findings[0].position).toBe(12);
    expect(report.findings[0].reason).toMatch(/chain link was written for/);
  });

  it('reports an event written into the namespace outside the adapter as unchained, and a forged link', async () => {
    const ns = `t${randomBytes(4).toString('hex')}`;
    const { a } = await seed(ns);
    const s = 'rogue-1';
    const e = contractEvent(s, 'cchain', 'rogue');
    await a.client.appendToStream(
      `${ns}:${s}`,
      jsonEvent({ id: e.id, type: e.type, data: e.data as never, metadata: envelopeMetadata(e, null) as never }),
    );
    const report = await (await open(ns)).verifyChain();
    expect(report.findings).toEqual([{ position: 21, reason: expect.stringMatching(/carries no hash/) }]);
    await a.client.appendToStream(
      `${ns}-chain`,
      jsonEvent({
        type: 'AevoChainLink',
        data: { position: 21, id: e.id, contentHash: eventContentHash(e), chainHash: 'f'.repeat(64) },
      }),
      { streamState: 19n },
    );
    const forged = await (await open(ns)).verifyChain();
    expect(forged.findings.map((f) => f.position)).toEqual([21]);
    expect(forged.findings[0].reason).toMatch(/does not follow from its predecessor/);
  });
});

describe('KurrentDbEventStore when the server drops its $all subscription', () => {
  it(
    'resubscribes after the last indexed event: nothing skipped, ' + 'nothing twice, followers see every event once',
    async () => {
      const fake = await KurrentDbProtocolFake.start();
      const ns = `t${randomBytes(4).toString('hex')}`;
      const store = await KurrentDbEventStore.open({
        connectionString: fake.connectionString,
        namespace: ns,
        pollIntervalMs: 200,
      });
      const other = await KurrentDbEventStore.open({
        connectionString: fake.connectionString,
        namespace: ns,
        pollIntervalMs: 200,
      });
      try {
        const seen: number[] = [];
        const sub = store.subscribe(0, async (e) => void seen.push(e.position));
        for (let i = 0; i < 5; i++) await store.append('drop-a', i, [contractEvent('drop-a', 'cdrop', `a${i}`)]);
        expect(fake.dropSubscriptions()).toBeGreaterThanOrEqual(2);
        // Written by another instance while this one's tail is down: it must still reach this index, once.
        for (let i = 0; i < 5; i++) await other.append('drop-b', i, [contractEvent('drop-b', 'cdrop', `b${i}`)]);
        const all = await store.readAll();
        expect(all.map((e) => e.position)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
        expect(all.map((e) => e.streamId)).toEqual([...Array(5).fill('drop-a'), ...Array(5).fill('drop-b')]);
        await store.append('drop-a', 5, [contractEvent('drop-a', 'cdrop', 'after')]);
        const deadline = Date.now() + 30_000;
        while (seen.length < 11 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        await sub.close();
        expect(seen).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
        expect((await store.verifyChain()).findings).toEqual([]);
      } finally {
        await store.close();
        await other.close();
        await fake.stop();
      }
    },
  );
});
