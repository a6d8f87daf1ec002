export * from './port';
export * from './validation';
export * from './polling-subscription';
export * from './handle-command';
export * from './contract-suite';
export * from './postgres/schema';
export * from './postgres/postgres-event-store';
export * from './relay/cloudevents';
export * from './relay/server-version';
export * from './relay/outbox-relay';
export * from './chain/chain';
export * from './chain/jetstream-copy';
export * from './relay/nats-credentials';
export * from './open-store';
// The adapter class itself is loaded on demand (openKurrentDbEventStore): the client takes ~0.8 s to load.
export type { KurrentDbEventStore, KurrentDbEventStoreOptions } from './kurrentdb/kurrentdb-event-store';
export * from './kurrentdb/mapping';
export * from './relay/all-stream-relay';
export * from './relay/jetstream-stream';
