import { DomainError, type Decider, type EventEnvelope } from '@aevo/contracts';
import { ConcurrencyError, type AppendResult, type EventStore, type StoredEvent } from './port';

export interface ExecuteDeciderOptions<C, S, R> {
  store: EventStore;
  streamId: string;
  /** evolve folds the stream's stored events; decide returns complete envelopes for `streamId`. */
  decider: Decider<C, EventEnvelope, S>;
  command: C;
  /** Idempotency key: a retried commandId returns the first outcome and writes nothing. */
  commandId?: string;
  /**
   * What the commandId is bound to (a hash of the command's name and body, e.g. @aevo/messaging's
   * commandFingerprint): recorded with the outcome; the same commandId with another fingerprint is refused with
   * IDEMPOTENCY_CONFLICT instead of answering the first command's outcome.
   */
  fingerprint?: string;
  /** Re-reads and re-decides this many times after a ConcurrencyError (default 3), then rethrows it. */
  maxRetries?: number;
  /** What to answer the caller (recorded with the commandId so a retry gets the same answer); default null. */
  result?: (outcome: { events: EventEnvelope[]; state: S; version: number }) => R;
}

export interface ExecuteDeciderResult<S, R> {
  /** Events this command wrote (for a duplicate: the ones the first execution wrote). */
  events: StoredEvent[];
  /** State after those events. */
  state: S;
  /** The answer computed by `result` (for a duplicate: the recorded one). */
  result: R;
  append: AppendResult;
  duplicate: boolean;
  /** 1 + the number of concurrency retries. */
  attempts: number;
}

function foldUpTo<S>(decider: Decider<unknown, EventEnvelope, S>, events: StoredEvent[], version: number): S {
  let state = decider.initialState();
  for (const e of events) if (e.streamVersion <= version) state = decider.evolve(state, e);
  return state;
}

/**
 * Runs one command against one stream: read → fold with evolve → decide → append at the version read. A racing
 * writer makes the append fail with ConcurrencyError; then the stream is re-read and the command decided again
 * on the new state (bounded by maxRetries). With a commandId, a retry of the same command finds the recorded
 * outcome and writes nothing; the decision stays pure and the store does the deduplication atomically.
 */
export async function executeDecider<C, S, R = null>(
  opts: ExecuteDeciderOptions<C, S, R>,
): Promise<ExecuteDeciderResult<S, R>> {
  const { store, streamId, decider, command, commandId } = opts;
  const maxRetries = opts.maxRetries ?? 3;
  if (!Number.isInteger(maxRetries) || maxRetries < 0)
    throw new DomainError('INVALID_ARGUMENT', `maxRetries: expected an integer >= 0, got ${String(maxRetries)}`, [
      { path: 'maxRetries', message: 'expected an integer >= 0' },
    ]);
  // A retry of a command that already succeeded must get the first answer, not a refusal decided on the newer state.
  const recorded = await previousOutcome(store, commandId);
  if (recorded) return duplicateOutcome(opts, checkFingerprint(commandId, recorded, opts.fingerprint), 1);
  for (let attempt = 1; ; attempt++) {
    const history = await store.readStream(streamId);
    const version = history.length === 0 ? 0 : history[history.length - 1].streamVersion;
    const state = history.reduce((s, e) => decider.evolve(s, e), decider.initialState());
    let decided: EventEnvelope[];
    try {
      decided = decider.decide(command, state);
    } catch (err) {
      // The first execution may have committed between the check above and this read.
      const late = await previousOutcome(store, commandId);
      if (late) return duplicateOutcome(opts, checkFingerprint(commandId, late, opts.fingerprint), attempt);
      throw err;
    }
    const after = decided.reduce((s, e) => decider.evolve(s, e), state);
    const result = (
      opts.result ? opts.result({ events: decided, state: after, version: version + decided.length }) : null
    ) as R;
    let append: AppendResult;
    try {
      append = await store.append(streamId, version, decided, {
        commandId,
        commandResult: commandId !== undefined ? recordedResult(result, opts.fingerprint) : undefined,
      });
    } catch (err) {
      if (err instanceof ConcurrencyError && attempt <= maxRetries) continue;
      throw err;
    }
    if (append.duplicate) return duplicateOutcome(opts, checkFingerprint(commandId, append, opts.fingerprint), attempt);
    const stored = await storedEvents(store, streamId, append.positions, version);
    return { events: stored, state: after, result, append, duplicate: false, attempts: attempt };
  }
}

async function previousOutcome(store: EventStore, commandId: string | undefined): Promise<AppendResult | null> {
  if (commandId === undefined || !store.commandOutcome) return null;
  return store.commandOutcome(commandId);
}

async function duplicateOutcome<C, S, R>(
  opts: ExecuteDeciderOptions<C, S, R>,
  append: AppendResult,
  attempts: number,
): Promise<ExecuteDeciderResult<S, R>> {
  const history = await opts.store.readStream(opts.streamId);
  const wanted = new Set(append.positions);
  const events = history.filter((e) => wanted.has(e.position));
  const state = foldUpTo(opts.decider as Decider<unknown, EventEnvelope, S>, history, append.nextExpectedVersion);
  const recorded = append.commandResult as { value?: R } | undefined;
  return { events, state, result: (recorded?.value ?? null) as R, append, duplicate: true, attempts };
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
            'already used with another command name or body: a retry must resend the same command, a new command needs a new id',
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
