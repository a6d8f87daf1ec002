import type { DataOf, Decider, RoundCollectionClaimed } from '@aevo/contracts';

/** A claim with the time it was (or is to be) recorded: expiry is judged on it. */
export interface RoundClaimEvent {
  type: 'RoundCollectionClaimed';
  data: DataOf<typeof RoundCollectionClaimed>;
  /** The envelope's time, in ms since the epoch. */
  atMs: number;
}

export interface ClaimRound {
  type: 'ClaimRound';
  round: number;
  replicaId: string;
  /** When the command is handled (ms since the epoch): a claim older than holdMs has expired. */
  nowMs: number;
  holdMs: number;
}

/** The latest claim on the round's prose pass. */
export interface RoundClaimState {
  last: { claimedBy: string; atMs: number } | null;
}

/** Whether `replicaId` holds the round's claim in `state` (after the command was handled). */
export const holdsClaim = (state: RoundClaimState, replicaId: string): boolean => state.last?.claimedBy === replicaId;

/**
 * A round's prose-pass claim (`collector-claim-<campaign>-r<round>`): a replica takes the round when nobody holds it,
 * or when the last claim is older than the hold (a crashed replica); it records nothing when it already holds it or
 * while another's claim holds, so racing replicas do not each pay for an LLM call.
 */
export const roundClaimDecider: Decider<ClaimRound, RoundClaimEvent, RoundClaimState> = {
  initialState: () => ({ last: null }),
  evolve: (_, e) => ({ last: { claimedBy: e.data.claimedBy, atMs: e.atMs } }),
  decide: (c, s) => {
    if (holdsClaim(s, c.replicaId)) return [];
    if (s.last && c.nowMs - s.last.atMs < c.holdMs) return [];
    const data = { round: c.round, claimedBy: c.replicaId, expiresAfterSeconds: Math.ceil(c.holdMs / 1000) };
    return [{ type: 'RoundCollectionClaimed', data, atMs: c.nowMs }];
  },
};
