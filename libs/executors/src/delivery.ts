import type { ExecutorEvent, ExecutorListener } from './types';

/**
 * Delivers executor events to listeners at least once, in the order they were produced for each job: a listener
 * that throws gets the same event again after a backoff (doubling up to `maxDelayMs`), so a transient store outage
 * never loses a terminal event and never reorders a job's started/finished. Different jobs' events are delivered
 * independently: a job's exit is not reported only after the next job's start on its slot has been recorded.
 */
export class EventDelivery {
  private readonly listeners = new Set<ExecutorListener>();
  /** The last delivery of each job with one still under way (removed once it settles). */
  private readonly chains = new Map<string, Promise<void>>();
  private closed = false;
  /** Wakes every delivery waiting out a backoff (on close). */
  private readonly wakers = new Set<() => void>();
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
    const chain = (this.chains.get(event.jobId) ?? Promise.resolve())
      .then(() => this.deliver(event))
      .finally(() => {
        this.pendingCount--;
        if (this.chains.get(event.jobId) === chain) this.chains.delete(event.jobId);
      });
    this.chains.set(event.jobId, chain);
  }

  /** Resolves once every event emitted so far was delivered (or the delivery was closed). */
  async drained(): Promise<void> {
    await Promise.all([...this.chains.values()]); // each job's last delivery follows all of its earlier ones
  }

  close(): void {
    this.closed = true;
    for (const wake of [...this.wakers]) wake();
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
          const wake = () => {
            clearTimeout(t);
            this.wakers.delete(wake);
            resolve();
          };
          const t = setTimeout(wake, delay);
          this.wakers.add(wake);
        });
        delay = Math.min(delay * 2, this.opts.maxDelayMs ?? 30_000);
      }
    }
  }
}
