import * as path from 'node:path';
import {
  CampaignCompleted,
  CampaignStarted,
  CandidateForked,
  DomainError,
  FrozenPathViolated,
  JobCancelled,
  JobFailed,
  JobQueued,
  JobRequested,
  JobStarted,
  JobSucceeded,
  ManifestSubmitted,
  PolicyRevised,
  RoundClosed,
  RoundStarted,
  SandboxCollected,
  SnapshotDamaged,
  snapshotDamageReason,
  SubmissionRequested,
  SubstrateRejected,
  SubstrateSnapshotted,
  type DataOf,
  type Decider,
  type EventEnvelope,
  type ViolationKind,
  type CheckedAt,
} from '@aevo/contracts';

/**
 * The substrate service's view of one campaign: a pure fold over the campaign's log (its own events and the
 * orchestrator's, meta-policy's, worker's, dispatch's and leaderboard's that concern sandboxes).
 */

export type CandidateStatus = 'planned' | 'forked' | 'invalidated' | 'collected';

export interface CandidateState {
  candidateId: string;
  round: number;
  index: number;
  axis: DataOf<typeof CandidateForked>['axis'];
  isAnchor: boolean;
  seeds: number[];
  policyRevision: number;
  status: CandidateStatus;
  sandboxPath: string | null;
  /** Recorded violations as "kind path", so a violation is recorded once however often it is seen. */
  violations: string[];
  /** Jobs requested for this candidate that have not reached a terminal event: the sandbox is in use. */
  activeJobs: string[];
  /** Submitted to the leaderboard: a winner, kept by the keep-winners policy. */
  submitted: boolean;
  /** The plan's prescribed change (confirmation run or probe), carried onto CandidateForked for the worker. */
  prescribed?: DataOf<typeof CandidateForked>['prescribed'];
}

export interface SnapshotRef {
  snapshotId: string;
  snapshotPath: string;
  name: string;
  version: string;
  /** Pinned path → sha256, from SubstrateSnapshotted: the only pins trusted (never the record on disk). */
  frozenSha256: Record<string, string>;
}

export interface SnapshotDamageRef {
  outcome: DataOf<typeof SnapshotDamaged>['outcome'];
  paths: string[];
  quarantinedAt: string | null;
}

export interface SubstrateState {
  campaignId: string | null;
  substratePath: string | null;
  snapshot: SnapshotRef | null;
  rejected: boolean;
  /** Every SnapshotDamaged of the campaign, in order. */
  damage: SnapshotDamageRef[];
  /** Set by an unrecoverable SnapshotDamaged: nothing is forked or verified from the snapshot any more. */
  snapshotLost: string | null;
  /** Standing recipe per policy revision (revision 0 from CampaignStarted, later ones from PolicyRevised). */
  standingRecipes: Record<number, Record<string, unknown>>;
  rounds: Record<number, { policyRevision: number; candidateIds: string[]; closed: boolean }>;
  candidates: Record<string, CandidateState>;
  /** jobId → candidateId for jobs not yet terminal. */
  activeJobs: Record<string, string>;
  latestRound: number;
  completed: boolean;
}

export const initialSubstrateState = (): SubstrateState => ({
  campaignId: null,
  substratePath: null,
  snapshot: null,
  rejected: false,
  damage: [],
  snapshotLost: null,
  standingRecipes: {},
  rounds: {},
  candidates: {},
  activeJobs: {},
  latestRound: 0,
  completed: false,
});

/** Event types the fold reads; the application loads exactly these from the store. */
export const RELEVANT_EVENT_TYPES = [
  CampaignStarted,
  PolicyRevised,
  RoundStarted,
  RoundClosed,
  CampaignCompleted,
  SubstrateSnapshotted,
  SubstrateRejected,
  SnapshotDamaged,
  CandidateForked,
  FrozenPathViolated,
  SandboxCollected,
  JobRequested,
  JobQueued,
  JobStarted,
  JobSucceeded,
  JobFailed,
  JobCancelled,
  SubmissionRequested,
  ManifestSubmitted,
].map((d) => d.type);

type Env = Pick<EventEnvelope, 'type' | 'data' | 'campaignId'>;

const violationKey = (kind: string, p: string) => `${kind} ${p}`;

function updateCandidate(state: SubstrateState, id: string, f: (c: CandidateState) => CandidateState): SubstrateState {
  const c = state.candidates[id];
  if (!c) return state;
  return { ...state, candidates: { ...state.candidates, [id]: f(c) } };
}

