import type { EventStore, OutboxRelay } from '@aevo/eventstore';
import type { JetStreamServer } from '../jetstream.server';
import type { ServiceMetrics } from './metrics';
import type { ReadinessCheck } from './health-server';

/**
 * What /readyz checks: the store answers (a cheap head read), NATS is connected, every consumer is bound and
 * read, and the schema is migrated — which holds once the store is open, as opening it applies the migrations.
 */
export function serviceReadiness(server: JetStreamServer, store: EventStore): Record<string, ReadinessCheck> {
  return {
    store: async () => {
      await store.headPosition();
    },
    nats: async () => server.readiness().nats,
    consumers: async () => server.readiness().consumers,
    migrations: async () => null,
  };
}

/** Gauges sampled at scrape time from what the server and the relay already know. */
export function registerServiceGauges(
  metrics: ServiceMetrics,
  server: JetStreamServer,
  store: EventStore,
  relay: OutboxRelay | null,
): void {
  // One request per consumer per scrape; both gauges of a scrape share it.
  let lag: { at: number; value: ReturnType<JetStreamServer['consumerLag']> } | null = null;
  const sampleLag = () => {
    if (!lag || Date.now() - lag.at > 1000) lag = { at: Date.now(), value: server.consumerLag() };
    return lag.value;
  };
  metrics.sampledGauge(
    'aevo_consumer_pending_messages',
    'Messages of the durable consumer not yet delivered (num_pending): the backlog KEDA scales on',
    ['consumer', 'type'],
    async () => (await sampleLag()).map((c) => ({ labels: { consumer: c.consumer, type: c.type }, value: c.pending })),
  );
  metrics.sampledGauge(
    'aevo_consumer_ack_pending_messages',
    'Messages delivered and not yet acknowledged (num_ack_pending)',
    ['consumer', 'type'],
    async () =>
      (await sampleLag()).map((c) => ({ labels: { consumer: c.consumer, type: c.type }, value: c.ackPending })),
  );
  if (relay) {
    metrics.sampledGauge(
      'aevo_relay_leader',
      '1 while this replica leads the outbox relay, 0 while it stands by',
      [],
      () => [{ value: relay.role === 'leader' ? 1 : 0 }],
    );
    metrics.sampledGauge(
      'aevo_relay_lag_events',
      'Store head position minus the last position published to JetStream (leader only)',
      [],
      async () =>
        relay.role === 'leader' ? [{ value: Math.max(0, (await store.headPosition()) - relay.relayedPosition) }] : [],
    );
    metrics.sampledGauge(
      'aevo_relay_published_position',
      'Last store position the relay has acks for (leader only)',
      [],
      () => (relay.role === 'leader' ? [{ value: relay.relayedPosition }] : []),
    );
  }
}
