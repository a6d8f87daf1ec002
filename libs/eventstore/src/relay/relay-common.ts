/** What both relays (outbox and all-stream) share: their logger and the pause that batches a flood of appends. */

export type RelayLogLevel = 'info' | 'warn' | 'error';
export type RelayLogger = (level: RelayLogLevel, msg: string, fields?: Record<string, unknown>) => void;

/**
 * How long the relay waits after a wake-up before reading, given how many events its last read found: the full
 * pause while busy (fuller batches), none for a trickle (latency).
 */
export function coalescePauseMs(lastRead: number, opts: { coalesceMs: number; coalesceFromEvents: number }): number {
  return opts.coalesceMs > 0 && lastRead >= opts.coalesceFromEvents ? opts.coalesceMs : 0;
}

/** Thrown (and logged) when the stream holds something the relay cannot continue from. */
export class RelayStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RelayStateError';
  }
}