function endJob(state: SubstrateState, jobId: string): SubstrateState {
  const candidateId = state.activeJobs[jobId];
  if (candidateId === undefined) return state;
  const { [jobId]: _gone, ...rest } = state.activeJobs;
  return updateCandidate({ ...state, activeJobs: rest }, candidateId, (c) => ({ ...c, activeJobs: c.activeJobs.filter((j) => j !== jobId) }));
}

export function evolve(state: SubstrateState, event: Env): SubstrateState {
  const s = state.campaignId === null ? { ...state, campaignId: event.campaignId } : state;
  switch (event.type) {
    case CampaignStarted.type: {
      const d = event.data as DataOf<typeof CampaignStarted>;
      return {
        ...s,
        substratePath: d.config.substratePath,
        standingRecipes: { ...s.standingRecipes, [d.initialPolicy.revision]: d.initialPolicy.standingRecipe as Record<string, unknown> },
      };
    }
    case PolicyRevised.type: {
      const d = event.data as DataOf<typeof PolicyRevised>;
      return { ...s, standingRecipes: { ...s.standingRecipes, [d.policy.revision]: d.policy.standingRecipe as Record<string, unknown> } };
    }
    case RoundStarted.type: {
      const d = event.data as DataOf<typeof RoundStarted>;
      if (s.rounds[d.round]) return s;
      const candidates = { ...s.candidates };
      for (const c of d.candidates) {
        if (candidates[c.candidateId]) continue;
        candidates[c.candidateId] = {
          candidateId: c.candidateId,
          round: d.round,
          index: c.index,
          axis: c.axis,
          isAnchor: c.isAnchor,
          seeds: c.seeds,
          policyRevision: d.policyRevision,
          status: 'planned',
          sandboxPath: null,
          violations: [],
          activeJobs: [],
          submitted: false,
          ...(c.prescribed ? { prescribed: c.prescribed } : {}),
        };
      }
      return {
        ...s,
        candidates,
        rounds: { ...s.rounds, [d.round]: { policyRevision: d.policyRevision, candidateIds: d.candidates.map((c) => c.candidateId), closed: false } },
        latestRound: Math.max(s.latestRound, d.round),
      };
    }
    case RoundClosed.type: {
      const d = event.data as DataOf<typeof RoundClosed>;
      const r = s.rounds[d.round];
      return r ? { ...s, rounds: { ...s.rounds, [d.round]: { ...r, closed: true } } } : s;
    }
    case CampaignCompleted.type:
      return { ...s, completed: true };
    case SubstrateSnapshotted.type: {
      if (s.snapshot) return s;
      const d = event.data as DataOf<typeof SubstrateSnapshotted>;
      return { ...s, snapshot: { snapshotId: d.snapshotId, snapshotPath: d.snapshotPath, name: d.name, version: d.version, frozenSha256: d.frozenSha256 } };
    }
    case SubstrateRejected.type:
      return s.snapshot ? s : { ...s, rejected: true };
    case SnapshotDamaged.type: {
      const d = event.data as DataOf<typeof SnapshotDamaged>;
      const damage = [...s.damage, { outcome: d.outcome, paths: d.files.map((f) => f.path), quarantinedAt: d.quarantinedAt }];
      return { ...s, damage, snapshotLost: s.snapshotLost ?? (d.outcome === 'unrecoverable' ? snapshotDamageReason(d) : null) };
    }
    case CandidateForked.type: {
      const d = event.data as DataOf<typeof CandidateForked>;
      return updateCandidate(s, d.candidateId, (c) => (c.status === 'planned' ? { ...c, status: 'forked', sandboxPath: d.sandboxPath } : c));
    }
    case FrozenPathViolated.type: {
      const d = event.data as DataOf<typeof FrozenPathViolated>;
      return updateCandidate(s, d.candidateId, (c) => ({
        ...c,
        status: c.status === 'collected' ? c.status : 'invalidated',
        violations: c.violations.includes(violationKey(d.kind, d.path)) ? c.violations : [...c.violations, violationKey(d.kind, d.path)],
      }));
    }
    case SandboxCollected.type: {
      const d = event.data as DataOf<typeof SandboxCollected>;
      return updateCandidate(s, d.candidateId, (c) => ({ ...c, status: 'collected' }));
    }
    case JobRequested.type: {
      const { jobId, candidateId } = (event.data as DataOf<typeof JobRequested>).spec;
      return trackJob(s, jobId, candidateId);
    }
    case JobQueued.type:
    case JobStarted.type: {
      // A JobStarted without its JobRequested in view (e.g. a redelivery order) still marks the sandbox in use.
      const { jobId, candidateId } = event.data as DataOf<typeof JobStarted>; // JobQueued has both too
      return trackJob(s, jobId, candidateId);
    }
    case JobSucceeded.type:
    case JobFailed.type:
    case JobCancelled.type: {
      const { jobId } = event.data as { jobId: string };
      return endJob(s, jobId);
    }
    case SubmissionRequested.type: {
      const d = event.data as DataOf<typeof SubmissionRequested>;
      return updateCandidate(s, d.candidateId, (c) => ({ ...c, submitted: true }));
    }
    default:
      return s;
  }
}

