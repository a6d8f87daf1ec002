import { createEvent, MessageDeadLettered, type ServiceName } from '@aevo/contracts';
import type { EventStore } from '@aevo/eventstore';

/** What the transport knows about a message it gives up on. */
export interface DeadLetter {
  stream: string;
  consumer: string;
  subject: string;
  streamSequence: number;
  deliveries: number;
  eventId: string | null;
  eventType: string | null;
  /** From the decoded event, else the subject's campaign token, else "unknown". */
  campaignId: string;
  correlationId: string | null;
  error: string;
}

/** Records a dead letter durably; rejects when it could not (the transport then retries the recording). */
export type DeadLetterSink = (dl: DeadLetter) => Promise<void>;

const MAX_ERROR = 4000;

/** Appends `MessageDeadLettered` to `deadletter-<campaignId>`; idempotent per (consumer, stream sequence). */
export function eventStoreDeadLetterSink(store: EventStore, service: ServiceName): DeadLetterSink {
  return async (dl) => {
    const campaignId = /^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(dl.campaignId) ? dl.campaignId : 'unknown';
    const event = createEvent(
      MessageDeadLettered,
      {
        stream: dl.stream,
        consumer: dl.consumer,
        subject: dl.subject,
        streamSequence: dl.streamSequence,
        deliveries: dl.deliveries,
        eventId: dl.eventId,
        eventType: dl.eventType,
        error: dl.error.length > MAX_ERROR ? `${dl.error.slice(0, MAX_ERROR)}…` : dl.error,
      },
      {
        campaignId,
        streamId: `deadletter-${campaignId}`,
        source: service,
        causationId: dl.eventId,
        correlationId: dl.correlationId,
      },
    );
    await store.append(event.streamId, 'any', [event], {
      commandId: `dlq-${dl.stream}-${dl.consumer}-${dl.streamSequence}`,
    });
  };
}
