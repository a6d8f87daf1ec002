import { DomainError, StreamId, parseEvent, type EventEnvelope, type IssueDetail } from '@aevo/contracts';
import type { AppendOptions, ExpectedVersion, ReadAllOptions } from './port';

export const MAX_COMMAND_ID_LENGTH = 200;
/** Default cap on one event's JSON: it must fit a NATS message (1 MiB by default) with headers, when relayed. */
export const DEFAULT_MAX_EVENT_BYTES = 900 * 1024;
/** The campaign id becomes a subject token (`<prefix>.evt.<campaignId>.<type>`): no dots, spaces or wildcards. */
const SUBJECT_TOKEN = /^[A-Za-z0-9_-]+$/;

/** -1 stands for 'any' (no check); otherwise the exact stream version the caller expects. */
export function expectedVersionNumber(expected: ExpectedVersion): number {
  if (expected === 'any') return -1;
  if (expected === 'no-stream') return 0;
  return expected;
}

/**
 * Checks an append request before anything touches the database. Every event goes through the contracts'
 * `parseEvent`; problems are collected and reported together, each with its path (`events.2.data.round`).
 */
export function validateAppend(
  streamId: unknown,
  expected: unknown,
  events: unknown,
  opts: AppendOptions | undefined,
  maxEventBytes = DEFAULT_MAX_EVENT_BYTES,
): EventEnvelope[] {
  const issues: IssueDetail[] = [];
  if (!StreamId.safeParse(streamId).success)
    issues.push({ path: 'streamId', message: 'expected a stream id like "campaign-abc" or "job:abc"' });
  if (!(
    expected === 'any' ||
    expected === 'no-stream' ||
    (typeof expected === 'number' && Number.isSafeInteger(expected) && expected >= 0)
  ))
    issues.push({
      path: 'expectedVersion',
      message: `expected a version (integer >= 0), 'no-stream' or 'any', got ${JSON.stringify(expected)}`,
    });
  if (
    opts?.commandId !== undefined &&
    (typeof opts.commandId !== 'string' || opts.commandId.length === 0 || opts.commandId.length > MAX_COMMAND_ID_LENGTH)
  )
    issues.push({
      path: 'commandId',
      message: `expected a non-empty string of at most ${MAX_COMMAND_ID_LENGTH} characters`,
    });
  if (opts?.traceContext !== undefined) {
    const t = opts.traceContext as { traceparent?: unknown; tracestate?: unknown };
    if (typeof t.traceparent !== 'string' || !/^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/.test(t.traceparent))
      issues.push({
        path: 'traceContext.traceparent',
        message: 'expected a W3C traceparent like 00-<32 hex>-<16 hex>-01',
      });
    if (t.tracestate !== undefined && (typeof t.tracestate !== 'string' || t.tracestate.length > 512))
      issues.push({
        path: 'traceContext.tracestate',
        message: 'expected a W3C tracestate string of at most 512 characters',
      });
  }
  if (opts?.commandResult !== undefined) {
    try {
      JSON.stringify(opts.commandResult);
    } catch (err) {
      issues.push({ path: 'commandResult', message: `expected a JSON-serialisable value (${(err as Error).message})` });
    }
  }
  if (!Array.isArray(events)) {
    issues.push({ path: 'events', message: 'expected an array of events' });
    throw new DomainError('INVALID_APPEND', describe('append refused', issues), issues);
  }
  const parsed: EventEnvelope[] = [];
  const seen = new Map<string, number>();
  events.forEach((raw, i) => {
    let event: EventEnvelope;
    try {
      event = parseEvent(raw);
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      const inner = err.issues.length > 0 ? err.issues : [{ path: '(root)', message: err.message }];
      for (const issue of inner)
        issues.push({ path: `events.${i}.${issue.path}`, message: `${err.code}: ${issue.message}` });
      return;
    }
    if (!SUBJECT_TOKEN.test(event.campaignId))
      issues.push({
        path: `events.${i}.campaignId`,
        message: 'expected letters, digits, "_" or "-" (it is a subject token when relayed)',
      });
    const bytes = Buffer.byteLength(JSON.stringify(event));
    if (bytes > maxEventBytes)
      issues.push({
        path: `events.${i}`,
        message: `event is ${bytes} bytes of JSON; at most ${maxEventBytes} are accepted`,
      });
    if (event.streamId !== streamId)
      issues.push({
        path: `events.${i}.streamId`,
        message: `expected "${String(streamId)}" (the stream appended to), got "${event.streamId}"`,
      });
    const first = seen.get(event.id);
    if (first !== undefined)
      issues.push({ path: `events.${i}.id`, message: `duplicate of events.${first}.id (${event.id})` });
    else seen.set(event.id, i);
    parsed.push(event);
  });
  if (issues.length > 0) throw new DomainError('INVALID_APPEND', describe('append refused', issues), issues);
  return parsed;
}

export function validateReadAll(opts: ReadAllOptions): void {
  const issues: IssueDetail[] = [];
  if (opts.fromPosition !== undefined && !(Number.isSafeInteger(opts.fromPosition) && opts.fromPosition >= 0))
    issues.push({ path: 'fromPosition', message: 'expected an integer >= 0' });
  if (opts.limit !== undefined && !(Number.isSafeInteger(opts.limit) && opts.limit >= 1))
    issues.push({ path: 'limit', message: 'expected an integer >= 1' });
  if (opts.campaignId !== undefined && (typeof opts.campaignId !== 'string' || opts.campaignId === ''))
    issues.push({ path: 'campaignId', message: 'expected a non-empty string' });
  if (
    opts.types !== undefined &&
    !(Array.isArray(opts.types) && opts.types.every((t) => typeof t === 'string' && t !== ''))
  )
    issues.push({ path: 'types', message: 'expected an array of event type names' });
  if (issues.length > 0) throw new DomainError('INVALID_READ', describe('read refused', issues), issues);
}

export function validatePosition(name: string, value: unknown): void {
  if (!(typeof value === 'number' && Number.isSafeInteger(value) && value >= 0))
    throw new DomainError('INVALID_READ', `${name}: expected an integer >= 0, got ${JSON.stringify(value)}`, [
      { path: name, message: 'expected an integer >= 0' },
    ]);
}

function describe(what: string, issues: IssueDetail[]): string {
  const shown = issues.slice(0, 5).map((i) => `${i.path}: ${i.message}`);
  return `${what}: ${shown.join('; ')}${issues.length > 5 ? `; … ${issues.length - 5} more` : ''}`;
}
