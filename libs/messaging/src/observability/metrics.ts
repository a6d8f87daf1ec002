import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * What the transport reports as it works. Optional on JetStreamServer: without one (metrics off) nothing is
 * measured and nothing is allocated per message.
 */
export interface TransportObserver {
  /** A message of `type` arrived for the `delivery`-th time (> 1: a redelivery). */
  eventReceived(type: string, delivery: number): void;
  /** The handler finished without error after `seconds`. */
  eventHandled(type: string, seconds: number): void;
  /** The handler threw (not an outage of a dependency); the message is retried or dead-lettered. */
  eventFailed(type: string, seconds: number): void;
  /** A message was recorded as a dead letter (`type` "unknown" when it could not even be decoded). */
  deadLettered(type: string): void;
  /** A message was dropped because it is not a stored event. */
  notStored(type: string): void;
  /** A command was answered: `result` is "ok" or the error code of the reply. */
  commandAnswered(name: string, result: string, seconds: number): void;
}

/** One sample of a gauge read at scrape time. */
export interface GaugeSample {
  labels?: Record<string, string>;
  value: number;
}

/** Handler latencies: a round's handlers run from milliseconds (bookkeeping) to minutes (waiting on a job). */
const HANDLER_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/**
 * A service's Prometheus metrics, in a registry of its own (not prom-client's global one) so that several apps
 * in one process (tests, `aevo demo`) each expose only their own series. Every series carries `service`.
 */
export class ServiceMetrics implements TransportObserver {
  readonly registry = new Registry();
  private readonly handled: Counter<'type'>;
  private readonly failed: Counter<'type'>;
  private readonly duration: Histogram<'type' | 'outcome'>;
  private readonly redeliveries: Counter<'type'>;
  private readonly deadLetters: Counter<'type'>;
  private readonly dropped: Counter<'type'>;
  private readonly commands: Counter<'command' | 'result'>;
  private readonly commandDuration: Histogram<'command'>;
  private readonly sampled = new Set<string>();

  constructor(
    readonly service: string,
    opts: { processMetrics?: boolean } = {},
  ) {
    this.registry.setDefaultLabels({ service });
    const registers = [this.registry];
    this.handled = new Counter({
      name: 'aevo_events_handled_total',
      help: 'Events whose handler finished without error, by event type',
      labelNames: ['type'],
      registers,
    });
    this.failed = new Counter({
      name: 'aevo_events_failed_total',
      help:
        'Handler errors by event type (each failed delivery; outages of PostgreSQL or NATS are retried in place ' +
        'and not counted)',
      labelNames: ['type'],
      registers,
    });
    this.duration = new Histogram({
      name: 'aevo_event_handler_duration_seconds',
      help: 'Time in the event handler, by event type and outcome (ok, error)',
      labelNames: ['type', 'outcome'],
      buckets: HANDLER_BUCKETS,
      registers,
    });
    this.redeliveries = new Counter({
      name: 'aevo_event_redeliveries_total',
      help: 'Messages delivered again (delivery count > 1), by event type',
      labelNames: ['type'],
      registers,
    });
    this.deadLetters = new Counter({
      name: 'aevo_dead_letters_total',
      help: 'Messages given up on and recorded as MessageDeadLettered, by event type',
      labelNames: ['type'],
      registers,
    });
    this.dropped = new Counter({
      name: 'aevo_events_not_stored_total',
      help: 'Messages dropped because they are not stored events (forged or foreign)',
      labelNames: ['type'],
      registers,
    });
    this.commands = new Counter({
      name: 'aevo_commands_total',
      help: 'Commands answered, by command and result (ok or the error code)',
      labelNames: ['command', 'result'],
      registers,
    });
    this.commandDuration = new Histogram({
      name: 'aevo_command_duration_seconds',
      help: 'Time to answer a command',
      labelNames: ['command'],
      buckets: HANDLER_BUCKETS,
      registers,
    });
    if (opts.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  eventReceived(type: string, delivery: number): void {
    if (delivery > 1) this.redeliveries.inc({ type });
  }

  eventHandled(type: string, seconds: number): void {
    this.handled.inc({ type });
    this.duration.observe({ type, outcome: 'ok' }, seconds);
  }

  eventFailed(type: string, seconds: number): void {
    this.failed.inc({ type });
    this.duration.observe({ type, outcome: 'error' }, seconds);
  }

  deadLettered(type: string): void {
    this.deadLetters.inc({ type });
  }

  notStored(type: string): void {
    this.dropped.inc({ type });
  }

  commandAnswered(name: string, result: string, seconds: number): void {
    this.commands.inc({ command: name, result });
    this.commandDuration.observe({ command: name }, seconds);
  }

  /**
   * Registers a gauge whose samples are read when Prometheus scrapes (nothing runs between scrapes): the hook for
   * state a service already holds, e.g. dispatch's jobs by phase. A name registered twice is refused.
   */
  sampledGauge(
    name: string,
    help: string,
    labelNames: string[],
    sample: () => GaugeSample[] | Promise<GaugeSample[]>,
  ): void {
    if (this.sampled.has(name) || this.registry.getSingleMetric(name))
      throw new Error(`metric ${name} is already registered for ${this.service}`);
    this.sampled.add(name);
    new Gauge({
      name,
      help,
      labelNames,
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const s of await sample()) if (Number.isFinite(s.value)) this.set(s.labels ?? {}, s.value);
      },
    });
  }

  /** A counter for a service's own occurrences (e.g. budget charged), in this registry. */
  counter<L extends string>(name: string, help: string, labelNames: L[]): Counter<L> {
    if (this.registry.getSingleMetric(name))
      throw new Error(`metric ${name} is already registered for ${this.service}`);
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  metrics(): Promise<string> {
    return this.registry.metrics();
  }
}
