import {
  CandidateForked,
  DomainError,
  FrozenPathViolated,
  SandboxCollected,
  SnapshotDamaged,
  SubstrateRejected,
  SubstrateSnapshotted,
  type DataOf,
  type Decider,
  type ViolationKind,
  type CheckedAt,
} from '@aevo/contracts';
import {
  evolve,
  initialSubstrateState,
  violationKey,
  type CandidateState,
  type Env,
  type SubstrateState,
} from './substrate-state';

export * from './substrate-state';
export * from './sandboxes';
// ---------------------------------------------------------------------------------------------------------------
// Commands: what the application asks after (or before) touching the file system; decide() keeps the log honest.

export type SubstrateCommand =
  | { kind: 'RecordSnapshot'; snapshot: DataOf<typeof SubstrateSnapshotted> }
  | { kind: 'RejectSubstrate'; substratePath: string; issues: Array<{ path: string; message: string }> }
  | { kind: 'RecordFork'; candidateId: string; sandboxPath: string; snapshotId: string; recipeSha256: string }
  | {
      kind: 'RecordVerification';
      candidateId: string;
      checkedAt: CheckedAt;
      violations: Array<{ path: string; kind: ViolationKind; detail: string }>;
    }
  | { kind: 'CollectSandbox'; candidateId: string; bytesFreed: number }
  | { kind: 'RecordSnapshotDamage'; damage: DataOf<typeof SnapshotDamaged> };

/** Payloads of the events decide() emits; the application wraps them in envelopes. */
export type SubstrateEvent =
  | { type: 'SubstrateSnapshotted'; data: DataOf<typeof SubstrateSnapshotted> }
  | { type: 'SubstrateRejected'; data: DataOf<typeof SubstrateRejected> }
  | { type: 'CandidateForked'; data: DataOf<typeof CandidateForked> }
  | { type: 'FrozenPathViolated'; data: DataOf<typeof FrozenPathViolated> }
  | { type: 'SandboxCollected'; data: DataOf<typeof SandboxCollected> }
  | { type: 'SnapshotDamaged'; data: DataOf<typeof SnapshotDamaged> };

function candidateOrThrow(state: SubstrateState, candidateId: string): CandidateState {
  const c = state.candidates[candidateId];
  if (!c)
    throw new DomainError('CANDIDATE_NOT_FOUND', `no candidate ${candidateId} in campaign ${state.campaignId ?? '?'}`, [
      { path: 'candidateId', message: 'not planned by any RoundStarted of this campaign' },
    ]);
  return c;
}

