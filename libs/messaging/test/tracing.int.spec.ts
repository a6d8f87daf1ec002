import 'reflect-metadata';
import { Controller, Inject, Module, type DynamicModule } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import {
  CampaignPaused,
  createEvent,
  eventDefinition,
  LeaderboardUnavailable,
  RoundCollectionClaimed,
  SandboxCollected,
  WorkerFailed,
  type EventEnvelope,
  type ServiceName,
} from '@aevo/contracts';
import { OutboxRelay, PostgresEventStore, type EventStore } from '@aevo/eventstore';
import { createTestDb, createTestNatsNames, eventually, type TestDb, type TestNatsNames } from '@aevo/testkit';
import {
  createServiceApp,
  EVENT_STORE,
  OnEvent,
  ServiceTracing,
  SpanKind,
  tracedStore,
  type ServiceApp,
  type TracedAppendOptions,
} from '../src';

jest.setTimeout(120_000);

/**
 * One hop of a round's chain: the service that handles `on` and the event it appends in reaction (the next hop's
 * input), with the handled event as causation and the round's root as correlation, as the real services do.
 */
interface Hop {
  service: ServiceName;
  on: string;
  emits: { type: string; data: unknown } | null;
}
const CAMPAIGN = 'c-trace';
const HOPS: Hop[] = [
  {
    service: 'worker',
    on: CampaignPaused.type,
    emits: { type: WorkerFailed.type, data: { candidateId: 'cand-1', round: 1, reason: 'loss diverged', step: 120 } },
  },
  {
    service: 'substrate',
    on: WorkerFailed.type,
    emits: {
      type: SandboxCollected.type,
      data: { candidateId: 'cand-1', sandboxPath: '/sandboxes/cand-1', bytesFreed: 4096 },
    },
  },
  {
    service: 'collector',
    on: SandboxCollected.type,
    emits: { type: RoundCollectionClaimed.type, data: { round: 1, claimedBy: 'collector-0', expiresAfterSeconds: 60 } },
  },
  {
    service: 'leaderboard',
    on: RoundCollectionClaimed.type,
    emits: { type: LeaderboardUnavailable.type, data: { board: 'local', reason: 'hidden split missing' } },
  },
  { service: 'meta-policy', on: LeaderboardUnavailable.type, emits: null },
];

const HOP = 'HOP';
const handled: string[] = [];

/** A controller handling one event type; `@OnEvent` needs the definition at class creation, so one class per hop. */
function hopController(hop: Hop) {
  @Controller()
  class HopHandler {
    constructor(
      @Inject(EVENT_STORE) private readonly store: EventStore,
      @Inject(HOP) private readonly h: Hop,
    ) {}

    @OnEvent(eventDefinition(hop.on) as NonNullable<ReturnType<typeof eventDefinition>>)
    async on(@Payload() e: EventEnvelope): Promise<void> {
      handled.push(`${this.h.service}:${e.id}`);
      if (!this.h.emits) return;
      const def = eventDefinition(this.h.emits.type);
      if (!def) throw new Error(`unknown ${this.h.emits.type}`);
      const next = createEvent(def, this.h.emits.data as never, {
        campaignId: e.campaignId,
        streamId: `trace-${this.h.service}`,
        source: this.h.service,
        causationId: e.id,
        correlationId: e.correlationId ?? e.id,
      });
      // The injected store: while tracing, it records the handler span's context with the append.
      await this.store.append(`trace-${this.h.service}`, 'any', [next]);
    }
  }
  return HopHandler;
}

@Module({})
class HopModule {}
const hopModule = (hop: Hop): DynamicModule => ({
  module: HopModule,
  controllers: [hopController(hop)],
  providers: [{ provide: HOP, useValue: hop }],
});

const attr = (s: ReadableSpan, key: string) => s.attributes[key];
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;

