import type { CampaignConfig } from '@aevo/contracts';
import type {
  CampaignState,
  CampaignStatus,
  CandidateState,
  CandidateStatus,
  JobState,
  SubmissionState,
  ViewsState,
} from './campaign-state';
import { budgetView, candidateScores } from './builders';

/**
 * What `aevo campaign status|watch` shows, built on the views fold like every dashboard view: the same statuses
 * (campaign, round, candidate, submission), the same scores (a candidate's best public submission) and the same
 * spend (the budget view's totals).
 */
export interface CandidateStatusRow {
  candidateId: string;
  index: number;
  axis: string;
  isAnchor: boolean;
  status: CandidateStatus;
  /** The candidate's jobs by state: queued (requested, queued, preempted), running, done (succeeded), failed. */
  jobs: { queued: number; running: number; done: number; failed: number };
  dev: number | null;
  publicLb: number | null;
  privateLb: number | null;
  /** Its latest submission's status. */
  submission: SubmissionState['status'] | null;
  /** Why it failed, was invalidated or was rejected. */
  note: string | null;
}

export interface RoundStatusRow {
  round: number;
  policyRevision: number;
  status: 'running' | 'evidence-recorded' | 'closed';
  candidates: CandidateStatusRow[];
  submissions: number;
  /** The policy revision the round's evidence led to, once recorded. */
  revisedTo: number | null;
  bestPublicLb: number | null;
}

export interface CampaignStatusView {
  campaignId: string;
  config: CampaignConfig | null;
  /** `unknown`: nothing of the campaign recorded yet. */
  status: CampaignStatus | 'unknown';
  statusReason: string | null;
  policyRevision: number;
  rounds: RoundStatusRow[];
  spent: { gpuSeconds: number; llmTokens: number };
  completion: CampaignState['result'];
  events: number;
}

/** The event types the status view reads (trace steps, checkpoints' evaluations and the like are skipped). */
export const STATUS_EVENT_TYPES = [
  'CampaignStarted',
  'RoundStarted',
  'CandidateForked',
  'WorkerStarted',
  'JobRequested',
  'JobQueued',
  'JobPreempted',
  'JobStarted',
  'JobSucceeded',
  'JobFailed',
  'JobCancelled',
  'ManifestSubmitted',
  'WorkerFailed',
  'FrozenPathViolated',
  'SubmissionRequested',
  'SubmissionAccepted',
  'LeaderboardScored',
  'SubmissionRejected',
  'RoundEvidenceRecorded',
  'PolicyRevised',
  'RoundClosed',
  'CampaignPaused',
  'CampaignResumed',
  'CampaignAborted',
  'BudgetExhausted',
  'FinalAuditStarted',
  'PrivateLeaderboardUnsealed',
  'CampaignCompleted',
];

function jobCounts(jobs: JobState[]): CandidateStatusRow['jobs'] {
  const n = { queued: 0, running: 0, done: 0, failed: 0 };
  for (const j of jobs)
    if (j.status === 'running') n.running++;
    else if (j.status === 'succeeded') n.done++;
    else if (j.status === 'failed' || j.status === 'cancelled') n.failed++;
    else n.queued++;
  return n;
}

function note(x: CandidateState, latest: SubmissionState | null): string | null {
  const violation = x.frozenViolations[x.frozenViolations.length - 1];
  if (x.status === 'invalidated' && violation) return `${violation.kind}: ${violation.path}`;
  if (latest?.status === 'rejected') return `rejected: ${latest.rejection ?? ''}`;
  if (x.status === 'failed')
    return x.failureModes.map((f) => f.kind).join(', ') || (x.workerFailure ?? 'failed').slice(0, 80);
  return null;
}

function candidateRow(c: CampaignState, x: CandidateState): CandidateStatusRow {
  const scores = candidateScores(c, x);
  const subs = x.submissionIds.map((id) => c.submissions.get(id)).filter((s) => s !== undefined);
  const latest = subs[subs.length - 1] ?? null;
  const jobs = x.jobIds.map((id) => c.jobs.get(id)).filter((j) => j !== undefined);
  return {
    candidateId: x.candidateId,
    index: x.index,
    axis: x.axis,
    isAnchor: x.isAnchor,
    status: x.status,
    jobs: jobCounts(jobs),
    dev: scores.dev,
    publicLb: scores.publicLb,
    privateLb: scores.privateLb,
    submission: latest?.status ?? null,
    note: note(x, latest),
  };
}

/** The status view of one campaign; a campaign with nothing recorded gives status `unknown` and no config. */
export function campaignStatusView(state: ViewsState, campaignId: string): CampaignStatusView {
  const c = Object.prototype.hasOwnProperty.call(state.campaigns, campaignId) ? state.campaigns[campaignId] : null;
  if (!c)
    return {
      campaignId,
      config: null,
      status: 'unknown',
      statusReason: null,
      policyRevision: 0,
      rounds: [],
      spent: { gpuSeconds: 0, llmTokens: 0 },
      completion: null,
      events: 0,
    };
  const revisedTo = new Map(c.policies.filter((p) => p.round > 0).map((p) => [p.round, p.policy.revision]));
  const rounds = [...c.rounds.values()]
    .sort((a, b) => a.round - b.round)
    .map((r): RoundStatusRow => {
      const xs = r.candidateIds.map((id) => c.candidates.get(id)).filter((x) => x !== undefined);
      const subs = [...c.submissions.values()].filter((s) => s.round === r.round);
      const scores = subs.map((s) => s.publicScore).filter((v): v is number => v !== null);
      return {
        round: r.round,
        policyRevision: r.policyRevision,
        status: r.status,
        candidates: xs.sort((a, b) => a.index - b.index).map((x) => candidateRow(c, x)),
        submissions: subs.length,
        revisedTo: revisedTo.get(r.round) ?? null,
        bestPublicLb: scores.length ? Math.max(...scores) : null,
      };
    });
  const budget = budgetView(state, campaignId);
  return {
    campaignId,
    config: c.config,
    status: c.status,
    statusReason: c.statusReason,
    policyRevision: Math.max(...c.policies.map((p) => p.policy.revision)),
    rounds,
    spent: { gpuSeconds: budget.totals.gpuSeconds ?? 0, llmTokens: budget.totals.llmTokens },
    completion: c.result,
    events: c.eventCount,
  };
}
