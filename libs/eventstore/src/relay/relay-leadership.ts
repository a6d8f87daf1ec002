import { Client } from 'pg';

/**
 * One outbox relay leader at a time: a session-level `pg_try_advisory_lock` on a dedicated connection. When the
 * leader dies, PostgreSQL drops its session and the lock, and a standby's next try takes it.
 */
export class RelayLeadership {
  private lockClient: Client | null = null;

  constructor(
    private readonly databaseUrl: string,
    private readonly lockKey: string,
    /** Called when the lock's connection fails (the leader must stop at once). */
    private readonly onLost: () => void,
  ) {}

  /** The connection holding the lock (null when none): the leader checks it is still the same one. */
  get connection(): Client | null {
    return this.lockClient;
  }

  /** Tries to take the lock (opening the session if needed); true when this relay now leads. */
  async acquire(): Promise<boolean> {
    if (!this.lockClient) {
      const c = new Client({
        connectionString: this.databaseUrl,
        application_name: 'aevo-outbox-relay-lock',
        keepAlive: true,
        query_timeout: 30_000,
      });
      c.on('error', () => {
        if (this.lockClient === c) this.lockClient = null;
        this.onLost();
      });
      this.lockClient = c;
      await c.connect();
    }
    const res = await this.lockClient.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [
      this.lockKey,
    ]);
    return res.rows[0].ok === true;
  }

  /** Ending the session releases the lock; the next attempt opens a fresh one. */
  async release(): Promise<void> {
    const c = this.lockClient;
    this.lockClient = null;
    if (c) await c.end().catch(() => undefined);
  }
}