export function decide(command: SubstrateCommand, state: SubstrateState): SubstrateEvent[] {
  switch (command.kind) {
    case 'RecordSnapshot':
      // The first snapshot recorded for a campaign is the campaign's; a later (racing) one is ignored.
      return state.snapshot ? [] : [{ type: 'SubstrateSnapshotted', data: command.snapshot }];
    case 'RejectSubstrate':
      return state.snapshot || state.rejected
        ? []
        : [{ type: 'SubstrateRejected', data: { substratePath: command.substratePath, issues: command.issues } }];
    case 'RecordSnapshotDamage': {
      const d = command.damage;
      if (!state.snapshot)
        throw new DomainError('NO_SNAPSHOT', 'no snapshot to be damaged before the substrate is snapshotted', [
          { path: 'snapshotId', message: 'no SubstrateSnapshotted yet' },
        ]);
      if (state.snapshot.snapshotId !== d.snapshotId)
        throw new DomainError(
          'SNAPSHOT_MISMATCH',
          `damage found in snapshot ${d.snapshotId}, campaign uses ${state.snapshot.snapshotId}`,
          [{ path: 'snapshotId', message: `expected ${state.snapshot.snapshotId}` }],
        );
      // Once lost, the snapshot is not looked at again; a second report would add nothing.
      if (state.snapshotLost !== null) return [];
      if (d.outcome === 'rebuilt' && d.sourceSnapshotId !== d.snapshotId)
        throw new DomainError(
          'NOT_REBUILT',
          `a snapshot rebuilt as ${d.sourceSnapshotId ?? 'nothing'} is not ${d.snapshotId}`,
          [{ path: 'outcome', message: 'rebuilt only when the source still hashes to the pinned snapshot id' }],
        );
      return [{ type: 'SnapshotDamaged', data: d }];
    }
    case 'RecordFork': {
      const c = candidateOrThrow(state, command.candidateId);
      if (c.status !== 'planned') return [];
      if (!state.snapshot)
        throw new DomainError('NO_SNAPSHOT', 'cannot fork before the substrate is snapshotted', [
          { path: 'snapshotId', message: 'no SubstrateSnapshotted yet' },
        ]);
      if (state.snapshotLost !== null)
        throw new DomainError('SNAPSHOT_DAMAGED', `cannot fork from a damaged snapshot: ${state.snapshotLost}`, [
          { path: 'snapshotId', message: 'damaged beyond repair' },
        ]);
      if (state.snapshot.snapshotId !== command.snapshotId)
        throw new DomainError(
          'SNAPSHOT_MISMATCH',
          `fork made from snapshot ${command.snapshotId}, campaign uses ${state.snapshot.snapshotId}`,
          [{ path: 'snapshotId', message: `expected ${state.snapshot.snapshotId}` }],
        );
      return [
        {
          type: 'CandidateForked',
          data: {
            round: c.round,
            candidateId: c.candidateId,
            index: c.index,
            axis: c.axis,
            isAnchor: c.isAnchor,
            seeds: c.seeds,
            snapshotId: command.snapshotId,
            sandboxPath: command.sandboxPath,
            policyRevision: c.policyRevision,
            recipeSha256: command.recipeSha256,
            // A confirmation run or probe: the worker applies exactly these changes (no agent chooses them).
            ...(c.prescribed ? { prescribed: c.prescribed } : {}),
          },
        },
      ];
    }
    case 'RecordVerification': {
      const c = candidateOrThrow(state, command.candidateId);
      if (c.status === 'planned')
        throw new DomainError('NOT_FORKED', `candidate ${c.candidateId} has no sandbox yet`, [
          { path: 'candidateId', message: 'not forked yet' },
        ]);
      if (c.status === 'collected')
        throw new DomainError('SANDBOX_COLLECTED', `the sandbox of ${c.candidateId} was garbage-collected`, [
          { path: 'candidateId', message: 'sandbox collected' },
        ]);
      const seen = new Set(c.violations);
      const out: SubstrateEvent[] = [];
      for (const v of command.violations) {
        const key = violationKey(v.kind, v.path);
        if (seen.has(key)) continue;
        seen.add(key);
        out.push({
          type: 'FrozenPathViolated',
          data: {
            round: c.round,
            candidateId: c.candidateId,
            path: v.path,
            kind: v.kind,
            detail: v.detail,
            checkedAt: command.checkedAt,
          },
        });
      }
      return out;
    }
    case 'CollectSandbox': {
      const c = candidateOrThrow(state, command.candidateId);
      if (c.status === 'collected') return [];
      if (c.status === 'planned' || c.sandboxPath === null)
        throw new DomainError('NOT_FORKED', `candidate ${c.candidateId} has no sandbox to collect`, [
          { path: 'candidateId', message: 'not forked' },
        ]);
      if (c.activeJobs.length > 0)
        throw new DomainError('SANDBOX_IN_USE', `sandbox of ${c.candidateId} is used by ${c.activeJobs.join(', ')}`, [
          { path: 'candidateId', message: `jobs still running: ${c.activeJobs.join(', ')}` },
        ]);
      return [
        {
          type: 'SandboxCollected',
          data: { candidateId: c.candidateId, sandboxPath: c.sandboxPath, bytesFreed: command.bytesFreed },
        },
      ];
    }
  }
}

/** evolve() over the payloads decide() returns (for the given/when/then specification and tests). */
export const substrateDecider: Decider<SubstrateCommand, Env, SubstrateState> = {
  initialState: initialSubstrateState,
  evolve,
  decide: (cmd, state) => decide(cmd, state).map((e) => ({ ...e, campaignId: state.campaignId ?? '' })),
};
