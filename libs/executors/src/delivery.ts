import type { ExecutorEvent, ExecutorListener } from './types';

/**
 * Delivers executor events to listeners one at a time, in the order they were produced, at least once: a
 * listener that throws gets the same event again after a backoff (doubling up to `maxDelayMs`), so a
 * transient store outage never loses a terminal event and never reorders started/finished.
 */
export class EventDelivery {
  private readonly listeners = new Set<ExecutorListener>();
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  private wake: (() => void) | null = null;
  private pendingCount = 0;

  constructor(
    private readonly opts: {
      initialDelayMs?: number;
      maxDelayMs?: number;
      onError?: (err: unknown, event: ExecutorEvent) => void;
    } = {},
  ) {}

  on(listener: ExecutorListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Number of events not yet delivered. */
  get pending(): number {
    return this.pendingCount;
  }

  emit(event: ExecutorEvent): void {
    if (this.closed) return;
    this.pendingCount++;
    this.chain = this.chain.then(() => this.deliver(event)).finally(() => this.pendingCount--);
  }

  /** Resolves once every event emitted so far was delivered (or the delivery was closed). */
  drained(): Promise<void> {
    return this.chain;
  }

  close(): void {
    this.closed = true;
    this.wake?.();
  }

  private async deliver(event: ExecutorEvent): Promise<void> {
    let delay = this.opts.initialDelayMs ?? 200;
    for (;;) {
      if (this.closed) return;
      try {
        for (const l of [...this.listeners]) await l(event);
        return;
      } catch (err) {
        this.opts.onError?.(err, event);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, delay);
          this.wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        this.wake = null;
        delay = Math.min(delay * 2, this.opts.maxDelayMs ?? 30_000);
      }
    }
  }
}
