import { randomBytes } from 'node:crypto';
import { CampaignPaused, createEvent } from '@aevo/contracts';
import type { NatsConnection } from '@nats-io/nats-core';
import { StorageType } from '@nats-io/jetstream';
import { createTestNatsNames, eventually, type TestNatsNames } from '@aevo/testkit';
import { AllStreamRelay, compareJetStreamCopy, type AllStreamRelayOptions } from '../src';
import { KurrentDbEventStore } from '../src/kurrentdb/kurrentdb-event-store';
import { KurrentDbProtocolFake } from '../src/kurrentdb/testing/protocol-fake';
import { appendSome, deleteStream, natsConnect, readStreamMessages, streamCount, streamInfo } from './nats-helpers';

jest.setTimeout(180_000);

// The real nats-server (own stream and subject prefix) and the KurrentDB adapter through the real client against
// the protocol-level fake.
describe('AllStreamRelay: KurrentDB $all → JetStream without an outbox table', () => {
  let fake: KurrentDbProtocolFake;
  let names: TestNatsNames;
  let store: KurrentDbEventStore;
  let nc: NatsConnection;
  const namespace = `t${randomBytes(4).toString('hex')}`;
  const relays: AllStreamRelay[] = [];
  const options = (): AllStreamRelayOptions => ({
    kurrentdbUrl: fake.connectionString,
    namespace,
    natsUrl: names.url,
    subjectPrefix: names.subjectPrefix,
    stream: names.stream,
    pollIntervalMs: 200,
    batchSize: 25,
  });
  const startRelay = async () => {
    const r = await AllStreamRelay.start(options());
    relays.push(r);
    return r;
  };

  beforeAll(async () => {
    fake = await KurrentDbProtocolFake.start();
    names = createTestNatsNames();
    store = await KurrentDbEventStore.open({ connectionString: fake.connectionString, namespace });
    nc = await natsConnect(names.url);
  });
  afterAll(async () => {
    for (const r of relays) await r.stop();
    await nc?.close();
    await store?.close();
    await deleteStream(names.url, names.stream);
    await fake?.stop();
  });

  it('publishes every stored event in position order with the outbox relay subjects, body and headers', async () => {
    await appendSome(store, 30, 'before');
    const relay = await startRelay();
    expect((await streamInfo(nc, names.stream))?.config).toMatchObject({
      subjects: [`${names.subjectPrefix}.evt.>`],
      storage: StorageType.File,
      deny_delete: true,
      deny_purge: true,
    });
    await eventually(async () => (await streamCount(nc, names.stream)) === 30, 60_000);
    await appendSome(store, 20, 'live');
    await eventually(async () => (await streamCount(nc, names.stream)) === 50, 60_000);
    await eventually(() => relay.relayedPosition === 50, 30_000);
    const stored = await store.readAll();
    const msgs = await readStreamMessages(nc, names.stream);
    expect(msgs).toHaveLength(50);
    msgs.forEach((m, i) => {
      const e = stored[i];
      expect(m.subject).toBe(`${names.subjectPrefix}.evt.${e.campaignId}.${e.type}`);
      expect(m.headers).toMatchObject({
        'Nats-Msg-Id': e.id,
        'ce-specversion': '1.0',
        'ce-id': e.id,
        'ce-type': e.type,
        'ce-source': `/aevo/${e.source}`,
        'ce-subject': e.streamId,
        'ce-time': e.time,
        'content-type': 'application/json',
        'aevo-position': String(e.position),
        'aevo-stream-version': String(e.streamVersion),
      });
      expect(m.body).toEqual({ ...e });
    });
    await relay.stop();
  });

  it(
    'resumes from the last position in JetStream after a stop, and two ' +
      'relays at once still store each event once, in order',
    async () => {
      await appendSome(store, 15, 'while-down');
      const [a, b] = await Promise.all([startRelay(), startRelay()]);
      await appendSome(store, 15, 'after');
      await eventually(async () => (await streamCount(nc, names.stream)) === 80, 60_000);
      await eventually(() => a.relayedPosition === 80 && b.relayedPosition === 80, 60_000);
      const msgs = await readStreamMessages(nc, names.stream);
      expect(msgs.map((m) => Number(m.headers['aevo-position']))).toEqual(Array.from({ length: 80 }, (_, i) => i + 1));
      expect(new Set(msgs.map((m) => m.headers['Nats-Msg-Id'])).size).toBe(80);
      // The audit's comparison of the JetStream copy with the store's chain works unchanged on this store.
      const copy = await compareJetStreamCopy(store, { natsUrl: names.url, stream: names.stream, upTo: 80 });
      expect(copy).toMatchObject({ upTo: 80, messages: 80, findings: [] });
    },
  );

  it(
    "copies the append's trace context (traceparent, tracestate) " + 'from the event metadata onto the headers',
    async () => {
      const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
      const paused = (reason: string) =>
        createEvent(
          CampaignPaused,
          { reason },
          { campaignId: 'camp-t', streamId: 'campaign-camp-t', source: 'orchestrator' },
        );
      await store.append('campaign-camp-t', 'any', [paused('both')], {
        traceContext: { traceparent, tracestate: 'vendor=a' },
      });
      await store.append('campaign-camp-t', 'any', [paused('parent-only'), paused('parent-only-2')], {
        commandId: `cmd-${namespace}`,
        traceContext: { traceparent },
      });
      await store.append('campaign-camp-t', 'any', [paused('none')]);
      // The relays of the previous case are still running.
      await eventually(async () => (await streamCount(nc, names.stream)) === 84, 60_000);
      const msgs = (await readStreamMessages(nc, names.stream)).slice(80);
      const trace = (m: (typeof msgs)[number]) => [m.headers.traceparent ?? null, m.headers.tracestate ?? null];
      expect(msgs.map((m) => [(m.body.data as { reason: string }).reason, ...trace(m)])).toEqual([
        ['both', traceparent, 'vendor=a'],
        ['parent-only', traceparent, null],
        ['parent-only-2', traceparent, null],
        ['none', null, null],
      ]);
      // Observability only: the stored event and the message body carry no trace, and the chain (which hashes the
      // append's metadata, trace included, as PostgreSQL does) still verifies.
      expect(msgs.every((m) => !('traceparent' in m.body) && !('metadata' in m.body))).toBe(true);
      expect((await store.readAll({ campaignId: 'camp-t' })).every((e) => !('traceparent' in e))).toBe(true);
      expect((await store.verifyChain()).findings).toEqual([]);
    },
  );
});
