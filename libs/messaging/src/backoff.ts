/** Delay before a failed message is redelivered: base · 2^(delivery−1), capped. */
export function nakDelay(deliveryCount: number, baseMs: number, maxMs: number): number {
  const exp = Math.min(Math.max(deliveryCount - 1, 0), 30);
  return Math.min(baseMs * 2 ** exp, maxMs);
}
