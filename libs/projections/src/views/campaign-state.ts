import type {
  CampaignConfig,
  ConstitutionRules,
  DataOf,
  DecouplingHypothesis,
  FailureMode,
  PrescribedRun,
  RecipeChange,
  RollingPolicy,
  ScoreVector,
  SelectionCriterion,
  RoundEvidenceRecorded,
} from '@aevo/contracts';
import { nullRecord } from '../projection';

/**
 * The state the views fold (campaign-fold.ts) builds: one campaign's rounds, candidates, jobs, submissions, policy
 * revisions and decoupling steps. Its status words are the one vocabulary every view uses — the dashboard, the API's
 * routes, `aevo campaign status|watch` and the report.
 */

export type CandidateStatus = 'planned' | 'forked' | 'working' | 'completed' | 'failed' | 'invalidated';

export interface TraceStepView {
  step: number;
  tool: string;
  input: unknown;
  output: unknown;
  ok: boolean | null;
  llm: { model: string; inputTokens: number; outputTokens: number } | null;
}

export interface CheckpointView {
  checkpoint: string;
  step: number;
  seed: number;
  dev: ScoreVector;
}

export interface CandidateState {
  candidateId: string;
  round: number;
  index: number;
  axis: string;
  isAnchor: boolean;
  seeds: number[];
  prescribed: PrescribedRun | null;
  status: CandidateStatus;
  worker: { workerId: string; agentKind: string; starts: number; resumedFromSteps: number[] } | null;
  workerFailure: string | null;
  hypothesis: string | null;
  recipeChanges: RecipeChange[];
  recipeDiff: string;
  filesChanged: string[];
  recipeEdits: Array<{ file: string; diff: string; changes: RecipeChange[] }>;
  trace: Map<number, TraceStepView>;
  checkpoints: CheckpointView[];
  evaluated: Map<string, CheckpointView>;
  chosen: { checkpoint: string; seed: number; criterion: string; reason: string; dev: ScoreVector } | null;
  selection: {
    checkpoint: string;
    step: number;
    criterion: SelectionCriterion;
    score: number;
    considered: number;
  } | null;
  evaluationFailures: Array<{ checkpoint: string | null; kind: string; reason: string }>;
  failureModes: FailureMode[];
  cost: { gpuSeconds: number; inputTokens: number; outputTokens: number; toolCalls: number; jobs: number } | null;
  jobIds: string[];
  submissionIds: string[];
  frozenVerifications: Array<{ requestId: string; verifiedBy: string }>;
  frozenViolations: Array<{ path: string; kind: string; detail: string; checkedAt: string }>;
}

export interface JobState {
  jobId: string;
  candidateId: string;
  round: number;
  entrypoint: string;
  status: 'requested' | 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'preempted';
  attempts: number;
  gpuSeconds: number;
  wallSeconds: number;
  budgetUnit: string | null;
  logTail: string;
  reason: string | null;
}

export interface SubmissionState {
  submissionId: string;
  candidateId: string;
  round: number;
  checkpoint: string;
  reason: string;
  status: 'requested' | 'accepted' | 'scored' | 'rejected';
  publicScore: number | null;
  privateScore: number | null;
  rejection: string | null;
}

export interface RoundState {
  round: number;
  policyRevision: number;
  candidateIds: string[];
  status: 'running' | 'evidence-recorded' | 'closed';
  closedBestPublicLb: number | null;
  spentAtClose: { gpuSeconds: number; llmTokens: number } | null;
  evidenceSha256: string | null;
  calibration: DataOf<typeof RoundEvidenceRecorded>['evidence']['calibration'] | null;
  evidence: DataOf<typeof RoundEvidenceRecorded>['evidence'] | null;
  evidenceTrigger: string | null;
  collectorTokens: number;
}

export interface PolicyRevisionState {
  revision: number;
  round: number;
  policy: RollingPolicy;
  changes: string[];
  proposer: string;
  evidenceSha256: string | null;
  llmTokens: number;
  llmRefused: boolean;
}

/** A campaign's phase: `auditing` once the final audit started (no round is left to run). */
export type CampaignStatus = 'running' | 'paused' | 'auditing' | 'aborted' | 'completed';

export type DecouplingStep = 'suspected' | 'probed' | 'confirmed' | 'refuted';

export interface CampaignState {
  campaignId: string;
  name: string;
  config: CampaignConfig;
  rules: ConstitutionRules;
  constitutionSha256: string;
  status: CampaignStatus;
  /** Why the campaign is paused, auditing, aborted or completed (or that a budget ran out); null while it runs. */
  statusReason: string | null;
  rounds: Map<number, RoundState>;
  candidates: Map<string, CandidateState>;
  jobs: Map<string, JobState>;
  submissions: Map<string, SubmissionState>;
  policies: PolicyRevisionState[];
  refusals: Array<{ round: number; rule: string; detail: string }>;
  decoupling: Array<{ round: number; step: DecouplingStep; hypothesis: DecouplingHypothesis }>;
  privateUnsealed: boolean;
  budgetExhausted: { round: number; exhausted: string[] } | null;
  result: {
    bestCandidateId: string | null;
    bestPublicLb: number | null;
    bestPrivateLb: number | null;
    reason: string;
    rounds: number;
    bestRound: number | null;
  } | null;
  eventCount: number;
  eventTypes: Map<string, number>;
}

export interface ViewsState {
  campaigns: Record<string, CampaignState>;
}

export const emptyViewsState = (): ViewsState => ({ campaigns: nullRecord<CampaignState>() });

/** A candidate as RoundStarted plans it. */
export function newCandidate(
  round: number,
  c: {
    candidateId: string;
    index: number;
    axis: string;
    isAnchor: boolean;
    seeds: number[];
    prescribed?: PrescribedRun;
  },
): CandidateState {
  return {
    candidateId: c.candidateId,
    round,
    index: c.index,
    axis: c.axis,
    isAnchor: c.isAnchor,
    seeds: [...c.seeds],
    prescribed: c.prescribed ?? null,
    status: 'planned',
    worker: null,
    workerFailure: null,
    hypothesis: c.prescribed?.hypothesis ?? null,
    recipeChanges: c.prescribed ? [...c.prescribed.changes] : [],
    recipeDiff: '',
    filesChanged: [],
    recipeEdits: [],
    trace: new Map(),
    checkpoints: [],
    evaluated: new Map(),
    chosen: null,
    selection: null,
    evaluationFailures: [],
    failureModes: [],
    cost: null,
    jobIds: [],
    submissionIds: [],
    frozenVerifications: [],
    frozenViolations: [],
  };
}
