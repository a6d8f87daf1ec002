import { Client, type ClientConfig } from 'pg';

/** Called with the new head (null: notifications may have been missed) and, when the commit named them, its types. */
export type HeadListener = (head: number | null, types?: ReadonlySet<string>) => void;

/**
 * A notification's payload: `"<head>"` (schema migrations 1–2, or a type list too long for NOTIFY) or
 * `"<head> <Type>,<Type>…"` (migration 3: the event types the commit appended). Anything else is a head of null.
 */
export function parseHeadPayload(payload: string | undefined): { head: number | null; types?: ReadonlySet<string> } {
  const [first, list] = (payload ?? '').split(' ', 2);
  const head = /^\d+$/.test(first) ? Number(first) : null;
  if (head === null) return { head };
  return list === undefined ? { head } : { head, types: new Set(list.split(',').filter((t) => t.length > 0)) };
}

/**
 * One LISTEN connection per store, shared by every subscription and the relay. A notification only says "the
 * head moved"; readers then page with "position > last seen", so a lost notification costs latency, never an
 * event (their polling fallback catches up). When the connection breaks it reconnects with backoff and wakes
 * everyone, since notifications sent meanwhile are lost.
 */
export class HeadNotifier {
  private client: Client | null = null;
  private connecting: Promise<void> | null = null;
  private readonly listeners = new Set<HeadListener>();
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
  listen(fn: HeadListener): () => void {
    this.listeners.add(fn);
    void this.ensureConnected();
    return () => {
      this.listeners.delete(fn);
    };
  }

  private emit(head: number | null, types?: ReadonlySet<string>): void {
    for (const fn of [...this.listeners]) fn(head, types);
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
      const { head, types } = parseHeadPayload(msg.payload);
      this.emit(head, types);
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
