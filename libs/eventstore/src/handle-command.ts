import {
  DomainError,
  createEvent,
  eventDefinition,
  type Decider,
  type EventEnvelope,
  type ServiceName,
} from '@aevo/contracts';
import { ConcurrencyError, type AppendResult, type EventStore, type StoredEvent } from './port';

/**
 * The one retry policy for every command: after a ConcurrencyError the stream is re-read and the command decided
 * again this many times, then the error is thrown. Eight covers the widest fan-in we run (a round's workers and the
 * orchestrator's reactions appending to one campaign stream at once) with room to spare.
 */
export const COMMAND_RETRIES = 8;

export interface HandleOptions<S, R> {
  /** Idempotency key: a retried commandId returns the first outcome and writes nothing. */
  commandId?: string;
  /**
   * What the commandId is bound to (a hash of the command's name and body, e.g. @aevo/messaging's
   * commandFingerprint): recorded with the outcome; the same commandId with another fingerprint is refused with
   * IDEMPOTENCY_CONFLICT instead of answering the first command's outcome.
   */
  fingerprint?: string;
  /** Re-reads and re-decides this many times after a ConcurrencyError (default COMMAND_RETRIES), then rethrows. */
  retries?: number;
  /** What to answer the caller (recorded with the commandId so a retry gets the same answer); default null. */
  result?: (outcome: { events: EventEnvelope[]; state: S; version: number }) => R;
  /**
   * The caller's state of this stream, already folded up to `version`: only the events after it are read and folded
   * (a service that keeps its streams' state need not re-read a whole stream per decision; bench/campaign). Must be
   * what folding the stream's first `version` events gives — a state folded further or from another stream would
   * be decided on silently.
   */
  from?: { state: S; version: number };
  /**
   * With `from`: the first decision is made on it without reading the stream. Only an append at `from.version`
   * proves that state current (the store refuses it otherwise), so a decision that writes nothing, a refusal or a
   * conflict is decided again on what a read returns. For a caller whose `from` is current almost always (its own
   * last append, or a read it has just made): one round trip per command instead of two.
   */
  optimistic?: boolean;
}

export interface HandleResult<S, R> {
  /** Events this command wrote (for a duplicate: the ones the first execution wrote). */
  events: StoredEvent[];
  /** State after those events. */
  state: S;
  /** The stream version `state` is folded up to: with `state`, a valid `from` for the next command. */
  version: number;
  /** The answer computed by `result` (for a duplicate: the recorded one). */
  result: R;
  /** Null when the command was skipped (a command function that answered null). */
  append: AppendResult | null;
  duplicate: boolean;
  /** 1 + the number of concurrency retries. */
  attempts: number;
}

/**
 * Either the command, or a function of the stream's current state that returns it (null: nothing to do) — for
 * reactions whose command depends on what the stream already holds.
 */
export type CommandOrReaction<C, S> = C | ((state: S) => C | null);

/** The state at `version`: from `from` (the caller's state at its version) when given, else from the start. */
function foldUpTo<S>(
  decider: Decider<unknown, EventEnvelope, S>,
  events: StoredEvent[],
  version: number,
  from: { state: S; version: number } | undefined,
): S {
  let state = from?.state ?? decider.initialState();
  const after = from?.version ?? 0;
  for (const e of events) if (e.streamVersion > after && e.streamVersion <= version) state = decider.evolve(state, e);
  return state;
}

/**
 * The command handler every service (and the worker runtime) uses: read the stream → fold with evolve → decide →
 * append at the version read. A racing writer makes the append fail with ConcurrencyError; then the stream is
 * re-read and the command decided again on the new state (bounded by `retries`). With a commandId, a retry of the
 * same command finds the recorded outcome and writes nothing; the decision stays pure and the store does the
 * deduplication atomically.
 */
