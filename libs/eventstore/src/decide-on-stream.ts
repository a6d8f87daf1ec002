import { createEvent, eventDefinition, type Decider, type ServiceName } from '@aevo/contracts';
import { ConcurrencyError, type EventStore } from './port';

export type DeciderDataEvent = { type: string; data: unknown };

export interface DeciderStreamContext {
  campaignId: string;
  streamId: string;
  source: ServiceName;
  causationId?: string | null;
  correlationId?: string | null;
}

/**
 * Loads a stream, folds it with the decider, decides, and appends with the version it read (optimistic
 * concurrency). On a conflict it reloads and decides again, so two replicas handling related messages at once
 * still produce each event once. Returns the events appended (empty when the decider had nothing to say).
 */
export async function decideOnStream<C, E extends DeciderDataEvent, S>(
  store: EventStore,
  decider: Decider<C, E, S>,
  ctx: DeciderStreamContext,
  command: C | ((state: S) => C | null),
  opts: { maxAttempts?: number; knownTypes?: ReadonlySet<string> } = {},
): Promise<E[]> {
  const attempts = opts.maxAttempts ?? 8;
  for (let attempt = 1; ; attempt++) {
    const stored = await store.readStream(ctx.streamId);
    const state = stored
      .filter((e) => !opts.knownTypes || opts.knownTypes.has(e.type))
      .reduce((s, e) => decider.evolve(s, { type: e.type, data: e.data } as E), decider.initialState());
    const cmd = typeof command === 'function' ? (command as (s: S) => C | null)(state) : command;
    if (cmd === null) return [];
    const events = decider.decide(cmd, state);
    if (events.length === 0) return [];
    const envelopes = events.map((e) => {
      const def = eventDefinition(e.type);
      if (!def) throw new Error(`decider produced an unregistered event type ${e.type}`);
      return createEvent(def, e.data as never, ctx);
    });
    try {
      await store.append(
        ctx.streamId,
        stored.length === 0 ? 'no-stream' : stored[stored.length - 1].streamVersion,
        envelopes,
      );
      return events;
    } catch (err) {
      if (err instanceof ConcurrencyError && attempt < attempts) continue;
      throw err;
    }
  }
}