function trackJob(state: SubstrateState, jobId: string, candidateId: string): SubstrateState {
  if (state.activeJobs[jobId] !== undefined) return state;
  if (!state.candidates[candidateId]) return state;
  return updateCandidate({ ...state, activeJobs: { ...state.activeJobs, [jobId]: candidateId } }, candidateId, (c) => ({
    ...c,
    activeJobs: [...c.activeJobs, jobId],
  }));
}

// ---------------------------------------------------------------------------------------------------------------
// Commands: what the application asks after (or before) touching the file system; decide() keeps the log honest.

export type SubstrateCommand =
  | { kind: 'RecordSnapshot'; snapshot: DataOf<typeof SubstrateSnapshotted> }
  | { kind: 'RejectSubstrate'; substratePath: string; issues: Array<{ path: string; message: string }> }
  | { kind: 'RecordFork'; candidateId: string; sandboxPath: string; snapshotId: string; recipeSha256: string }
  | { kind: 'RecordVerification'; candidateId: string; checkedAt: CheckedAt; violations: Array<{ path: string; kind: ViolationKind; detail: string }> }
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
        throw new DomainError('NO_SNAPSHOT', 'no snapshot to be damaged before the substrate is snapshotted', [{ path: 'snapshotId', message: 'no SubstrateSnapshotted yet' }]);
      if (state.snapshot.snapshotId !== d.snapshotId)
        throw new DomainError('SNAPSHOT_MISMATCH', `damage found in snapshot ${d.snapshotId}, campaign uses ${state.snapshot.snapshotId}`, [
          { path: 'snapshotId', message: `expected ${state.snapshot.snapshotId}` },
        ]);
      // Once lost, the snapshot is not looked at again; a second report would add nothing.
      if (state.snapshotLost !== null) return [];
      if (d.outcome === 'rebuilt' && d.sourceSnapshotId !== d.snapshotId)
        throw new DomainError('NOT_REBUILT', `a snapshot rebuilt as ${d.sourceSnapshotId ?? 'nothing'} is not ${d.snapshotId}`, [
          { path: 'outcome', message: 'rebuilt only when the source still hashes to the pinned snapshot id' },
        ]);
      return [{ type: 'SnapshotDamaged', data: d }];
    }
    case 'RecordFork': {
      const c = candidateOrThrow(state, command.candidateId);
      if (c.status !== 'planned') return [];
      if (!state.snapshot)
        throw new DomainError('NO_SNAPSHOT', 'cannot fork before the substrate is snapshotted', [{ path: 'snapshotId', message: 'no SubstrateSnapshotted yet' }]);
      if (state.snapshotLost !== null)
        throw new DomainError('SNAPSHOT_DAMAGED', `cannot fork from a damaged snapshot: ${state.snapshotLost}`, [{ path: 'snapshotId', message: 'damaged beyond repair' }]);
      if (state.snapshot.snapshotId !== command.snapshotId)
        throw new DomainError('SNAPSHOT_MISMATCH', `fork made from snapshot ${command.snapshotId}, campaign uses ${state.snapshot.snapshotId}`, [
          { path: 'snapshotId', message: `expected ${state.snapshot.snapshotId}` },
        ]);
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
        throw new DomainError('NOT_FORKED', `candidate ${c.candidateId} has no sandbox yet`, [{ path: 'candidateId', message: 'not forked yet' }]);
      if (c.status === 'collected')
        throw new DomainError('SANDBOX_COLLECTED', `the sandbox of ${c.candidateId} was garbage-collected`, [{ path: 'candidateId', message: 'sandbox collected' }]);
      const seen = new Set(c.violations);
      const out: SubstrateEvent[] = [];
      for (const v of command.violations) {
        const key = violationKey(v.kind, v.path);
        if (seen.has(key)) continue;
        seen.add(key);
        out.push({ type: 'FrozenPathViolated', data: { round: c.round, candidateId: c.candidateId, path: v.path, kind: v.kind, detail: v.detail, checkedAt: command.checkedAt } });
      }
      return out;
    }
    case 'CollectSandbox': {
      const c = candidateOrThrow(state, command.candidateId);
      if (c.status === 'collected') return [];
      if (c.status === 'planned' || c.sandboxPath === null)
        throw new DomainError('NOT_FORKED', `candidate ${c.candidateId} has no sandbox to collect`, [{ path: 'candidateId', message: 'not forked' }]);
      if (c.activeJobs.length > 0)
        throw new DomainError('SANDBOX_IN_USE', `sandbox of ${c.candidateId} is used by ${c.activeJobs.join(', ')}`, [
          { path: 'candidateId', message: `jobs still running: ${c.activeJobs.join(', ')}` },
        ]);
      return [{ type: 'SandboxCollected', data: { candidateId: c.candidateId, sandboxPath: c.sandboxPath, bytesFreed: command.bytesFreed } }];
    }
  }
}

