/**
 * Tells a dependency outage (PostgreSQL or nats-server unreachable, restarting, refusing connections) from a
 * handler failure. An outage says nothing about the message, so it must not use up the message's deliveries:
 * a long database restart would otherwise dead-letter every event in flight and stall the campaign for good.
 */

/** Socket-level failures: the peer is down, restarting, or the network path is gone. */
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ECONNABORTED',
]);

/**
 * PostgreSQL SQLSTATEs of a server that is going away or not there yet: class 08 (connection exception),
 * 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now, 53300 too_many_connections.
 */
const PG_STATES = new Set(['57P01', '57P02', '57P03', '53300']);

/** node-postgres reports a dropped or unusable connection only through its message. */
const PG_MESSAGES = [
  /connection terminated/i,
  /is not queryable/i,
  /timeout exceeded when trying to connect/i,
  /the database system is (starting up|shutting down|in recovery mode)/i,
];

/** nats.js v3 error names for a connection that is down or being re-established. */
const NATS_NAMES = new Set(['ConnectionError', 'ClosedConnectionError', 'DrainingConnectionError']);

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  cause?: unknown;
  errors?: unknown;
  /** Set by our own libraries on errors that mean "try again later, nothing is wrong with the input". */
  dependencyUnavailable?: unknown;
}

/**
 * What is unavailable, e.g. `ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:5432`, or null when the error is not an
 * outage. Looks through `cause` chains and AggregateError members (Node reports a refused dual-stack connect as one).
 */
export function unavailableDependency(err: unknown, depth = 0): string | null {
  if (depth > 5 || err === null || typeof err !== 'object') return null;
  const e = err as ErrorLike;
  const message = typeof e.message === 'string' ? e.message : '';
  const code = typeof e.code === 'string' ? e.code : '';
  const name = typeof e.name === 'string' ? e.name : '';
  if (e.dependencyUnavailable === true) return message || name || 'dependency unavailable';
  if (SOCKET_CODES.has(code) || PG_STATES.has(code) || /^08[0-9A-Z]{3}$/.test(code))
    return `${code}: ${message}`.trim();
  if (PG_MESSAGES.some((re) => re.test(message))) return message;
  if (NATS_NAMES.has(name)) return `${name}: ${message}`;
  if (Array.isArray(e.errors)) {
    for (const inner of e.errors) {
      const found = unavailableDependency(inner, depth + 1);
      if (found) return found;
    }
  }
  return unavailableDependency(e.cause, depth + 1);
}