export async function handle<C, S, R = null>(
  store: EventStore,
  streamId: string,
  decider: Decider<C, EventEnvelope, S>,
  command: CommandOrReaction<C, S>,
  opts: HandleOptions<S, R> = {},
): Promise<HandleResult<S, R>> {
  const { commandId } = opts;
  const retries = opts.retries ?? COMMAND_RETRIES;
  if (!Number.isInteger(retries) || retries < 0)
    throw new DomainError('INVALID_ARGUMENT', `retries: expected an integer >= 0, got ${String(retries)}`, [
      { path: 'retries', message: 'expected an integer >= 0' },
    ]);
  // A retry of a command that already succeeded must get the first answer, not a refusal decided on the newer state.
  const recorded = await previousOutcome(store, commandId);
  if (recorded)
    return duplicateOutcome(
      store,
      streamId,
      decider,
      checkFingerprint(commandId, recorded, opts.fingerprint),
      1,
      opts.from,
    );
  let known = opts.from ?? { state: decider.initialState(), version: 0 };
  if (!Number.isInteger(known.version) || known.version < 0)
    throw new DomainError('INVALID_ARGUMENT', `from.version: expected an integer >= 0, got ${String(known.version)}`, [
      { path: 'from.version', message: 'expected an integer >= 0' },
    ]);
  // Unread: deciding on `from` as given (optimistic); any outcome but a successful append is decided again on a read.
  let unread = opts.optimistic === true && opts.from !== undefined;
  for (let attempt = 1; ; attempt++) {
    let { state, version } = known;
    if (!unread) {
      // After a conflict only what the racing writer appended is read: the state up to `known` stays valid.
      const tail = await store.readStream(streamId, known.version + 1);
      version = tail.length === 0 ? known.version : tail[tail.length - 1].streamVersion;
      state = tail.reduce((s, e) => decider.evolve(s, e), known.state);
      known = { state, version };
    }
    const cmd = typeof command === 'function' ? (command as (s: S) => C | null)(state) : command;
    if (cmd === null && unread) {
      [unread, attempt] = [false, attempt - 1];
      continue;
    }
    if (cmd === null)
      return { events: [], state, version, result: null as R, append: null, duplicate: false, attempts: attempt };
    let decided: EventEnvelope[];
    try {
      decided = decider.decide(cmd, state);
    } catch (err) {
      if (unread) {
        [unread, attempt] = [false, attempt - 1];
        continue;
      }
      // The first execution may have committed between the check above and this read.
      const late = await previousOutcome(store, commandId);
      if (late)
        return duplicateOutcome(
          store,
          streamId,
          decider,
          checkFingerprint(commandId, late, opts.fingerprint),
          attempt,
          opts.from,
        );
      throw err;
    }
    const after = decided.reduce((s, e) => decider.evolve(s, e), state);
    const result = (
      opts.result ? opts.result({ events: decided, state: after, version: version + decided.length }) : null
    ) as R;
    if (decided.length === 0 && unread) {
      [unread, attempt] = [false, attempt - 1];
      continue;
    }
    // Nothing to write and no id to remember: skip the round trip.
    if (decided.length === 0 && commandId === undefined)
      return { events: [], state: after, version, result, append: null, duplicate: false, attempts: attempt };
    let append: AppendResult;
    try {
      append = await store.append(streamId, version === 0 ? 'no-stream' : version, decided, {
        commandId,
        commandResult: commandId !== undefined ? recordedResult(result, opts.fingerprint) : undefined,
      });
    } catch (err) {
      if (err instanceof ConcurrencyError && attempt <= retries) {
        unread = false;
        continue;
      }
      throw err;
    }
    if (append.duplicate)
      return duplicateOutcome(
        store,
        streamId,
        decider,
        checkFingerprint(commandId, append, opts.fingerprint),
        attempt,
        opts.from,
      );
    const stored =
      storedAsDecided(decided, append, version) ?? (await storedEvents(store, streamId, append.positions, version));
    return {
      events: stored,
      state: after,
      version: append.nextExpectedVersion,
      result,
      append,
      duplicate: false,
      attempts: attempt,
    };
  }
}

/** What the decider-with-data-events adapter needs to make envelopes: the campaign, the stream and the source. */
export interface EnvelopeContext {
  campaignId: string;
  streamId: string;
  source: ServiceName;
  causationId?: string | null;
  correlationId?: string | null;
}

export type DataEvent = { type: string; data: unknown };

/**
 * Lifts a decider written over `{ type, data }` events (the shape a domain module writes without knowing envelopes)
 * into one over envelopes, for `handle`: decided events become envelopes of `ctx` (their type must be registered in
 * the contracts), and stored events whose type is not in `knownTypes` (when given) are not folded.
 */
export function withEnvelopes<C, E extends DataEvent, S>(
  decider: Decider<C, E, S>,
  ctx: EnvelopeContext,
  knownTypes?: ReadonlySet<string>,
): Decider<C, EventEnvelope, S> {
  return {
    initialState: () => decider.initialState(),
    evolve: (s, e) =>
      knownTypes && !knownTypes.has(e.type) ? s : decider.evolve(s, { type: e.type, data: e.data } as E),
    decide: (c, s) =>
      decider.decide(c, s).map((e) => {
        const def = eventDefinition(e.type);
        if (!def) throw new Error(`decider produced an unregistered event type ${e.type}`);
        return createEvent(def, e.data as never, ctx);
      }),
  };
}

