import 'reflect-metadata';
import { Controller, Inject, Module, type DynamicModule } from '@nestjs/common';
import { Payload, Ctx } from '@nestjs/microservices';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { createEvent, RoundClosed, type EventOf } from '@aevo/contracts';
import { OutboxRelay, PostgresEventStore } from '@aevo/eventstore';
import { createTestDb, createTestNatsNames, type TestDb, type TestNatsNames } from '@aevo/testkit';
import { createServiceApp, JetStreamEventContext, OnEvent, type ServiceApp } from '../src';

/** Shared setup of the JetStreamServer specs: a test schema with its outbox relay, a test stream, service apps. */

/** What the handlers saw, shared with the test through DI. */
export class Recorder {
  calls: Array<{ replica: string; id: string; round: number; delivery: number }> = [];
}
const RECORDER = 'RECORDER';
const REPLICA = 'REPLICA';
export const POISON_ROUND = 13;
/** Rounds from here on fail like a handler whose PostgreSQL is restarting, this many times, then succeed. */
export const OUTAGE_ROUND = 70;
export const OUTAGE_FAILURES = 6;
const outageFailures = new Map<string, number>();

@Controller()
export class RoundClosedHandlers {
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

/** A RoundClosed of campaign `campaignId`; a handler of RoundClosedHandlers sleeps `slowMs` on it. */
export const closed = (r: number, slowMs = 0, campaignId = 'c1') =>
  createEvent(
    RoundClosed,
    { round: r, policyRevision: slowMs, bestPublicLb: null },
    { campaignId, streamId: `campaign-${campaignId}`, source: 'orchestrator' },
  );

export interface JetStreamServerFixture {
  db: TestDb;
  names: TestNatsNames;
  store: PostgresEventStore;
  relay: OutboxRelay;
  nc: NatsConnection;
  jsm: JetStreamManager;
  /** Builds a service app on the fixture's stream (listening unless `listen` is false); closed after each test. */
  startApp(
    service: 'worker' | 'dispatch' | 'collector',
    rec: Recorder,
    replica: string,
    controllers: Array<new (...args: never[]) => unknown>,
    server?: object,
    listen?: boolean,
  ): Promise<ServiceApp>;
}

/**
 * Registers the suite's hooks (call inside `describe`): its own PostgreSQL schema, outbox relay and JetStream stream,
 * apps closed after each test, everything dropped after all. The returned fields are set once `beforeAll` has run.
 */
export function useJetStreamServerFixture(): JetStreamServerFixture {
  const apps: ServiceApp[] = [];
  const fx = {
    async startApp(service, rec, replica, controllers, server = {}, listen = true) {
      const built = await createServiceApp(moduleWith(rec, replica, controllers), {
        service,
        natsUrl: fx.names.url,
        subjectPrefix: fx.names.subjectPrefix,
        stream: fx.names.stream,
        store: fx.store,
        server: { ackWaitMs: 10_000, maxDeliver: 3, nakDelayMs: 400, maxNakDelayMs: 800, ...server },
        logger: ['error'],
      });
      apps.push(built);
      if (listen) await built.app.listen();
      return built;
    },
  } as JetStreamServerFixture;

  beforeAll(async () => {
    fx.db = await createTestDb();
    fx.names = createTestNatsNames();
    fx.store = await PostgresEventStore.open({ connectionString: fx.db.url, schema: fx.db.schema });
    fx.relay = await OutboxRelay.start({
      databaseUrl: fx.db.url,
      schema: fx.db.schema,
      natsUrl: fx.names.url,
      subjectPrefix: fx.names.subjectPrefix,
      stream: fx.names.stream,
      pollIntervalMs: 200,
    });
    fx.nc = await connect({ servers: fx.names.url });
    fx.jsm = await jetstreamManager(fx.nc);
  });

  afterEach(async () => {
    while (apps.length > 0) await apps.pop()?.app.close();
  });

  afterAll(async () => {
    await fx.relay?.stop();
    await fx.store?.close();
    await fx.jsm?.streams.delete(fx.names.stream).catch(() => undefined);
    await fx.nc?.close();
    await fx.db?.drop();
  });

  return fx;
}
