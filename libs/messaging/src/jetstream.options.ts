import type { EventDomainConfig } from './domains';
import type { MessageHandler } from '@nestjs/microservices';
import type { ConsumerMessages } from '@nats-io/jetstream';
import type { NatsAuthOptions } from '@aevo/eventstore';
import type { ServiceName } from '@aevo/contracts';
import type { ServerFeature } from './server-features';
import type { ConsumerSpec } from './provisioning';
import type { ConsumerRef } from './contexts';
import type { DeadLetterSink } from './dead-letter';
import type { StoredEventLookup } from './stored-event-proof';
import type { TransportObserver } from './observability/metrics';
import type { ServiceTracing } from './observability/tracing';

export interface JetStreamServerOptions {
  /** Names the queue group and the durable consumers: every replica of a service passes the same name. */
  service: ServiceName;
  natsUrl: string;
  subjectPrefix: string;
  stream: string;
  /** A compute cluster's JetStream domain (resolveEventDomain): its consumers read a stream sourcing the hub's. */
  eventDomain?: EventDomainConfig;
  /**
   * Where dead letters are recorded (normally `eventStoreDeadLetterSink(store, service)`). Without it they are only
   * logged.
   */
  deadLetter?: DeadLetterSink;
  /**
   * The server redelivers an unacked message after this long (default 30 s); handlers get `working()` every third of
   * it.
   */
  ackWaitMs?: number;
  /** Deliveries (first + retries) before a failing message is dead-lettered (default 5). */
  maxDeliver?: number;
  /**
   * First redelivery delay after a handler error, doubled per delivery (default 1 s) up to `maxNakDelayMs` (default 60
   * s).
   */
  nakDelayMs?: number;
  /**
   * While PostgreSQL or nats-server is unreachable a handler is retried in place, without spending a delivery,
   * backing off from `nakDelayMs` up to this (default 5 s) so that it resumes soon after the dependency is back.
   */
  maxOutageRetryDelayMs?: number;
  maxNakDelayMs?: number;
  /** Where a newly provisioned consumer starts: the whole stream (default) or only new events. */
  deliverPolicy?: 'all' | 'new';
  /** Features beyond JetStream on >= 2.9 that the service needs; start-up fails when the server lacks one. */
  requiredFeatures?: ServerFeature[];
  /** Commands handled at once by this replica (default 64). */
  commandConcurrency?: number;
  /** How long close() waits for running handlers (default 30 s). */
  shutdownGraceMs?: number;
  /**
   * How a consumer proves a message is the stored event before acting on it (normally the store's
   * `lookupStoredEvents`). `null` turns the proof off and must be said explicitly: then any well-formed message
   * on the event subjects is acted on, as a forger's would be.
   */
  storedEvents: StoredEventLookup | null;
  /** This service's NATS user (natsAuthFor); empty for a server without authorization. */
  natsAuth?: NatsAuthOptions;
  /** Told about every event, dead letter and command (metrics); none: nothing is measured. */
  observer?: TransportObserver;
  /** Runs each handler in a span continuing the message's trace context (traceparent header); none: no tracing. */
  tracing?: ServiceTracing;
}

/** A durable consumer's backlog as the server counts it. */
export interface ConsumerLag {
  consumer: string;
  type: string;
  /** Messages matching the filter not yet delivered (num_pending). */
  pending: number;
  /** Delivered, not yet acknowledged (num_ack_pending). */
  ackPending: number;
  /** Delivered more than once and still unacknowledged (num_redelivered). */
  redelivered: number;
}

/** Extra deliveries the server allows beyond `maxDeliver`, used only to retry recording a dead letter. */
export const DEAD_LETTER_RETRY_MARGIN = 5;

/** The options with their defaults filled in (the optional collaborators stay optional). */
export type ResolvedServerOptions = Required<
  Omit<JetStreamServerOptions, 'deadLetter' | 'storedEvents' | 'natsAuth' | 'observer' | 'tracing' | 'eventDomain'>
> & {
  eventDomain?: EventDomainConfig;
  deadLetter?: DeadLetterSink;
  natsAuth?: NatsAuthOptions;
  observer?: TransportObserver;
  tracing?: ServiceTracing;
};

/** One durable consumer this replica reads, with its handler and how it was provisioned. */
export interface EventConsumer extends ConsumerRef {
  type: string;
  handler: MessageHandler;
  concurrency: number;
  messages?: ConsumerMessages;
  loop?: Promise<void>;
  /** The consume loop ended (stopped, or the iterator failed): this replica no longer reads the consumer. */
  ended?: boolean;
  /** How the durable was provisioned: re-provisioned from this when it disappears (deleted, server state lost). */
  spec: ConsumerSpec;
  /** Times the consumer was re-established after its iterator ended. */
  reestablished: number;
}