/**
 * A `{ type, data }` decider's state folded from stored events (a read outside `handle`); events whose type is not in
 * `knownTypes` (when given) are skipped, as `withEnvelopes` skips them.
 */
export function foldDataEvents<E extends DataEvent, S>(
  decider: Pick<Decider<unknown, E, S>, 'evolve' | 'initialState'>,
  events: readonly DataEvent[],
  knownTypes?: ReadonlySet<string>,
): S {
  return events.reduce(
    (s, e) => (knownTypes && !knownTypes.has(e.type) ? s : decider.evolve(s, { type: e.type, data: e.data } as E)),
    decider.initialState(),
  );
}

/** The decided data events of a handled command (for callers of a `withEnvelopes` decider). */
export function dataEventsOf<E extends DataEvent>(outcome: HandleResult<unknown, unknown>): E[] {
  return outcome.events.map((e) => ({ type: e.type, data: e.data }) as E);
}

async function previousOutcome(store: EventStore, commandId: string | undefined): Promise<AppendResult | null> {
  if (commandId === undefined || !store.commandOutcome) return null;
  return store.commandOutcome(commandId);
}

async function duplicateOutcome<C, S, R>(
  store: EventStore,
  streamId: string,
  decider: Decider<C, EventEnvelope, S>,
  append: AppendResult,
  attempts: number,
  from: { state: S; version: number } | undefined,
): Promise<HandleResult<S, R>> {
  const history = await store.readStream(streamId);
  const wanted = new Set(append.positions);
  const events = history.filter((e) => wanted.has(e.position));
  const state = foldUpTo(decider as Decider<unknown, EventEnvelope, S>, history, append.nextExpectedVersion, from);
  // Folded from the caller's state when that is newer than the first execution's outcome.
  const version = Math.max(from?.version ?? 0, append.nextExpectedVersion);
  const recorded = append.commandResult as { value?: R } | undefined;
  return { events, state, version, result: (recorded?.value ?? null) as R, append, duplicate: true, attempts };
}

/**
 * The events an append wrote, without reading them back: the decided envelopes at the positions the store assigned
 * (in order) and the versions after `versionBefore`. Null when the store's answer does not line up with them.
 */
function storedAsDecided(
  decided: readonly EventEnvelope[],
  append: AppendResult,
  versionBefore: number,
): StoredEvent[] | null {
  if (append.positions.length !== decided.length || append.nextExpectedVersion !== versionBefore + decided.length)
    return null;
  return decided.map((e, i) => ({ ...e, position: append.positions[i], streamVersion: versionBefore + i + 1 }));
}

async function storedEvents(
  store: EventStore,
  streamId: string,
  positions: number[],
  versionBefore: number,
): Promise<StoredEvent[]> {
  if (positions.length === 0) return [];
  const wanted = new Set(positions);
  return (await store.readStream(streamId, versionBefore + 1)).filter((e) => wanted.has(e.position));
}

/** What is recorded with a commandId: the answer, and the fingerprint the id is bound to (when there is one). */
export function recordedResult<R>(value: R, fingerprint: string | undefined): { value: R; fingerprint?: string } {
  return fingerprint === undefined ? { value } : { value, fingerprint };
}

export class IdempotencyConflictError extends DomainError {
  constructor(commandId: string) {
    super(
      'IDEMPOTENCY_CONFLICT',
      `command id ${commandId} was already used for another command or body; nothing was applied`,
      [
        {
          path: 'commandId',
          message:
            'already used with another command name or body: a retry must resend the same command, a new ' +
            'command needs a new id',
        },
      ],
    );
    this.name = 'IdempotencyConflictError';
  }
}

/**
 * A recorded outcome answers a retry only when it was recorded for the same fingerprint. Without a fingerprint of
 * its own the caller is an internal, deterministic key and is not checked; a fingerprinted command meeting an
 * outcome recorded without one (another kind of writer used that id) is a conflict too.
 */
export function checkFingerprint(
  commandId: string | undefined,
  outcome: AppendResult,
  fingerprint: string | undefined,
): AppendResult {
  if (fingerprint === undefined || commandId === undefined) return outcome;
  const recorded = outcome.commandResult as { fingerprint?: unknown } | null | undefined;
  if (recorded === null || typeof recorded !== 'object' || recorded.fingerprint !== fingerprint)
    throw new IdempotencyConflictError(commandId);
  return outcome;
}
