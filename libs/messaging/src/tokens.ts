/** Injection token of the EventStore (`@Inject(EVENT_STORE) store: EventStore`). */
export const EVENT_STORE = 'AEVO_EVENT_STORE';
/** Injection token of the resolved MessagingConfig. */
export const MESSAGING_CONFIG = 'AEVO_MESSAGING_CONFIG';
/** Injection token of the service's ServiceMetrics (register sampled gauges and counters of the service's own). */
export const SERVICE_METRICS = 'AEVO_SERVICE_METRICS';
