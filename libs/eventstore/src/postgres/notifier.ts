import { Client, type ClientConfig } from 'pg';

/**
 * One LISTEN connection per store, shared by every subscription and the relay. A notification only says "the
 * head moved"; readers then page with "position > last seen", so a lost notification costs latency, never an
 * event (their polling fallback catches up). When the connection breaks it reconnects with backoff and wakes
 * everyone, since notifications sent meanwhile are lost.
 */
export class HeadNotifier {
  private client: Client | null = null;
  private connecting: Promise<void> | null = null;
  private readonly listeners = new Set<(head: number | null) => void>();
  private closed = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private failures = 0;

  constructor(
    private readonly config: ClientConfig,
    private readonly channel: string,
  ) {}

  /**
   * Registers `fn` (called with the new head, or null when notifications may have been missed); returns an unsubscribe
   * function.
   */
  listen(fn: (head: number | null) => void): () => void {
    this.listeners.add(fn);
    void this.ensureConnected();
    return () => {
      this.listeners.delete(fn);
    };
  }

  private emit(head: number | null): void {
    for (const fn of [...this.listeners]) fn(head);
  }

  private ensureConnected(): Promise<void> {
    if (this.closed || this.client) return Promise.resolve();
    if (!this.connecting)
      this.connecting = this.connect().finally(() => {
        this.connecting = null;
      });
    return this.connecting;
  }

  private async connect(): Promise<void> {
    const client = new Client(this.config);
    client.on('notification', (msg) => {
      if (msg.channel !== this.channel) return;
      const head = Number(msg.payload);
      this.emit(Number.isFinite(head) ? head : null);
    });
    const broken = () => {
      if (this.client !== client) return;
      this.client = null;
      client.end().catch(() => undefined);
      this.emit(null);
      this.scheduleRetry();
    };
    client.on('error', broken);
    client.on('end', broken);
    try {
      await client.connect();
      await client.query(`LISTEN "${this.channel}"`);
    } catch {
      client.end().catch(() => undefined);
      this.scheduleRetry();
      return;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.failures = 0;
    // Anything committed before LISTEN took effect was not notified.
    this.emit(null);
  }

  private scheduleRetry(): void {
    if (this.closed || this.retryTimer) return;
    const delay = Math.min(5000, 100 * 2 ** this.failures++);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.ensureConnected();
    }, delay);
    this.retryTimer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.listeners.clear();
    await this.connecting?.catch(() => undefined);
    const c = this.client;
    this.client = null;
    if (c) await c.end().catch(() => undefined);
  }
}
