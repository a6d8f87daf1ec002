import { jetstream } from '@nats-io/jetstream';
import { MessageDeadLettered, RoundClosed, type DataOf } from '@aevo/contracts';
import { relayPayload, type StoredEvent } from '@aevo/eventstore';
import { eventually } from '@aevo/testkit';
import {
  closed,
  OUTAGE_FAILURES,
  OUTAGE_ROUND,
  POISON_ROUND,
  Recorder,
  RoundClosedHandlers,
  useJetStreamServerFixture,
} from './jetstream-server-fixture';

jest.setTimeout(120_000);

describe('JetStreamServer consuming events, against nats-server and PostgreSQL', () => {
  const fx = useJetStreamServerFixture();
  let round = 100;

  it(
    'redelivers a failing message, dead-letters it after max_deliver with a MessageDeadLettered event, and keeps ' +
      'serving others',
    async () => {
      const rec = new Recorder();
      await fx.startApp('worker', rec, 'a', [RoundClosedHandlers]);
      const poison = closed(POISON_ROUND);
      const good = Array.from({ length: 5 }, () => closed(++round));
      await fx.store.append('campaign-c1', 'any', [poison]);
      await fx.store.append('campaign-c1', 'any', good);

      const deadLetters = await eventually(async () => {
        const found = await fx.store.readAll({ types: [MessageDeadLettered.type] });
        return found.length > 0 ? found : null;
      }, 60_000);
      await eventually(() => good.every((g) => rec.calls.some((c) => c.id === g.id)), 30_000);

      const poisonCalls = rec.calls.filter((c) => c.id === poison.id);
      expect(poisonCalls.map((c) => c.delivery)).toEqual([1, 2, 3]);
      // Good messages were handled between the poison's first and last attempt: the consumer was not blocked.
      const firstGood = rec.calls.findIndex((c) => c.round !== POISON_ROUND);
      const lastPoison = rec.calls.map((c) => c.id).lastIndexOf(poison.id);
      expect(firstGood).toBeLessThan(lastPoison);
      for (const g of good) expect(rec.calls.filter((c) => c.id === g.id)).toHaveLength(1);

      expect(deadLetters).toHaveLength(1);
      const dl = deadLetters[0] as StoredEvent & { data: DataOf<typeof MessageDeadLettered> };
      expect(dl).toMatchObject({
        campaignId: 'c1',
        streamId: 'deadletter-c1',
        source: 'worker',
        causationId: poison.id,
      });
      expect(dl.data).toMatchObject({
        stream: fx.names.stream,
        consumer: 'worker__RoundClosed',
        subject: `${fx.names.subjectPrefix}.evt.c1.RoundClosed`,
        deliveries: 3,
        eventId: poison.id,
        eventType: 'RoundClosed',
      });
      expect(dl.data.error).toContain('poison');
      // Terminated: nothing of it is pending or awaiting an ack.
      await eventually(async () => {
        const info = await fx.jsm.consumers.info(fx.names.stream, 'worker__RoundClosed');
        return info.num_pending === 0 && info.num_ack_pending === 0;
      }, 30_000);
    },
  );

  it(
    'retries a handler whose database is unreachable in place, without spending deliveries or ' + 'dead-lettering',
    async () => {
      const rec = new Recorder();
      await fx.startApp('worker', rec, 'a', [RoundClosedHandlers], { nakDelayMs: 100, maxOutageRetryDelayMs: 200 });
      const flaky = closed(OUTAGE_ROUND, 0, 'c-outage');
      const after = closed(OUTAGE_ROUND + 1, 0, 'c-outage');
      await fx.store.append('campaign-c-outage', 'any', [flaky, after]);

      await eventually(() => rec.calls.filter((c) => c.id === after.id).length === OUTAGE_FAILURES + 1, 30_000);
      const calls = rec.calls.filter((c) => c.id === flaky.id);
      // More failures than maxDeliver (3), all within the first delivery: the outage did not count against it.
      expect(calls).toHaveLength(OUTAGE_FAILURES + 1);
      expect(new Set(calls.map((c) => c.delivery))).toEqual(new Set([1]));
      expect(
        await fx.store
          .readAll({ types: [MessageDeadLettered.type] })
          .then((d) => d.filter((x) => x.campaignId === 'c-outage')),
      ).toEqual([]);
      await eventually(async () => {
        const info = await fx.jsm.consumers.info(fx.names.stream, 'worker__RoundClosed');
        return info.num_pending === 0 && info.num_ack_pending === 0;
      }, 30_000);
    },
  );

  it(
    'drops messages that are not stored events (garbage, forged, one byte changed, moved subject) with a warning and ' +
      'a counter, never a dead letter',
    async () => {
      const rec = new Recorder();
      const app = await fx.startApp('worker', rec, 'a', [RoundClosedHandlers]);
      const before = (await fx.store.readAll({ types: [MessageDeadLettered.type] })).length;
      const js = jetstream(fx.nc);
      const subject = (campaignId: string) => `${fx.names.subjectPrefix}.evt.${campaignId}.RoundClosed`;
      // A genuine event, stored and relayed: the template for the forgeries.
      const genuine = closed(++round, 0, 'c2');
      await fx.store.append('campaign-c2', 'any', [genuine]);
      await eventually(() => rec.calls.some((c) => c.id === genuine.id), 30_000);
      const [stored] = await fx.store
        .readAll({ types: [RoundClosed.type] })
        .then((all) => all.filter((e) => e.id === genuine.id));
      const body = relayPayload(stored);

      await js.publish(subject('c2'), 'this is not JSON');
      // Well-formed, never stored (a forger's RoundClosed; the store has no such id).
      const forged = closed(++round, 0, 'c2');
      await js.publish(
        subject('c2'),
        relayPayload({ ...forged, position: stored.position + 1000, streamVersion: 99 } as StoredEvent),
      );
      // The stored event with one byte of its data changed (round 1xx → 9xx), the same id, position and version.
      const storedRound = (stored.data as DataOf<typeof RoundClosed>).round;
      const altered = body.replace(`"round":${storedRound}`, `"round":9${String(storedRound).slice(1)}`);
      expect(altered).not.toBe(body);
      await js.publish(subject('c2'), altered);
      // The stored event, byte for byte, on another campaign's subject; and with its position moved.
      await js.publish(subject('c9'), body);
      await js.publish(
        subject('c2'),
        body.replace(`"position":${stored.position}`, `"position":${stored.position + 1}`),
      );
      // And then real work still flows.
      const after = closed(++round, 0, 'c2');
      await fx.store.append('campaign-c2', 'any', [after]);

      await eventually(() => rec.calls.some((c) => c.id === after.id), 30_000);
      await eventually(() => (app.server.storedEventCounters()?.dropped ?? 0) >= 5, 30_000);
      expect(app.server.storedEventCounters()).toMatchObject({ dropped: 5 });
      expect(rec.calls.filter((c) => c.id === genuine.id)).toHaveLength(1);
      expect(rec.calls.some((c) => c.id === forged.id || c.round >= 900)).toBe(false);
      await eventually(async () => {
        const info = await fx.jsm.consumers.info(fx.names.stream, 'worker__RoundClosed');
        return info.num_pending === 0 && info.num_ack_pending === 0;
      }, 30_000);
      expect((await fx.store.readAll({ types: [MessageDeadLettered.type] })).length).toBe(before);
    },
  );

  it('lets N replicas share one durable consumer, each message handled once', async () => {
    const rec = new Recorder();
    for (const r of ['a', 'b', 'c']) await fx.startApp('dispatch', rec, r, [RoundClosedHandlers]);
    const events = Array.from({ length: 30 }, () => closed(++round, 40, 'c3'));
    for (const e of events) await fx.store.append('campaign-c3', 'any', [e]);

    await eventually(() => events.every((e) => rec.calls.some((c) => c.id === e.id)), 60_000);
    await eventually(async () => {
      const info = await fx.jsm.consumers.info(fx.names.stream, 'dispatch__RoundClosed');
      return info.num_pending === 0 && info.num_ack_pending === 0;
    }, 30_000);
    const mine = rec.calls.filter((c) => events.some((e) => e.id === c.id));
    expect(mine).toHaveLength(30);
    expect(new Set(mine.map((c) => c.id)).size).toBe(30);
    expect(new Set(mine.map((c) => c.replica)).size).toBeGreaterThan(1);
    const consumers: string[] = [];
    for await (const c of fx.jsm.consumers.list(fx.names.stream)) consumers.push(c.name);
    expect(consumers.filter((n) => n.startsWith('dispatch__'))).toEqual(['dispatch__RoundClosed']);
  });

  it('keeps a handler that runs longer than ack_wait from being redelivered (automatic working())', async () => {
    const rec = new Recorder();
    await fx.startApp('collector', rec, 'a', [RoundClosedHandlers], { ackWaitMs: 1500 });
    const slow = closed(++round, 4000, 'c4');
    await fx.store.append('campaign-c4', 'any', [slow]);
    await eventually(async () => {
      const info = await fx.jsm.consumers.info(fx.names.stream, 'collector__RoundClosed');
      return rec.calls.some((c) => c.id === slow.id) && info.num_ack_pending === 0 && info.num_pending === 0;
    }, 60_000);
    expect(rec.calls.filter((c) => c.id === slow.id).map((c) => c.delivery)).toEqual([1]);
    expect((await fx.jsm.consumers.info(fx.names.stream, 'collector__RoundClosed')).num_redelivered).toBe(0);
  });
});
