/**
 * When to retry a call that Kaggle answered with 429 (rate limited) or 503 (unavailable). Both mean the request was
 * not carried out, so a retry cannot do it twice. The wait is what the answer's Retry-After asks for; without one,
 * exponential backoff with jitter (so replicas that were refused together do not come back together).
 */
export interface RetryPolicy {
  /** Tries in all, the first included. */
  maxAttempts: number;
  /** Wait before the second try when the answer names none; doubles with each further try. */
  baseDelayMs: number;
  /** Longest single wait. A Retry-After longer than this is not waited for here: the error goes to the caller. */
  maxDelayMs: number;
  /** Longest time spent waiting across all tries of one call. */
  maxTotalMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 6,
  baseDelayMs: 1000,
  maxDelayMs: 60_000,
  maxTotalMs: 180_000,
};

export const RETRYABLE_STATUSES: readonly number[] = [429, 503];

/**
 * Retry-After as delta-seconds or an HTTP date (RFC 9110 §10.2.3), in ms from `nowMs`; null when absent or unreadable.
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number = Date.now()): number | null {
  if (value === null || value === undefined) return null;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - nowMs);
}

/** Backoff without a server hint: base·2^(attempt-1), capped, jittered into [½, 1] of that ("equal jitter"). */
export function backoffDelayMs(attempt: number, policy: RetryPolicy, random: () => number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}

/**
 * The wait before try `attempt + 1`, or null to give up: tries used up, a Retry-After longer than one wait may be,
 * or the total wait bound reached.
 */
export function nextRetryDelayMs(
  attempt: number,
  retryAfterMs: number | null,
  waitedMs: number,
  policy: RetryPolicy,
  random: () => number,
): number | null {
  if (attempt >= policy.maxAttempts) return null;
  if (retryAfterMs !== null && retryAfterMs > policy.maxDelayMs) return null;
  const delay = retryAfterMs ?? backoffDelayMs(attempt, policy, random);
  if (waitedMs + delay > policy.maxTotalMs) return null;
  return delay;
}
