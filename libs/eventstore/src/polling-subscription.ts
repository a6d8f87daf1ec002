import type { StoredEvent, Subscription } from './port';

export interface PollingSubscriptionOptions {
  /** Reads up to `limit` events with position > `after`, in position order. */
  readPage(after: number, limit: number): Promise<StoredEvent[]>;
  /** Registers a wake-up callback (new events may exist); returns an unregister function. */
  onWake?(fn: () => void): () => void;
  handler(e: StoredEvent): Promise<void>;
  fromPosition: number;
  pageSize?: number;
  /** Fallback poll when no wake-up arrives (a lost NOTIFY, a broken LISTEN connection). */
  pollIntervalMs?: number;
  /** Read errors (the database is away) are retried with backoff; this sees each one. */
  onReadError?(err: unknown): void;
}

/**
 * Catch up, then follow: pages through "position > last seen" and awaits the handler for each event, in order.
 * Correct only on a store whose positions become visible in position order (see the append function).
 * If the handler throws, the subscription stops and `done` rejects with that error.
 */
export class PollingSubscription implements Subscription {
  readonly done: Promise<void>;
  private stopped = false;
  private inHandler = false;
  private wake: (() => void) | null = null;
  private pendingWake = false;
  private lastSeen: number;

  constructor(private readonly opts: PollingSubscriptionOptions) {
    this.lastSeen = opts.fromPosition;
    const unregister = opts.onWake?.(() => this.poke());
    this.done = this.run().finally(() => unregister?.());
    // Observed here so an unobserved failure is not an unhandled rejection; awaiting `done` still sees it.
    this.done.catch(() => undefined);
  }

  /** Position of the last event handed to the handler. */
  get position(): number {
    return this.lastSeen;
  }

  private poke(): void {
    this.pendingWake = true;
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private sleep(ms: number): Promise<void> {
    if (this.pendingWake || this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private async run(): Promise<void> {
    const pageSize = this.opts.pageSize ?? 500;
    const pollMs = this.opts.pollIntervalMs ?? 1000;
    let failures = 0;
    while (!this.stopped) {
      this.pendingWake = false;
      let page: StoredEvent[];
      try {
        page = await this.opts.readPage(this.lastSeen, pageSize);
        failures = 0;
      } catch (err) {
        this.opts.onReadError?.(err);
        await this.sleep(Math.min(5000, 100 * 2 ** failures++));
        continue;
      }
      for (const e of page) {
        if (this.stopped) return;
        this.inHandler = true;
        try {
          await this.opts.handler(e);
        } finally {
          this.inHandler = false;
        }
        this.lastSeen = e.position;
      }
      if (page.length < pageSize) await this.sleep(pollMs);
    }
  }

  /**
   * Stops; no handler call starts afterwards. Resolves once the loop has ended (at once when called from the handler).
   */
  async close(): Promise<void> {
    this.stopped = true;
    this.poke();
    if (this.inHandler) return;
    await this.done.catch(() => undefined);
  }
}
