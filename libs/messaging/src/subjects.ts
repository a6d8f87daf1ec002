/** Subject and consumer naming, shared by the server, the client and the outbox relay's layout. */

export const eventSubject = (prefix: string, campaignId: string, type: string): string =>
  `${prefix}.evt.${campaignId}.${type}`;

/** The single filter of one consumer: every campaign, one event type. */
export const eventTypeFilter = (prefix: string, type: string): string => `${prefix}.evt.*.${type}`;

/** Everything the stream captures. */
export const eventsWildcard = (prefix: string): string => `${prefix}.evt.>`;

export const commandSubject = (prefix: string, name: string): string => `${prefix}.cmd.${name}`;

/** Durable consumer shared by every replica of `service` for one event type. */
export const consumerName = (service: string, type: string): string => `${service}__${type}`;

/** Splits `<prefix>.evt.<campaignId>.<EventType>`; null when the subject is not an event subject under `prefix`. */
export function parseEventSubject(prefix: string, subject: string): { campaignId: string; type: string } | null {
  const head = `${prefix}.evt.`;
  if (!subject.startsWith(head)) return null;
  const rest = subject.slice(head.length).split('.');
  if (rest.length !== 2 || rest[0] === '' || rest[1] === '') return null;
  return { campaignId: rest[0], type: rest[1] };
}
