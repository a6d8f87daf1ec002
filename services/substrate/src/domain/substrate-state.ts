import {
  CampaignCompleted,
  CampaignStarted,
  CandidateForked,
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
  type EventEnvelope,
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

export type Env = Pick<EventEnvelope, 'type' | 'data' | 'campaignId'>;

export const violationKey = (kind: string, p: string) => `${kind} ${p}`;

function updateCandidate(state: SubstrateState, id: string, f: (c: CandidateState) => CandidateState): SubstrateState {
  const c = state.candidates[id];
  if (!c) return state;
  return { ...state, candidates: { ...state.candidates, [id]: f(c) } };
}

function endJob(state: SubstrateState, jobId: string): SubstrateState {
  const candidateId = state.activeJobs[jobId];
  if (candidateId === undefined) return state;
  const { [jobId]: _gone, ...rest } = state.activeJobs;
  return updateCandidate({ ...state, activeJobs: rest }, candidateId, (c) => ({
    ...c,
    activeJobs: c.activeJobs.filter((j) => j !== jobId),
  }));
}

export function evolve(state: SubstrateState, event: Env): SubstrateState {
  const s = state.campaignId === null ? { ...state, campaignId: event.campaignId } : state;
  switch (event.type) {
    case CampaignStarted.type: {
      const d = event.data as DataOf<typeof CampaignStarted>;
      return {
        ...s,
        substratePath: d.config.substratePath,
        standingRecipes: {
          ...s.standingRecipes,
          [d.initialPolicy.revision]: d.initialPolicy.standingRecipe as Record<string, unknown>,
        },
      };
    }
    case PolicyRevised.type: {
      const d = event.data as DataOf<typeof PolicyRevised>;
      return {
        ...s,
        standingRecipes: {
          ...s.standingRecipes,
          [d.policy.revision]: d.policy.standingRecipe as Record<string, unknown>,
        },
      };
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
        rounds: {
          ...s.rounds,
          [d.round]: {
            policyRevision: d.policyRevision,
            candidateIds: d.candidates.map((c) => c.candidateId),
            closed: false,
          },
        },
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
      return {
        ...s,
        snapshot: {
          snapshotId: d.snapshotId,
          snapshotPath: d.snapshotPath,
          name: d.name,
          version: d.version,
          frozenSha256: d.frozenSha256,
        },
      };
    }
    case SubstrateRejected.type:
      return s.snapshot ? s : { ...s, rejected: true };
    case SnapshotDamaged.type: {
      const d = event.data as DataOf<typeof SnapshotDamaged>;
      const damage = [
        ...s.damage,
        { outcome: d.outcome, paths: d.files.map((f) => f.path), quarantinedAt: d.quarantinedAt },
      ];
      return {
        ...s,
        damage,
        snapshotLost: s.snapshotLost ?? (d.outcome === 'unrecoverable' ? snapshotDamageReason(d) : null),
      };
    }
    case CandidateForked.type: {
      const d = event.data as DataOf<typeof CandidateForked>;
      return updateCandidate(s, d.candidateId, (c) =>
        c.status === 'planned' ? { ...c, status: 'forked', sandboxPath: d.sandboxPath } : c,
      );
    }
    case FrozenPathViolated.type: {
      const d = event.data as DataOf<typeof FrozenPathViolated>;
      return updateCandidate(s, d.candidateId, (c) => ({
        ...c,
        status: c.status === 'collected' ? c.status : 'invalidated',
        violations: c.violations.includes(violationKey(d.kind, d.path))
          ? c.violations
          : [...c.violations, violationKey(d.kind, d.path)],
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
