import 'reflect-metadata';
import { Controller, Inject, Module, type DynamicModule } from '@nestjs/common';
import { EventPattern, Payload, Ctx } from '@nestjs/microservices';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import {
  CancelJob,
  createEvent,
  DomainError,
  MessageDeadLettered,
  RoundClosed,
  type CommandOf,
  type DataOf,
  type EventOf,
} from '@aevo/contracts';
import { OutboxRelay, PostgresEventStore, relayPayload, type StoredEvent } from '@aevo/eventstore';
import { createTestDb, createTestNatsNames, eventually, type TestDb, type TestNatsNames } from '@aevo/testkit';
import {
  CommandClient,
  createServiceApp,
  JetStreamEventContext,
  OnCommand,
  OnEvent,
  ServerFeatureError,
  type ServiceApp,
} from '../src';

jest.setTimeout(120_000);

/** What the handlers saw, shared with the test through DI. */
class Recorder {
  calls: Array<{ replica: string; id: string; round: number; delivery: number }> = [];
}
const RECORDER = 'RECORDER';
const REPLICA = 'REPLICA';
const POISON_ROUND = 13;
/** Rounds from here on fail like a handler whose PostgreSQL is restarting, this many times, then succeed. */
const OUTAGE_ROUND = 70;
const OUTAGE_FAILURES = 6;
const outageFailures = new Map<string, number>();

@Controller()
class RoundClosedHandlers {
  constructor(
    @Inject(RECORDER) private readonly rec: Recorder,
    @Inject(REPLICA) private readonly replica: string,
  ) {}

  @OnEvent(RoundClosed)
  async onRoundClosed(@Payload() e: EventOf<typeof RoundClosed>, @Ctx() ctx: JetStreamEventContext): Promise<void> {
    this.rec.calls.push({ replica: this.replica, id: e.id, round: e.data.round, delivery: ctx.getDeliveryCount() });
    if (e.data.round === POISON_ROUND) throw new Error(`round ${POISON_ROUND} is poison`);
    if (e.data.round >= OUTAGE_ROUND && e.data.round < OUTAGE_ROUND + 10) {
      const n = outageFailures.get(e.id) ?? 0;
      if (n < OUTAGE_FAILURES) {
        outageFailures.set(e.id, n + 1);
        // What node-postgres throws while the server is down (a dual-stack connect refused twice).
        const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
        throw new AggregateError([refused, refused], 'connect failed');
      }
    }
    if (e.data.policyRevision > 0) await new Promise((r) => setTimeout(r, e.data.policyRevision)); // slow handler
  }
}

@Controller()
class CancelJobHandler {
  @OnCommand(CancelJob)
  cancel(@Payload() cmd: CommandOf<typeof CancelJob>) {
    if (cmd.payload.reason === 'domain')
      throw new DomainError('JOB_NOT_FOUND', `no job ${cmd.payload.jobId}`, [
        { path: 'payload.jobId', message: 'unknown job' },
      ]);
    if (cmd.payload.reason === 'crash') throw new TypeError('handler bug');
    return { cancelled: cmd.payload.jobId };
  }
}

@Controller()
class UnknownEventHandler {
  @EventPattern('NoSuchEventHappened')
  on(@Payload() _e: unknown, @Ctx() _ctx: unknown) {
    return undefined;
  }
}

@Module({})
class TestModule {}
const moduleWith = (
  rec: Recorder,
  replica: string,
  controllers: Array<new (...args: never[]) => unknown>,
): DynamicModule => ({
  module: TestModule,
  controllers,
  providers: [
    { provide: RECORDER, useValue: rec },
    { provide: REPLICA, useValue: replica },
  ],
});

