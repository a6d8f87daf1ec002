import type { ClaudeFellBack, DataOf, Decider } from '@aevo/contracts';
import type { MetaPolicyEvent } from '@aevo/policy-engine';

/** What the meta-policy decided from one round's evidence, ready to be recorded on that round's one-shot stream. */
export interface RecordRevision {
  type: 'RecordRevision';
  /** How a campaign that asked for Claude ended up with the rule engine (recorded first), or null. */
  fellBack: DataOf<typeof ClaudeFellBack> | null;
  /** The meta-policy decider's events: refusals, decoupling bookkeeping and the revision. */
  decided: MetaPolicyEvent[];
}

export type RevisionRecordEvent = { type: 'ClaudeFellBack'; data: DataOf<typeof ClaudeFellBack> } | MetaPolicyEvent;

/** Whether the round's stream already holds a decision. */
export interface RevisionRecordState {
  recorded: boolean;
}

/**
 * The one-shot stream of a round's revision (`meta-policy-<campaign>-r<round>`): the first decision is recorded,
 * any later one (a redelivery, a second replica) records nothing, so each round is revised exactly once.
 */
export const revisionRecordDecider: Decider<RecordRevision, RevisionRecordEvent, RevisionRecordState> = {
  initialState: () => ({ recorded: false }),
  evolve: () => ({ recorded: true }),
  decide: (command, state) => {
    if (state.recorded) return [];
    if (!command.fellBack) return [...command.decided];
    return [{ type: 'ClaudeFellBack', data: command.fellBack }, ...command.decided];
  },
};
