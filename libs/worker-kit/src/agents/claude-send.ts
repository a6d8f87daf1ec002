import Anthropic from '@anthropic-ai/sdk';
import { CandidateStoppedError, type WorkerRuntime } from '../runtime';
import type { ClaudeAgentOptions, ClaudeRetryPolicy } from './claude-options';
import type { ModelRequestParams } from './claude-protocol';

const RETRYABLE_STATUS = (status: number): boolean =>
  status === 408 || status === 409 || status === 429 || status >= 500;

/** The SDK refuses a non-streaming request whose max_tokens could take longer than 10 minutes: stream those. */
function needsStreaming(client: Anthropic, maxTokens: number): boolean {
  try {
    client.calculateNonstreamingTimeout(maxTokens);
    return false;
  } catch {
    return true;
  }
}

/** Sends one request, retrying 408/409/429/5xx/529 and connection errors under the retry policy. */
export async function sendPatiently(
  opts: ClaudeAgentOptions,
  retry: ClaudeRetryPolicy,
  rt: WorkerRuntime,
  params: ModelRequestParams,
  errors: string[],
): Promise<
  | { ok: true; message: Anthropic.Message; attempts: number; streamed: boolean }
  | { ok: false; code: 'CONTEXT_WINDOW' | 'UNREACHABLE' | 'REFUSED_REQUEST'; message: string; attempts: number }
> {
  const o = opts;
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const random = o.random ?? Math.random;
  const started = now();
  for (let attempt = 1; ; attempt++) {
    try {
      const body = {
        model: params.model,
        max_tokens: params.max_tokens,
        system: params.system as unknown as Anthropic.TextBlockParam[],
        tools: params.tools as unknown as Anthropic.Tool[],
        messages: params.messages as unknown as Anthropic.MessageParam[],
      };
      const streamed = needsStreaming(o.client, params.max_tokens);
      const message = streamed
        ? await o.client.messages.stream(body).finalMessage()
        : await o.client.messages.create(body);
      return { ok: true, message, attempts: attempt, streamed };
    } catch (err) {
      const apiErr = err instanceof Anthropic.APIError ? err : null;
      const status = apiErr?.status;
      const text = `${status ?? 'connection'}: ${(err as Error).message}`.slice(0, 500);
      errors.push(text);
      if (errors.length > 20) errors.splice(0, errors.length - 20);
      if (status === 400 && /prompt is too long/i.test((err as Error).message))
        return { ok: false, code: 'CONTEXT_WINDOW', message: text, attempts: attempt };
      const headers = apiErr?.headers as Headers | undefined;
      const shouldRetry = headers?.get?.('x-should-retry');
      const retryable =
        err instanceof Anthropic.APIConnectionError ||
        (status !== undefined && (shouldRetry === 'true' || (shouldRetry !== 'false' && RETRYABLE_STATUS(status))));
      if (!retryable) return { ok: false, code: 'REFUSED_REQUEST', message: text, attempts: attempt };
      const asked = retryAfterMs(headers, now());
      const backoff = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (attempt - 1));
      // With a retry-after: that long plus up to 10 % (replicas told the same do not return together);
      // without: a random point in the second half of the backoff.
      const wait = asked !== null ? asked + random() * Math.min(asked * 0.1, 5_000) : backoff * (0.5 + random() * 0.5);
      const elapsed = now() - started;
      if (elapsed + wait > retry.patienceMs)
        return {
          ok: false,
          code: 'UNREACHABLE',
          message:
            `gave up after ${attempt} attempts over ${Math.round(elapsed / 1000)} s (patience ` +
            `${Math.round(retry.patienceMs / 1000)} s); last: ${text}`,
          attempts: attempt,
        };
      // A stop (campaign aborted, budget gone) is not waited out: the in-flight step is abandoned.
      const stop = await rt.stopReason();
      if (stop) throw new CandidateStoppedError(rt.candidateId, stop);
      await sleep(wait);
    }
  }
}

/** The wait an error response asks for: `retry-after-ms`, or `retry-after` in seconds or as an HTTP date. */
export function retryAfterMs(headers: Headers | undefined, nowMs: number): number | null {
  const ms = Number.parseFloat(headers?.get?.('retry-after-ms') ?? '');
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const raw = headers?.get?.('retry-after');
  if (!raw) return null;
  const seconds = Number.parseFloat(raw);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(raw);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}