describe('JetStreamServer against nats-server and PostgreSQL', () => {
  let db: TestDb;
  let names: TestNatsNames;
  let store: PostgresEventStore;
  let relay: OutboxRelay;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  const apps: ServiceApp[] = [];
  let round = 100;

  const closed = (r: number, slowMs = 0, campaignId = 'c1') =>
    createEvent(
      RoundClosed,
      { round: r, policyRevision: slowMs, bestPublicLb: null },
      { campaignId, streamId: `campaign-${campaignId}`, source: 'orchestrator' },
    );

  async function startApp(
    service: 'worker' | 'dispatch' | 'collector',
    rec: Recorder,
    replica: string,
    controllers: Array<new (...args: never[]) => unknown>,
    server = {},
    listen = true,
  ) {
    const built = await createServiceApp(moduleWith(rec, replica, controllers), {
      service,
      natsUrl: names.url,
      subjectPrefix: names.subjectPrefix,
      stream: names.stream,
      store,
      server: { ackWaitMs: 10_000, maxDeliver: 3, nakDelayMs: 400, maxNakDelayMs: 800, ...server },
      logger: ['error'],
    });
    apps.push(built);
    if (listen) await built.app.listen();
    return built;
  }

  beforeAll(async () => {
    db = await createTestDb();
    names = createTestNatsNames();
    store = await PostgresEventStore.open({ connectionString: db.url, schema: db.schema });
    relay = await OutboxRelay.start({
      databaseUrl: db.url,
      schema: db.schema,
      natsUrl: names.url,
      subjectPrefix: names.subjectPrefix,
      stream: names.stream,
      pollIntervalMs: 200,
    });
    nc = await connect({ servers: names.url });
    jsm = await jetstreamManager(nc);
  });

  afterEach(async () => {
    while (apps.length > 0) await apps.pop()?.app.close();
  });

  afterAll(async () => {
    await relay?.stop();
    await store?.close();
    await jsm?.streams.delete(names.stream).catch(() => undefined);
    await nc?.close();
    await db?.drop();
  });

  it(
    'redelivers a failing message, dead-letters it after max_deliver with a MessageDeadLettered event, and keeps ' +
      'serving others',
    async () => {
      const rec = new Recorder();
      await startApp('worker', rec, 'a', [RoundClosedHandlers]);
      const poison = closed(POISON_ROUND);
      const good = Array.from({ length: 5 }, () => closed(++round));
      await store.append('campaign-c1', 'any', [poison]);
      await store.append('campaign-c1', 'any', good);

      const deadLetters = await eventually(async () => {
        const found = await store.readAll({ types: [MessageDeadLettered.type] });
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
        stream: names.stream,
        consumer: 'worker__RoundClosed',
        subject: `${names.subjectPrefix}.evt.c1.RoundClosed`,
        deliveries: 3,
        eventId: poison.id,
        eventType: 'RoundClosed',
      });
      expect(dl.data.error).toContain('poison');
      // Terminated: nothing of it is pending or awaiting an ack.
      await eventually(async () => {
        const info = await jsm.consumers.info(names.stream, 'worker__RoundClosed');
        return info.num_pending === 0 && info.num_ack_pending === 0;
      }, 30_000);
    },
  );

  it(
    'retries a handler whose database is unreachable in place, without spending deliveries or ' + 'dead-lettering',
    async () => {
      const rec = new Recorder();
      await startApp('worker', rec, 'a', [RoundClosedHandlers], { nakDelayMs: 100, maxOutageRetryDelayMs: 200 });
      const flaky = closed(OUTAGE_ROUND, 0, 'c-outage');
      const after = closed(OUTAGE_ROUND + 1, 0, 'c-outage');
      await store.append('campaign-c-outage', 'any', [flaky, after]);

      await eventually(() => rec.calls.filter((c) => c.id === after.id).length === OUTAGE_FAILURES + 1, 30_000);
      const calls = rec.calls.filter((c) => c.id === flaky.id);
      // More failures than maxDeliver (3), all within the first delivery: the outage did not count against it.
      expect(calls).toHaveLength(OUTAGE_FAILURES + 1);
      expect(new Set(calls.map((c) => c.delivery))).toEqual(new Set([1]));
      expect(
        await store
          .readAll({ types: [MessageDeadLettered.type] })
          .then((d) => d.filter((x) => x.campaignId === 'c-outage')),
      ).toEqual([]);
      await eventually(async () => {
        const info = await jsm.consumers.info(names.stream, 'worker__RoundClosed');
        return info.num_pending === 0 && info.num_ack_pending === 0;
      }, 30_000);
    },
  );

  it(
    'drops messages that are not stored events (garbage, forged, one byte changed, moved subject) with a warning and ' +
      'a counter, never a dead letter',
    async () => {
      const rec = new Recorder();
      const app = await startApp('worker', rec, 'a', [RoundClosedHandlers]);
      const before = (await store.readAll({ types: [MessageDeadLettered.type] })).length;
      const js = jetstream(nc);
      const subject = (campaignId: string) => `${names.subjectPrefix}.evt.${campaignId}.RoundClosed`;
      // A genuine event, stored and relayed: the template for the forgeries.
      const genuine = closed(++round, 0, 'c2');
      await store.append('campaign-c2', 'any', [genuine]);
      await eventually(() => rec.calls.some((c) => c.id === genuine.id), 30_000);
      const [stored] = await store
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
      await store.append('campaign-c2', 'any', [after]);

      await eventually(() => rec.calls.some((c) => c.id === after.id), 30_000);
      await eventually(() => (app.server.storedEventCounters()?.dropped ?? 0) >= 5, 30_000);
      expect(app.server.storedEventCounters()).toMatchObject({ dropped: 5 });
      expect(rec.calls.filter((c) => c.id === genuine.id)).toHaveLength(1);
      expect(rec.calls.some((c) => c.id === forged.id || c.round >= 900)).toBe(false);
      await eventually(async () => {
        const info = await jsm.consumers.info(names.stream, 'worker__RoundClosed');
        return info.num_pending === 0 && info.num_ack_pending === 0;
      }, 30_000);
      expect((await store.readAll({ types: [MessageDeadLettered.type] })).length).toBe(before);
    },
  );

  it('lets N replicas share one durable consumer, each message handled once', async () => {
    const rec = new Recorder();
    for (const r of ['a', 'b', 'c']) await startApp('dispatch', rec, r, [RoundClosedHandlers]);
    const events = Array.from({ length: 30 }, () => closed(++round, 40, 'c3'));
    for (const e of events) await store.append('campaign-c3', 'any', [e]);

    await eventually(() => events.every((e) => rec.calls.some((c) => c.id === e.id)), 60_000);
    await eventually(async () => {
      const info = await jsm.consumers.info(names.stream, 'dispatch__RoundClosed');
      return info.num_pending === 0 && info.num_ack_pending === 0;
    }, 30_000);
    const mine = rec.calls.filter((c) => events.some((e) => e.id === c.id));
    expect(mine).toHaveLength(30);
    expect(new Set(mine.map((c) => c.id)).size).toBe(30);
    expect(new Set(mine.map((c) => c.replica)).size).toBeGreaterThan(1);
    const consumers: string[] = [];
    for await (const c of jsm.consumers.list(names.stream)) consumers.push(c.name);
    expect(consumers.filter((n) => n.startsWith('dispatch__'))).toEqual(['dispatch__RoundClosed']);
  });

  it('keeps a handler that runs longer than ack_wait from being redelivered (automatic working())', async () => {
    const rec = new Recorder();
    await startApp('collector', rec, 'a', [RoundClosedHandlers], { ackWaitMs: 1500 });
    const slow = closed(++round, 4000, 'c4');
    await store.append('campaign-c4', 'any', [slow]);
    await eventually(async () => {
      const info = await jsm.consumers.info(names.stream, 'collector__RoundClosed');
      return rec.calls.some((c) => c.id === slow.id) && info.num_ack_pending === 0 && info.num_pending === 0;
    }, 60_000);
    expect(rec.calls.filter((c) => c.id === slow.id).map((c) => c.delivery)).toEqual([1]);
    expect((await jsm.consumers.info(names.stream, 'collector__RoundClosed')).num_redelivered).toBe(0);
  });

  it('answers commands in the queue group with structured errors and stays up', async () => {
    const rec = new Recorder();
    const first = await startApp('dispatch', rec, 'a', [CancelJobHandler]);
    await startApp('dispatch', rec, 'b', [CancelJobHandler]);
    const statuses: string[] = [];
    first.server.status.subscribe((s) => statuses.push(String(s)));
    expect(statuses).toEqual(['connected']);
    const client = await CommandClient.connect({ natsUrl: names.url, subjectPrefix: names.subjectPrefix });
    try {
      const ok = await client.send(
        CancelJob,
        { campaignId: 'c1', jobId: 'j1', reason: 'no longer needed' },
        { commandId: 'cmd-test-0001' },
      );
      expect(ok).toEqual({ ok: true, commandId: 'cmd-test-0001', duplicate: false, result: { cancelled: 'j1' } });

      const bad = await client.send(
        CancelJob,
        { campaignId: 'a b', jobId: 7, extra: true },
        { commandId: 'cmd-test-0002' },
      );
      expect(bad.ok).toBe(false);
      if (!bad.ok) {
        expect(bad.commandId).toBe('cmd-test-0002');
        expect(bad.error.code).toBe('INVALID_COMMAND');
        expect(bad.error.issues.map((i) => i.path).sort()).toEqual([
          'payload',
          'payload.campaignId',
          'payload.jobId',
          'payload.reason',
        ]);
      }

      const notJson = await client.sendRaw('CancelJob', '{{{');
      expect(!notJson.ok && notJson.error.code).toBe('INVALID_JSON');

      const domain = await client.send(CancelJob, { campaignId: 'c1', jobId: 'j9', reason: 'domain' });
      expect(!domain.ok && domain.error).toEqual({
        code: 'JOB_NOT_FOUND',
        message: 'no job j9',
        issues: [{ path: 'payload.jobId', message: 'unknown job' }],
      });

      const crash = await client.send(CancelJob, { campaignId: 'c1', jobId: 'j9', reason: 'crash' });
      expect(!crash.ok && crash.error).toEqual({ code: 'INTERNAL', message: 'handler bug', issues: [] });

      const again = await client.send(CancelJob, { campaignId: 'c1', jobId: 'j2', reason: 'still up' });
      expect(again.ok).toBe(true);

      const nobody = await client.send('StartRound', { campaignId: 'c1', round: 1 }, { timeoutMs: 5000 });
      expect(!nobody.ok && nobody.error.code).toBe('NO_RESPONDERS');
    } finally {
      await client.close();
    }
  });

  it(
    'refuses to start on a server lacking a required feature, ' + 'or with handlers the contracts do not know',
    async () => {
      const rec = new Recorder();
      const built = await startApp(
        'worker',
        rec,
        'a',
        [RoundClosedHandlers],
        { requiredFeatures: ['filter_subjects'] },
        false,
      );
      const refused = await built.app.listen().catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(ServerFeatureError);
      expect(String((refused as Error).message)).toMatch(
        /nats-server 2\.9\.\d+ cannot run this service: filter_subjects needs nats-server >= 2\.10\.0/,
      );

      const unknown = await startApp('worker', rec, 'a', [UnknownEventHandler], {}, false);
      await expect(unknown.app.listen()).rejects.toThrow(/NoSuchEventHappened.*not an event type/);

      const wrongOwner = await startApp('worker', rec, 'a', [CancelJobHandler], {}, false);
      await expect(wrongOwner.app.listen()).rejects.toThrow(/command CancelJob belongs to dispatch, not worker/);
    },
  );
});
