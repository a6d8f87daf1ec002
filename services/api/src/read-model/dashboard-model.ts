import type {
  EventEnvelope,
  RollingPolicy,
  RoundEvidence,
  ScoreVector,
  ResultManifest,
  CampaignConfig,
} from '@aevo/contracts';

/**
 * The dashboard's read model: a pure fold over the event log. It never calls a service; everything it shows
 * is derived from recorded events, so a page reload after a replay shows the same thing.
 */
export interface CandidateRow {
  candidateId: string;
  round: number;
  index: number;
  axis: string;
  isAnchor: boolean;
  status: 'planned' | 'forked' | 'working' | 'submitted' | 'failed' | 'invalidated';
  dev: ScoreVector | null;
  publicLb: number | null;
  privateLb: number | null;
  chosenCheckpoint: string | null;
  recipeChanges: ResultManifest['recipeChanges'];
  failureModes: ResultManifest['failureModes'];
  gpuSeconds: number;
  traceSteps: number;
  jobs: { running: number; done: number; failed: number };
}

export interface JobRow {
  jobId: string;
  candidateId: string;
  round: number;
  entrypoint: string;
  status: 'requested' | 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'preempted';
  logTail: string;
  gpuSeconds: number;
  reason: string | null;
}

export interface RoundRow {
  round: number;
  status: 'running' | 'collected' | 'closed';
  policyRevision: number;
  candidates: string[];
  evidence: RoundEvidence | null;
  bestDev: number | null;
  bestPublicLb: number | null;
  bestPrivateLb: number | null;
  anchorDev: number | null;
  anchorPublicLb: number | null;
}

export interface PolicyRow {
  revision: number;
  round: number;
  policy: RollingPolicy;
  changes: string[];
  proposer: string;
  evidenceSha256: string | null;
}

export interface CampaignView {
  campaignId: string;
  name: string;
  status: 'running' | 'paused' | 'aborted' | 'completed';
  config: CampaignConfig;
  startedAt: string;
  constitutionSha256: string;
  rounds: Record<number, RoundRow>;
  candidates: Record<string, CandidateRow>;
  jobs: Record<string, JobRow>;
  policies: PolicyRow[];
  refusals: { round: number; rule: string; detail: string }[];
  violations: { candidateId: string; path: string; kind: string; detail: string }[];
  submissions: Record<
    string,
    {
      candidateId: string;
      round: number;
      status: string;
      publicScore: number | null;
      privateScore: number | null;
      message: string | null;
    }
  >;
  result: {
    bestCandidateId: string | null;
    bestPublicLb: number | null;
    bestPrivateLb: number | null;
    reason: string;
  } | null;
  eventCount: number;
  lastPosition: number;
}

export interface DashboardModel {
  campaigns: Record<string, CampaignView>;
  lastPosition: number;
}

/**
 * Records keyed by ids from the log (campaigns, candidates, jobs, submissions, rounds) have no prototype, so an id
 * such as "constructor" is an ordinary key and a missing one reads as undefined. They serialise like plain objects.
 */
const dict = <V>(): Record<string, V> => Object.create(null) as Record<string, V>;

export const emptyDashboard = (): DashboardModel => ({ campaigns: dict(), lastPosition: 0 });

type AnyEvent = EventEnvelope & { position?: number };
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Data = any;

function newCandidate(
  round: number,
  c: { candidateId: string; index: number; axis: string; isAnchor: boolean },
): CandidateRow {
  return {
    candidateId: c.candidateId,
    round,
    index: c.index,
    axis: c.axis,
    isAnchor: c.isAnchor,
    status: 'planned',
    dev: null,
    publicLb: null,
    privateLb: null,
    chosenCheckpoint: null,
    recipeChanges: [],
    failureModes: [],
    gpuSeconds: 0,
    traceSteps: 0,
    jobs: { running: 0, done: 0, failed: 0 },
  };
}

const max = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));

function recomputeRound(view: CampaignView, round: number) {
  const r = view.rounds[round];
  if (!r) return;
  let bestDev: number | null = null;
  let bestLb: number | null = null;
  let bestPrivate: number | null = null;
  for (const id of r.candidates) {
    const c = view.candidates[id];
    if (!c) continue;
    bestDev = max(bestDev, c.dev?.overall ?? null);
    bestLb = max(bestLb, c.publicLb);
    bestPrivate = max(bestPrivate, c.privateLb);
    if (c.isAnchor) {
      r.anchorDev = c.dev?.overall ?? null;
      r.anchorPublicLb = c.publicLb;
    }
  }
  r.bestDev = bestDev;
  r.bestPublicLb = bestLb;
  r.bestPrivateLb = bestPrivate;
}