describe('one round is one trace across services (W3C trace context in append metadata and NATS headers)', () => {
  let db: TestDb;
  let names: TestNatsNames;
  let store: PostgresEventStore;
  let relay: OutboxRelay;
  const apps: ServiceApp[] = [];
  const exporter = new InMemorySpanExporter();

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
  });

  afterAll(async () => {
    while (apps.length > 0) await apps.pop()?.app.close();
    await relay?.stop();
    await store?.close();
    const nc = await connect({ servers: names.url });
    await (await jetstreamManager(nc)).streams.delete(names.stream).catch(() => undefined);
    await nc.close();
    await db?.drop();
  });

  it(
    'puts every handler of the chain under the trace of the append that started it, each a child of the span that ' +
      'appended its event',
    async () => {
      for (const hop of HOPS) {
        const app = await createServiceApp(hopModule(hop), {
          service: hop.service,
          natsUrl: names.url,
          subjectPrefix: names.subjectPrefix,
          stream: names.stream,
          store,
          traceExporter: exporter,
          logger: ['error'],
        });
        apps.push(app);
        expect(app.observability.tracing).not.toBeNull();
        await app.app.listen();
      }

      // The round starts in the orchestrator: a span of its own, and the append made inside it.
      const orchestrator = ServiceTracing.create('orchestrator', { exporter }) as ServiceTracing;
      const paused = createEvent(
        CampaignPaused,
        { reason: 'operator asked' },
        { campaignId: CAMPAIGN, streamId: `campaign-${CAMPAIGN}`, source: 'orchestrator' },
      );
      const root = await orchestrator.inSpan(
        'start round',
        SpanKind.INTERNAL,
        ServiceTracing.extract(undefined),
        {},
        async (span) => {
          // The first event has no causation: its context is given explicitly.
          const traceContext = { traceparent: `00-${span.spanContext().traceId}-${span.spanContext().spanId}-01` };
          await tracedStore(store, orchestrator).append(`campaign-${CAMPAIGN}`, 'any', [paused], {
            traceContext,
          } as TracedAppendOptions);
          return span.spanContext();
        },
      );

      await eventually(() => handled.some((h) => h.startsWith('meta-policy:')), 60_000);
      const spans = await eventually(() => {
        const done = exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.CONSUMER);
        return done.length >= HOPS.length ? done : null;
      }, 30_000);

      // One trace, from the orchestrator's span to meta-policy, spanning six services.
      expect(new Set(spans.map((s) => s.spanContext().traceId))).toEqual(new Set([root.traceId]));
      expect(spans.map((s) => s.resource.attributes['service.name']).sort()).toEqual(HOPS.map((h) => h.service).sort());
      const services = new Set([...spans.map((s) => s.resource.attributes['service.name']), 'orchestrator']);
      expect(services.size).toBe(6);

      // Each handler span's parent is the span that appended the event it handled, and that span handled the event's
      // causation: the trace tree is the causation chain.
      const events = await store.readAll({ campaignId: CAMPAIGN });
      const byId = new Map(events.map((e) => [e.id, e]));
      const spanBySpanId = new Map(exporter.getFinishedSpans().map((s) => [s.spanContext().spanId, s]));
      for (const span of spans) {
        const event = byId.get(String(attr(span, 'messaging.message.id')));
        expect(event).toBeDefined();
        expect(attr(span, 'aevo.event.type')).toBe(event?.type);
        const parent = spanBySpanId.get(String(parentOf(span)));
        expect(parent).toBeDefined();
        if (event?.causationId === null) {
          expect(event.id).toBe(paused.id);
          expect(parent?.spanContext().spanId).toBe(root.spanId);
        } else {
          expect(attr(parent as ReadableSpan, 'messaging.message.id')).toBe(event?.causationId);
          expect(attr(span, 'aevo.causation_id')).toBe(event?.causationId);
        }
      }
      // The chain is complete: five handlers, one per hop, in causation order.
      expect(spans.map((s) => attr(s, 'aevo.event.type')).sort()).toEqual(HOPS.map((h) => h.on).sort());
      await orchestrator.shutdown();
    },
  );

  it('without an exporter or an OTLP endpoint there is no tracer, and appends carry no trace context', async () => {
    expect(ServiceTracing.create('worker', { env: {} })).toBeNull();
    expect(
      ServiceTracing.create('worker', {
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' },
      }),
    ).toBeNull();
    expect(() => ServiceTracing.create('worker', { env: { AEVO_OTLP_ENDPOINT: 'collector:4318' } })).toThrow(
      /AEVO_OTLP_ENDPOINT "collector:4318": expected/,
    );
    const app = await createServiceApp(hopModule(HOPS[4]), {
      service: 'meta-policy',
      natsUrl: names.url,
      subjectPrefix: names.subjectPrefix,
      stream: names.stream,
      store,
      env: {},
      logger: ['error'],
    });
    apps.push(app);
    expect(app.observability.tracing).toBeNull();
    expect(app.app.get(EVENT_STORE)).toBe(store);
  });
});