/** evolve() over the payloads decide() returns (for the given/when/then specification and tests). */
export const substrateDecider: Decider<SubstrateCommand, Env, SubstrateState> = {
  initialState: initialSubstrateState,
  evolve,
  decide: (cmd, state) => decide(cmd, state).map((e) => ({ ...e, campaignId: state.campaignId ?? '' })),
};

// ---------------------------------------------------------------------------------------------------------------
// Queries.

/** Where a candidate's sandbox lives: deterministic, so a redelivered RoundStarted finds the earlier fork. */
export function sandboxPathFor(sandboxesRoot: string, campaignId: string, candidateId: string): string {
  return path.join(sandboxesRoot, campaignId, candidateId);
}

export interface PlannedFork {
  candidateId: string;
  round: number;
  policyRevision: number;
  standingRecipe: Record<string, unknown>;
}

/**
 * Candidates of `round` still to fork, with the standing recipe of the round's policy revision.
 * Throws POLICY_UNKNOWN when that revision is not in the log (yet): the caller retries later.
 */
export function forksToMake(state: SubstrateState, round: number): PlannedFork[] {
  const r = state.rounds[round];
  if (!r) return [];
  const recipe = state.standingRecipes[r.policyRevision];
  const pending = r.candidateIds.map((id) => state.candidates[id]).filter((c) => c && c.status === 'planned');
  if (pending.length > 0 && recipe === undefined)
    throw new DomainError('POLICY_UNKNOWN', `round ${round} runs policy revision ${r.policyRevision}, which is not in the log`, [
      { path: 'policyRevision', message: 'no CampaignStarted.initialPolicy or PolicyRevised with this revision' },
    ]);
  return pending.map((c) => ({ candidateId: c.candidateId, round, policyRevision: r.policyRevision, standingRecipe: recipe! }));
}

export interface GcPolicy {
  /** Sandboxes of the latest K rounds are kept (K ≥ 1: the running round is never collected). */
  keepLastRounds: number;
  /** Keep candidates submitted to the leaderboard (their checkpoints may be audited or re-predicted). */
  keepWinners: boolean;
  /** Keep invalidated sandboxes as evidence of the violation. */
  keepInvalidated: boolean;
}

export const DEFAULT_GC_POLICY: GcPolicy = { keepLastRounds: 2, keepWinners: true, keepInvalidated: true };

export interface GcDecision {
  collect: string[];
  /** Eligible by age but a job still uses them; retried when the job ends. */
  inUse: string[];
}

/** Which sandboxes may go now. Only rounds that closed (or a completed campaign) are considered. */
export function collectable(state: SubstrateState, policy: GcPolicy): GcDecision {
  const keepFrom = state.latestRound - Math.max(1, policy.keepLastRounds) + 1;
  const collect: string[] = [];
  const inUse: string[] = [];
  for (const c of Object.values(state.candidates)) {
    if (c.status !== 'forked' && c.status !== 'invalidated') continue;
    if (c.round >= keepFrom) continue;
    if (!state.rounds[c.round]?.closed && !state.completed) continue;
    if (policy.keepWinners && c.submitted) continue;
    if (policy.keepInvalidated && c.status === 'invalidated') continue;
    (c.activeJobs.length > 0 ? inUse : collect).push(c.candidateId);
  }
  const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return { collect: collect.sort(byId), inUse: inUse.sort(byId) };
}
