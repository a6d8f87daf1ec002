import { headers, type MsgHdrs } from '@nats-io/nats-core';
import type { StoredEvent } from '../port';

/** Subject of an event on the bus: `<prefix>.evt.<campaignId>.<EventType>`. */
export const relaySubject = (prefix: string, e: Pick<StoredEvent, 'campaignId' | 'type'>): string =>
  `${prefix}.evt.${e.campaignId}.${e.type}`;

/** What the stream captures. */
export const relayWildcard = (prefix: string): string => `${prefix}.evt.>`;

export const POSITION_HEADER = 'aevo-position';
export const STREAM_VERSION_HEADER = 'aevo-stream-version';

/**
 * The stored event as published: the envelope plus position and stream version, keys in a fixed order (the relay has
 * PostgreSQL build the same object).
 */
export function relayPayload(e: StoredEvent): string {
  return JSON.stringify({
    id: e.id,
    type: e.type,
    schemaVersion: e.schemaVersion,
    streamId: e.streamId,
    campaignId: e.campaignId,
    causationId: e.causationId,
    correlationId: e.correlationId,
    time: e.time,
    source: e.source,
    data: e.data,
    position: e.position,
    streamVersion: e.streamVersion,
  });
}

/**
 * CloudEvents 1.0 attributes in the binary content mode, mapped onto NATS headers by hand (the JS `cloudevents`
 * package has no NATS binding): `ce-` prefixed attributes, the payload's media type in `content-type`.
 */
export function relayHeaders(
  e: Pick<StoredEvent, 'id' | 'type' | 'source' | 'streamId' | 'time' | 'position' | 'streamVersion'>,
): MsgHdrs {
  const h = headers();
  h.set('ce-specversion', '1.0');
  h.set('ce-id', e.id);
  h.set('ce-type', e.type);
  h.set('ce-source', `/aevo/${e.source}`);
  h.set('ce-subject', e.streamId);
  h.set('ce-time', e.time);
  h.set('content-type', 'application/json');
  h.set(POSITION_HEADER, String(e.position));
  h.set(STREAM_VERSION_HEADER, String(e.streamVersion));
  return h;
}

/**
 * The append's W3C trace context (recorded in its metadata) as `traceparent` / `tracestate` headers, so that a
 * consumer's span continues the trace of the code that appended; tracestate only beside a traceparent.
 */
export function withTraceHeaders(
  h: MsgHdrs,
  trace: { traceparent?: string | null; tracestate?: string | null } | null,
): MsgHdrs {
  if (trace?.traceparent) h.set('traceparent', trace.traceparent);
  if (trace?.traceparent && trace.tracestate) h.set('tracestate', trace.tracestate);
  return h;
}
