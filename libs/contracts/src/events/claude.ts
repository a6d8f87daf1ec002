import { z } from 'zod';
import { defineEvent } from '../envelope';

/**
 * A Claude call whose answer the campaign went on without. Recorded by the service that fell back, in the same
 * append as the decision it made instead (the rule engine's PolicyRevised, or RoundEvidenceRecorded without prose),
 * so the log says why a campaign that asked for Claude got the rules, and nothing depends on a log line.
 * Informational: no decision is re-derived from it, so replays are unchanged by it.
 */
export const ClaudeFellBack = defineEvent(
  'ClaudeFellBack',
  {
    owners: ['meta-policy', 'collector'],
    description:
      'A Claude call failed or could not be made; the rule engine revised the policy, or the evidence was ' +
      'recorded without prose.',
  },
  z
    .object({
      round: z.number().int().min(1),
      /** Which Claude pass fell back. */
      pass: z.enum(['meta-agent', 'evidence-prose']),
      /** What was used instead. */
      fallback: z.enum(['rules', 'numbers-without-prose']),
      /**
       * `not-configured`: the service has no Claude client (no ANTHROPIC_API_KEY); `api-error`: the request failed
       * (after the SDK's retries); `unusable-reply`: an answer came back that could not be used at all.
       */
      reason: z.enum(['not-configured', 'api-error', 'unusable-reply']),
      /** The model that was (or would have been) asked. */
      model: z.string().min(1),
      /** The SDK's error class (`RateLimitError`, `NotFoundError`, `APIConnectionError`, …); null without an error. */
      errorClass: z.string().nullable(),
      /**
       * The HTTP status of an API error, the API's error type (`overloaded_error`, …) and its request id, when known.
       */
      status: z.number().int().nullable(),
      errorType: z.string().nullable(),
      requestId: z.string().nullable(),
      /** The error's or the problem's message, cut to 1000 characters. */
      detail: z.string().max(1000),
    })
    .strict(),
);

/**
 * The ClaudeFellBack fields an error gives: the SDK's error class name and, for an API error, its status, the
 * API's error type and the request id (the SDK's APIError carries them as `status`, `type`, `requestID`).
 */
export function claudeErrorFacts(err: unknown): {
  errorClass: string;
  status: number | null;
  errorType: string | null;
  requestId: string | null;
  detail: string;
} {
  const e = (err ?? {}) as {
    constructor?: { name?: string };
    status?: unknown;
    type?: unknown;
    requestID?: unknown;
    message?: unknown;
  };
  return {
    errorClass: err instanceof Error ? (e.constructor?.name ?? 'Error') : typeof err,
    status: typeof e.status === 'number' && Number.isInteger(e.status) ? e.status : null,
    errorType: typeof e.type === 'string' ? e.type : null,
    requestId: typeof e.requestID === 'string' ? e.requestID : null,
    detail: (typeof e.message === 'string' ? e.message : String(err)).slice(0, 1000),
  };
}

/** The ClaudeFellBack fields of a reply that came back but could not be used: no error, the problem's text. */
export function unusableReplyFacts(problem: string): {
  reason: 'unusable-reply';
  errorClass: null;
  status: null;
  errorType: null;
  requestId: null;
  detail: string;
} {
  return {
    reason: 'unusable-reply',
    errorClass: null,
    status: null,
    errorType: null,
    requestId: null,
    detail: problem.slice(0, 1000),
  };
}
