import {
  CandidateForked,
  FrozenPathViolated,
  SandboxCollected,
  SnapshotDamaged,
  SubstrateRejected,
  SubstrateSnapshotted,
  createEvent,
  type Decider,
  type EventDefinition,
  type EventEnvelope,
} from '@aevo/contracts';
import { handle, type EventStore, type StoredEvent } from '@aevo/eventstore';
import {
  RELEVANT_EVENT_TYPES,
  decide,
  evolve,
  initialSubstrateState,
  type SubstrateCommand,
  type SubstrateEvent,
  type SubstrateState,
} from '../domain/substrate';

const DEFINITIONS: Record<SubstrateEvent['type'], EventDefinition> = {
  SubstrateSnapshotted,
  SubstrateRejected,
  CandidateForked,
  FrozenPathViolated,
  SandboxCollected,
  SnapshotDamaged,
};

const LOAD_PAGE = 5000;

/** The stream this service writes for a campaign; its version guards every decision (optimistic concurrency). */
export const substrateStreamId = (campaignId: string) => `substrate:${campaignId}`;

/** Where a decision came from: the event (or command) that caused it. */
export interface Cause {
  causationId?: string | null;
  correlationId?: string | null;
}

export function causeOf(e: StoredEvent | EventEnvelope): Cause {
  return { causationId: e.id, correlationId: e.correlationId ?? e.id };
}

export interface RecordOptions<R> extends Cause {
  commandId?: string;
  fingerprint?: string;
  result?: (events: EventEnvelope[], state: SubstrateState) => R;
}

export interface Recorded<R> {
  /** Events this call wrote (none for a duplicate: the first call wrote them). */
  events: EventEnvelope[];
  state: SubstrateState;
  result: R;
  duplicate: boolean;
}

/**
 * The campaign as the substrate service sees it: its own stream plus the events of other services that concern
 * sandboxes, folded incrementally; and the one way to record a decision, through `handle()` on
 * `substrate:<campaignId>`.
 */
export class SubstrateLog {
  /** Per campaign: the state folded so far, its stream version and the last position read. */
  private readonly folded = new Map<string, { state: SubstrateState; version: number; position: number }>();

  constructor(private readonly store: EventStore) {}

  /**
   * The campaign's state, folded incrementally: only events after the last position read are fetched and folded
   * (positions become visible in position order, so nothing is skipped; evolve never mutates, so a folded state is
   * safe to share). Re-reading the whole campaign for every decision made a 64-worker × 20-round campaign
   * quadratic (bench/campaign/scale.js). The log stays the record: a new process folds from position 0.
   */
  async load(campaignId: string): Promise<{ state: SubstrateState; version: number }> {
    const streamId = substrateStreamId(campaignId);
    const initial = { state: initialSubstrateState(), version: 0, position: 0 };
    let { state, version, position } = this.folded.get(campaignId) ?? initial;
    for (;;) {
      const page = await this.store.readAll({
        campaignId,
        types: RELEVANT_EVENT_TYPES,
        fromPosition: position,
        limit: LOAD_PAGE,
      });
      for (const e of page) {
        state = evolve(state, e);
        if (e.streamId === streamId) version = e.streamVersion;
        position = e.position;
      }
      if (page.length < LOAD_PAGE) break;
    }
    const cached = this.folded.get(campaignId);
    if (!cached || cached.position < position) this.folded.set(campaignId, { state, version, position });
    return { state: state.campaignId === null ? { ...state, campaignId } : state, version };
  }

  /**
   * Decides `command` on the campaign's state and appends at the substrate stream's version, through `handle()`
   * (re-decided on a concurrent append; `commandId` makes it idempotent).
   */
  async record<R = null>(
    campaignId: string,
    command: SubstrateCommand,
    opts: RecordOptions<R> = {},
  ): Promise<Recorded<R>> {
    const streamId = substrateStreamId(campaignId);
    const loaded = await this.load(campaignId);
    const decider = campaignDecider(loaded, { campaignId, streamId, ...opts });
    const outcome = await handle(this.store, streamId, decider, command, {
      // Just read: the append at its version nearly always goes through without reading the stream again.
      from: loaded,
      optimistic: true,
      commandId: opts.commandId,
      fingerprint: opts.fingerprint,
      result: opts.result ? ({ events, state }) => opts.result!(events, state) : undefined,
    });
    // A duplicate answers the recorded result with the state as the log has it now.
    if (outcome.duplicate)
      return { events: [], state: (await this.load(campaignId)).state, result: outcome.result, duplicate: true };
    return { events: outcome.events, state: outcome.state, result: outcome.result as R, duplicate: false };
  }
}

/**
 * The decider `handle()` runs on the substrate stream, from the campaign as loaded (other services' events included,
 * and this stream up to the version loaded): `handle()` reads and folds only this stream's later events, so a racing
 * writer's decision is seen before this one is re-decided.
 */
function campaignDecider(
  loaded: { state: SubstrateState; version: number },
  ctx: Cause & { campaignId: string; streamId: string },
): Decider<SubstrateCommand, EventEnvelope, SubstrateState> {
  return {
    initialState: () => loaded.state,
    evolve,
    decide: (command, state) =>
      decide(command, state).map((e) =>
        createEvent(DEFINITIONS[e.type], e.data as never, {
          campaignId: ctx.campaignId,
          streamId: ctx.streamId,
          source: 'substrate',
          causationId: ctx.causationId ?? null,
          correlationId: ctx.correlationId ?? null,
        }),
      ),
  };
}
