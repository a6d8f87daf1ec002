import { DomainError, zodIssues, type IssueDetail } from '@aevo/contracts';
import { z } from 'zod';
import { ConcurrencyError, type ExpectedVersion } from '../port';

/**
 * The event store port over NATS request/reply: a compute cluster reaches the record only through its NATS leaf
 * connection. Every port call is one request on `<prefix>.store.<op>` answered by a store gateway in the control
 * cluster (queue group: any replica answers); appends made through the gateway are announced on
 * `<prefix>.store.head` so that remote subscriptions wake up instead of polling.
 *
 * Replies are `{ ok: true, value }` or `{ ok: false, error: { code, message, issues, conflict? } }`: a store error
 * crosses the wire with its code and issues, and a concurrency conflict comes back as a ConcurrencyError, so the
 * command handler's retry works unchanged on the remote side.
 */
export const STORE_OPS = [
  'append',
  'readStream',
  'readAll',
  'streamVersion',
  'headPosition',
  'commandOutcome',
  'lookupStoredEvents',
  'verifyChain',
  'readChainLinks',
] as const;
export type StoreOp = (typeof STORE_OPS)[number];

export const storeSubject = (prefix: string, op: StoreOp): string => `${prefix}.store.${op}`;
export const storeHeadSubject = (prefix: string): string => `${prefix}.store.head`;
export const STORE_GATEWAY_QUEUE = 'store-gateway';

const streamId = z.string().min(1).max(400);
const position = z.number().int().min(0);
const expected = z.union([z.number().int().min(0), z.literal('any'), z.literal('no-stream')]);

/** Request bodies by operation. Envelopes themselves are validated by the store behind the gateway. */
export const StoreRequests = {
  append: z
    .object({
      streamId,
      expected,
      events: z.array(z.record(z.string(), z.unknown())),
      opts: z
        .object({
          commandId: z.string().min(1).max(400).optional(),
          commandResult: z.unknown().optional(),
          traceContext: z.object({ traceparent: z.string(), tracestate: z.string().optional() }).strict().optional(),
        })
        .strict()
        .optional(),
    })
    .strict(),
  // A page of a stream: at most `maxBytes` of serialised events (at least one), `more` says whether to go on.
  readStream: z
    .object({ streamId, fromVersion: z.number().int().min(1).optional(), maxBytes: z.number().int().min(1024) })
    .strict(),
  readAll: z
    .object({
      fromPosition: position.optional(),
      limit: z.number().int().min(1).optional(),
      campaignId: z.string().min(1).optional(),
      types: z.array(z.string().min(1)).optional(),
      maxBytes: z.number().int().min(1024),
    })
    .strict(),
  streamVersion: z.object({ streamId }).strict(),
  headPosition: z.object({}).strict(),
  commandOutcome: z.object({ commandId: z.string().min(1).max(400) }).strict(),
  lookupStoredEvents: z.object({ eventIds: z.array(z.string().min(1)).max(10_000) }).strict(),
  verifyChain: z.object({ toPosition: position.optional() }).strict(),
  readChainLinks: z.object({ fromPosition: position, limit: z.number().int().min(1).max(10_000) }).strict(),
} satisfies Record<StoreOp, z.ZodType>;

export type StoreRequest<Op extends StoreOp> = z.infer<(typeof StoreRequests)[Op]>;

export interface WireError {
  code: string;
  message: string;
  issues: IssueDetail[];
  conflict?: { streamId: string; expected: ExpectedVersion; actual: number };
}

export type StoreReply<T> = { ok: true; value: T } | { ok: false; error: WireError };

/** A page of events: `more` is true when the gateway stopped at its byte budget before the end. */
export interface EventPage<E> {
  events: E[];
  more: boolean;
}

export function toWireError(err: unknown): WireError {
  if (err instanceof ConcurrencyError)
    return {
      code: err.code,
      message: err.message,
      issues: err.issues,
      conflict: { streamId: err.streamId, expected: err.expected, actual: err.actual },
    };
  if (err instanceof DomainError) return { code: err.code, message: err.message, issues: err.issues };
  if (err instanceof z.ZodError)
    return { code: 'INVALID_ARGUMENT', message: 'the store request is malformed', issues: zodIssues(err) };
  // Not a domain refusal: the gateway's store failed (database away, bug). Say so, without a stack.
  return {
    code: 'STORE_UNAVAILABLE',
    message: `the store behind the gateway failed: ${(err as Error)?.message ?? String(err)}`,
    issues: [],
  };
}

export function fromWireError(e: WireError): DomainError {
  if (e.conflict) return new ConcurrencyError(e.conflict.streamId, e.conflict.expected, e.conflict.actual);
  if (e.code === 'STORE_UNAVAILABLE') return storeUnavailable(e.message);
  return new DomainError(e.code, e.message, e.issues);
}

/**
 * The store cannot be reached (no gateway, no answer, its database away): an outage, not a refusal of the input, so
 * a consumer's handler waits it out instead of using up the message's deliveries (@aevo/messaging's
 * unavailableDependency reads the flag) — a compute cluster's leaf link going down must not dead-letter its events.
 */
export function storeUnavailable(message: string): DomainError {
  return Object.assign(new DomainError('STORE_UNAVAILABLE', message, []), { dependencyUnavailable: true });
}