/** Applies one event; mutates and returns the model (callers own it exclusively). */
export function applyToDashboard(model: DashboardModel, e: AnyEvent): DashboardModel {
  const d = e.data as Data;
  if (e.position !== undefined) model.lastPosition = Math.max(model.lastPosition, e.position);
  if (e.type === 'CampaignStarted') {
    model.campaigns[e.campaignId] = {
      campaignId: e.campaignId,
      name: d.config.name ?? e.campaignId,
      status: 'running',
      config: d.config,
      startedAt: e.time,
      constitutionSha256: d.constitutionSha256,
      rounds: dict(),
      candidates: dict(),
      jobs: dict(),
      policies: [
        {
          revision: d.initialPolicy.revision,
          round: 0,
          policy: d.initialPolicy,
          changes: ['initial policy'],
          proposer: 'orchestrator',
          evidenceSha256: null,
        },
      ],
      refusals: [],
      violations: [],
      submissions: dict(),
      result: null,
      eventCount: 0,
      lastPosition: 0,
    };
  }
  const view = model.campaigns[e.campaignId];
  if (!view) return model;
  view.eventCount += 1;
  if (e.position !== undefined) view.lastPosition = e.position;
  const cand = (id: string | undefined) => (id ? view.candidates[id] : undefined);
  switch (e.type) {
    case 'RoundStarted': {
      view.rounds[d.round] = {
        round: d.round,
        status: 'running',
        policyRevision: d.policyRevision,
        candidates: d.candidates.map((c: { candidateId: string }) => c.candidateId),
        evidence: null,
        bestDev: null,
        bestPublicLb: null,
        bestPrivateLb: null,
        anchorDev: null,
        anchorPublicLb: null,
      };
      for (const c of d.candidates) view.candidates[c.candidateId] = newCandidate(d.round, c);
      break;
    }
    case 'CandidateForked': {
      const c = cand(d.candidateId);
      if (c && c.status === 'planned') c.status = 'forked';
      break;
    }
    case 'WorkerStarted': {
      const c = cand(d.candidateId);
      if (c && (c.status === 'forked' || c.status === 'planned')) c.status = 'working';
      break;
    }
    case 'TraceStepRecorded': {
      const c = cand(d.candidateId);
      if (c && d.phase === 'intent') c.traceSteps = Math.max(c.traceSteps, d.step + 1);
      break;
    }
    case 'ManifestSubmitted': {
      const c = cand(d.candidateId);
      if (!c) break;
      const m = d.manifest as ResultManifest;
      if (c.status !== 'invalidated') c.status = m.status === 'completed' ? 'submitted' : 'failed';
      c.dev = m.chosenCheckpoint?.dev ?? null;
      c.chosenCheckpoint = m.chosenCheckpoint?.checkpoint ?? null;
      c.recipeChanges = m.recipeChanges;
      c.failureModes = m.failureModes;
      recomputeRound(view, c.round);
      break;
    }
    case 'WorkerFailed': {
      const c = cand(d.candidateId);
      if (c && c.status !== 'invalidated' && c.status !== 'submitted') c.status = 'failed';
      break;
    }
    case 'FrozenPathViolated': {
      const c = cand(d.candidateId);
      if (c) c.status = 'invalidated';
      view.violations.push({ candidateId: d.candidateId, path: d.path, kind: d.kind, detail: d.detail });
      break;
    }
    case 'JobRequested': {
      const s = d.spec;
      view.jobs[s.jobId] = {
        jobId: s.jobId,
        candidateId: s.candidateId,
        round: s.round,
        entrypoint: s.entrypoint,
        status: 'requested',
        logTail: '',
        gpuSeconds: 0,
        reason: null,
      };
      break;
    }
    case 'JobQueued':
    case 'JobPreempted': {
      const j = view.jobs[d.jobId];
      if (j) j.status = e.type === 'JobQueued' ? 'queued' : 'preempted';
      break;
    }
    case 'JobStarted': {
      const j = view.jobs[d.jobId];
      if (j && j.status !== 'running') {
        j.status = 'running';
        const c = cand(j.candidateId);
        if (c) c.jobs.running += 1;
      }
      break;
    }
    case 'JobSucceeded':
    case 'JobFailed':
    case 'JobCancelled': {
      const j = view.jobs[d.jobId];
      if (!j) break;
      const c = cand(j.candidateId);
      if (c && j.status === 'running') c.jobs.running = Math.max(0, c.jobs.running - 1);
      j.status = e.type === 'JobSucceeded' ? 'succeeded' : e.type === 'JobFailed' ? 'failed' : 'cancelled';
      j.logTail = d.logTail;
      j.gpuSeconds = d.gpuSeconds;
      j.reason = d.reason ?? d.message ?? null;
      if (c) {
        c.gpuSeconds += d.gpuSeconds;
        if (e.type === 'JobSucceeded') c.jobs.done += 1;
        else c.jobs.failed += 1;
      }
      break;
    }
    case 'SubmissionRequested':
      view.submissions[d.submissionId] = {
        candidateId: d.candidateId,
        round: d.round,
        status: 'requested',
        publicScore: null,
        privateScore: null,
        message: null,
      };
      break;
    case 'SubmissionAccepted': {
      const s = view.submissions[d.submissionId];
      if (s) s.status = 'accepted';
      break;
    }
    case 'SubmissionRejected': {
      const s = view.submissions[d.submissionId];
      if (s) {
        s.status = 'rejected';
        s.message = d.message;
      }
      break;
    }
    case 'LeaderboardScored': {
      const s = view.submissions[d.submissionId];
      if (s) {
        s.status = 'scored';
        s.publicScore = d.publicScore;
      }
      const c = cand(d.candidateId);
      if (c) {
        c.publicLb = d.publicScore;
        recomputeRound(view, c.round);
      }
      break;
    }
    case 'PrivateLeaderboardUnsealed':
      for (const s of d.scores) {
        const sub = view.submissions[s.submissionId];
        if (sub) sub.privateScore = s.privateScore;
        const c = cand(s.candidateId);
        if (c) {
          c.privateLb = s.privateScore;
          recomputeRound(view, c.round);
        }
      }
      break;
    case 'RoundEvidenceRecorded': {
      const r = view.rounds[d.round];
      if (r) {
        r.evidence = d.evidence;
        r.status = 'collected';
      }
      break;
    }
    case 'PolicyRevised':
      view.policies.push({
        revision: d.policy.revision,
        round: d.round,
        policy: d.policy,
        changes: d.changes,
        proposer: d.proposer,
        evidenceSha256: d.evidenceSha256,
      });
      break;
    case 'ConstitutionViolationRefused':
      view.refusals.push({ round: d.round, rule: d.rule, detail: d.detail });
      break;
    case 'RoundClosed': {
      const r = view.rounds[d.round];
      if (r) r.status = 'closed';
      break;
    }
    case 'CampaignPaused':
      view.status = 'paused';
      break;
    case 'CampaignResumed':
      view.status = 'running';
      break;
    case 'CampaignAborted':
      view.status = 'aborted';
      break;
    case 'CampaignCompleted':
      view.status = 'completed';
      view.result = {
        bestCandidateId: d.bestCandidateId,
        bestPublicLb: d.bestPublicLb,
        bestPrivateLb: d.bestPrivateLb,
        reason: d.reason,
      };
      break;
  }
  return model;
}

/** One point per round, like the seed paper's Figure 3 (private LB only after the final audit). */
export function trajectory(view: CampaignView) {
  return Object.values(view.rounds)
    .sort((a, b) => a.round - b.round)
    .map((r) => ({
      round: r.round,
      dev: r.bestDev,
      publicLb: r.bestPublicLb,
      privateLb: view.result ? r.bestPrivateLb : null,
      anchorDev: r.anchorDev,
    }));
}

export function campaignList(model: DashboardModel) {
  return Object.values(model.campaigns)
    .sort((a, b) => a.startedAt.localeCompare(b.startedAt))
    .map((c) => ({
      campaignId: c.campaignId,
      name: c.name,
      status: c.status,
      rounds: Object.keys(c.rounds).length,
      plannedRounds: c.config.rounds,
      bestPublicLb: Object.values(c.rounds).reduce<number | null>((m, r) => max(m, r.bestPublicLb), null),
      startedAt: c.startedAt,
    }));
}
