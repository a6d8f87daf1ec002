import { DomainError, parseEvent } from '@aevo/contracts';
import type { StoredEvent } from '@aevo/eventstore';
import { parseEventSubject } from './subjects';

/** Header names the outbox relay may use for the store position when the body carries only the envelope. */
export const POSITION_HEADERS = ['Aevo-Position', 'aevo-position'];
export const STREAM_VERSION_HEADERS = ['Aevo-Stream-Version', 'aevo-stream-version'];

export type DecodedEvent =
  | { ok: true; event: StoredEvent }
  | { ok: false; error: DomainError; eventId: string | null; eventType: string | null };

interface HeaderLookup {
  get(name: string): string;
}

function headerNumber(headers: HeaderLookup | undefined, names: string[]): number | undefined {
  if (!headers) return undefined;
  for (const n of names) {
    const v = headers.get(n);
    if (v !== '' && v !== undefined && v !== null && /^\d+$/.test(v)) return Number(v);
  }
  return undefined;
}

/**
 * Turns a JetStream message body into a validated stored event. The body is the JSON envelope, optionally with
 * `position`/`streamVersion` (else taken from headers). Never throws: a message that cannot be trusted is
 * reported so that it is dead-lettered instead of crashing the consumer.
 */
export function decodeEventMessage(
  prefix: string,
  subject: string,
  data: Uint8Array,
  headers?: HeaderLookup,
): DecodedEvent {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(data).toString('utf8'));
  } catch (err) {
    return fail(
      new DomainError('INVALID_JSON', `event payload is not JSON: ${(err as Error).message}`, [
        { path: '(root)', message: 'expected a JSON object' },
      ]),
      null,
      null,
    );
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    return fail(
      new DomainError('INVALID_EVENT', 'event payload is not a JSON object', [
        { path: '(root)', message: 'expected an object' },
      ]),
      null,
      null,
    );
  const { position: bodyPosition, streamVersion: bodyStreamVersion, ...envelope } = raw as Record<string, unknown>;
  const eventId = typeof envelope.id === 'string' ? envelope.id : null;
  const eventType = typeof envelope.type === 'string' ? envelope.type : null;
  const position = typeof bodyPosition === 'number' ? bodyPosition : headerNumber(headers, POSITION_HEADERS);
  const streamVersion =
    typeof bodyStreamVersion === 'number' ? bodyStreamVersion : headerNumber(headers, STREAM_VERSION_HEADERS);
  const issues = [];
  if (position === undefined || !Number.isInteger(position) || position < 1)
    issues.push({
      path: 'position',
      message: 'expected the store position (integer >= 1) in the body or the Aevo-Position header',
    });
  if (streamVersion === undefined || !Number.isInteger(streamVersion) || streamVersion < 1)
    issues.push({
      path: 'streamVersion',
      message: 'expected the stream version (integer >= 1) in the body or the Aevo-Stream-Version header',
    });
  if (issues.length > 0)
    return fail(new DomainError('INVALID_EVENT', 'event message lacks its store position', issues), eventId, eventType);
  let event;
  try {
    event = parseEvent(envelope);
  } catch (err) {
    if (err instanceof DomainError) return fail(err, eventId, eventType);
    return fail(new DomainError('INVALID_EVENT', String(err)), eventId, eventType);
  }
  const where = parseEventSubject(prefix, subject);
  if (!where || where.type !== event.type || where.campaignId !== event.campaignId)
    return fail(
      new DomainError(
        'SUBJECT_MISMATCH',
        `subject ${subject} does not match event ${event.type} of campaign ${event.campaignId}`,
        [{ path: 'subject', message: `expected <prefix>.evt.${event.campaignId}.${event.type}` }],
      ),
      eventId,
      eventType,
    );
  return { ok: true, event: { ...event, position: position as number, streamVersion: streamVersion as number } };
}

function fail(error: DomainError, eventId: string | null, eventType: string | null): DecodedEvent {
  return { ok: false, error, eventId, eventType };
}
