/** Injection token of the EventStore (`@Inject(EVENT_STORE) store: EventStore`). */
export const EVENT_STORE = 'AEVO_EVENT_STORE';
/** Injection token of the resolved MessagingConfig. */
export const MESSAGING_CONFIG = 'AEVO_MESSAGING_CONFIG';
