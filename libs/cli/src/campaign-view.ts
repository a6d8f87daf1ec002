import { budgetExhaustedReason, llmTurnTokens, type CampaignConfig, type EventEnvelope } from '@aevo/contracts';

/** What `aevo campaign status|watch` shows, folded from one campaign's events (pure; no clock, no I/O). */
export interface CandidateView {
  candidateId: string;
  index: number;
  axis: string;
  isAnchor: boolean;
  status: 'planned' | 'forked' | 'working' | 'completed' | 'failed' | 'invalidated';
  jobs: Record<string, 'queued' | 'running' | 'done' | 'failed'>;
  dev: number | null;
  publicLb: number | null;
  privateLb: number | null;
  submission: 'requested' | 'accepted' | 'scored' | 'rejected' | null;
  note: string | null;
}

export interface RoundView {
  round: number;
  policyRevision: number;
  candidates: CandidateView[];
  submissions: number;
  evidence: boolean;
  revisedTo: number | null;
  closed: boolean;
  bestPublicLb: number | null;
}

export interface CampaignView {
  campaignId: string;
  config: CampaignConfig | null;
  status: 'unknown' | 'running' | 'paused' | 'auditing' | 'aborted' | 'completed';
  statusReason: string | null;
  policyRevision: number;
  rounds: RoundView[];
  spent: { gpuSeconds: number; llmTokens: number };
  completion: Record<string, unknown> | null;
  /** Events folded (for "nothing recorded yet"). */
  events: number;
}

/** The event types the view folds; everything else (trace steps, …) is skipped when reading. */
export const VIEW_EVENT_TYPES = [
  'CampaignStarted',
  'RoundStarted',
  'CandidateForked',
  'WorkerStarted',
  'JobRequested',
  'JobQueued',
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

export const emptyView = (campaignId: string): CampaignView => ({
  campaignId,
  config: null,
  status: 'unknown',
  statusReason: null,
  policyRevision: 0,
  rounds: [],
  spent: { gpuSeconds: 0, llmTokens: 0 },
  completion: null,
  events: 0,
});

type D = Record<string, unknown> & { round?: number; candidateId?: string; jobId?: string };

/** Folds one event into the view (in place). */
export function applyView(v: CampaignView, e: Pick<EventEnvelope, 'type' | 'campaignId' | 'data'>): CampaignView {
  if (e.campaignId !== v.campaignId) return v;
  v.events++;
  const d = e.data as D;
  const round = (n: number | undefined) => (n === undefined ? undefined : v.rounds.find((r) => r.round === n));
  const candidate = (id: string | undefined) => {
    if (!id) return undefined;
    for (const r of v.rounds) {
      const c = r.candidates.find((x) => x.candidateId === id);
      if (c) return c;
    }
    return undefined;
  };
  const job = (id: string | undefined, state: CandidateView['jobs'][string]) => {
    const c = candidate(d.candidateId);
    if (!c || !id) return;
    // A terminal state is never overwritten by a late non-terminal one.
    const prev = c.jobs[id];
    if (prev === 'done' || prev === 'failed') return;
    c.jobs[id] = state;
    if (c.status === 'forked' || c.status === 'planned') c.status = 'working';
  };
  switch (e.type) {
    case 'CampaignStarted':
      v.config = (d as { config: CampaignConfig }).config;
      v.status = 'running';
      break;
    case 'RoundStarted': {
      if (round(d.round)) break;
      const cands = (
        d as { candidates: Array<{ candidateId: string; index: number; axis: string; isAnchor: boolean }> }
      ).candidates;
      v.rounds.push({
        round: d.round as number,
        policyRevision: d.policyRevision as number,
        // jobs is keyed by job ids from the log: null prototype, so an id like "constructor" is just a key.
        candidates: cands.map((c) => ({
          ...c,
          status: 'planned',
          jobs: Object.create(null) as CandidateView['jobs'],
          dev: null,
          publicLb: null,
          privateLb: null,
          submission: null,
          note: null,
        })),
        submissions: 0,
        evidence: false,
        revisedTo: null,
        closed: false,
        bestPublicLb: null,
      });
      v.rounds.sort((a, b) => a.round - b.round);
      break;
    }
    case 'CandidateForked': {
      const c = candidate(d.candidateId);
      if (c && c.status === 'planned') c.status = 'forked';
      break;
    }
    case 'WorkerStarted': {
      const c = candidate(d.candidateId);
      if (c && (c.status === 'planned' || c.status === 'forked')) c.status = 'working';
      break;
    }
    case 'JobRequested':
      job((d.spec as { jobId: string }).jobId, 'queued');
      break;
    case 'JobQueued':
      job(d.jobId, 'queued');
      break;
    case 'JobStarted':
      job(d.jobId, 'running');
      break;
    case 'JobSucceeded':
      job(d.jobId, 'done');
      v.spent.gpuSeconds += (d.gpuSeconds as number) ?? 0;
      break;
    case 'JobFailed':
    case 'JobCancelled':
      job(d.jobId, 'failed');
      v.spent.gpuSeconds += (d.gpuSeconds as number) ?? 0;
      break;
    case 'ManifestSubmitted': {
      const c = candidate(d.candidateId);
      const m = d.manifest as {
        status: 'completed' | 'failed';
        chosenCheckpoint: { dev: { overall: number } } | null;
        cost: { inputTokens: number; outputTokens: number };
        failureModes: Array<{ kind: string }>;
      };
      v.spent.llmTokens += m.cost.inputTokens + m.cost.outputTokens;
      if (!c || c.status === 'invalidated') break;
      c.status = m.status;
      c.dev = m.chosenCheckpoint?.dev.overall ?? null;
      if (m.status === 'failed') c.note = m.failureModes.map((f) => f.kind).join(', ') || 'failed';
      break;
    }
    case 'WorkerFailed': {
      const c = candidate(d.candidateId);
      if (c && c.status !== 'completed' && c.status !== 'invalidated') {
        c.status = 'failed';
        c.note = String(d.reason ?? 'worker failed').slice(0, 80);
      }
      break;
    }
    case 'FrozenPathViolated': {
      const c = candidate(d.candidateId);
      if (c) {
        c.status = 'invalidated';
        c.note = `${d.kind}: ${d.path}`;
      }
      break;
    }
    case 'SubmissionRequested': {
      const r = round(d.round);
      const c = candidate(d.candidateId);
      if (r) r.submissions++;
      if (c) c.submission = 'requested';
      break;
    }
    case 'SubmissionAccepted': {
      const c = candidate(d.candidateId);
      if (c && c.submission === 'requested') c.submission = 'accepted';
      break;
    }
    case 'LeaderboardScored': {
      const c = candidate(d.candidateId);
      if (c) {
        c.submission = 'scored';
        c.publicLb = d.publicScore as number;
      }
      const r = round(d.round);
      if (r && (r.bestPublicLb === null || (d.publicScore as number) > r.bestPublicLb))
        r.bestPublicLb = d.publicScore as number;
      break;
    }
    case 'SubmissionRejected': {
      const c = candidate(d.candidateId);
      if (c) {
        c.submission = 'rejected';
        c.note = `rejected: ${d.reason}`;
      }
      break;
    }
    case 'RoundEvidenceRecorded': {
      const r = round(d.round);
      if (r) r.evidence = true;
      const llm = d.llm as Parameters<typeof llmTurnTokens>[0] | null;
      if (llm) v.spent.llmTokens += llmTurnTokens(llm);
      break;
    }
    case 'PolicyRevised': {
      const r = round(d.round);
      const rev = (d.policy as { revision: number }).revision;
      if (r) r.revisedTo = rev;
      v.policyRevision = Math.max(v.policyRevision, rev);
      const llm = d.llm as Parameters<typeof llmTurnTokens>[0] | null;
      if (llm) v.spent.llmTokens += llmTurnTokens(llm);
      break;
    }
    case 'RoundClosed': {
      const r = round(d.round);
      if (r) r.closed = true;
      break;
    }
    case 'CampaignPaused':
      if (v.status === 'running' || v.status === 'auditing') {
        v.status = 'paused';
        v.statusReason = String(d.reason ?? '');
      }
      break;
    case 'CampaignResumed':
      if (v.status === 'paused') {
        v.status = 'running';
        v.statusReason = null;
      }
      break;
    case 'CampaignAborted':
      v.status = 'aborted';
      v.statusReason = String(d.reason ?? '');
      break;
    case 'BudgetExhausted':
      v.statusReason = `${budgetExhaustedReason(d as { round: number; exhausted: string[] })}; the round closes with what it has`;
      break;
    case 'FinalAuditStarted':
      if (v.status === 'running') v.status = 'auditing';
      v.statusReason = String(d.reason ?? '');
      break;
    case 'PrivateLeaderboardUnsealed':
      for (const s of d.scores as Array<{ candidateId: string; privateScore: number }>) {
        const c = candidate(s.candidateId);
        if (c) c.privateLb = s.privateScore;
      }
      break;
    case 'CampaignCompleted':
      v.status = 'completed';
      v.statusReason = String(d.reason ?? '');
      v.completion = d;
      break;
  }
  return v;
}

export const isDone = (c: CandidateView) =>
  c.status === 'completed' || c.status === 'failed' || c.status === 'invalidated';
export const ended = (v: CampaignView) => v.status === 'completed' || v.status === 'aborted';

const fmt = (x: number | null | undefined, digits = 3) => (x === null || x === undefined ? '—' : x.toFixed(digits));

export function bar(done: number, total: number, width = 20): string {
  if (total <= 0) return '░'.repeat(width);
  const full = Math.round((Math.min(done, total) / total) * width);
  return '█'.repeat(full) + '░'.repeat(width - full);
}

function roundPhase(r: RoundView): string {
  if (r.closed) return 'closed';
  if (r.revisedTo !== null) return 'policy revised';
  if (r.evidence) return 'evidence recorded';
  if (r.submissions > 0) {
    const scored = r.candidates.filter((c) => c.submission === 'scored' || c.submission === 'rejected').length;
    return `leaderboard ${scored}/${r.submissions}`;
  }
  const done = r.candidates.filter(isDone).length;
  return done === r.candidates.length ? 'choosing submissions' : 'working';
}

/** The dev / leaderboard table: one row per round (anchor dev, best dev, best public LB, private LB of the best-public). */
export function roundTable(v: CampaignView): string[] {
  const lines = ['round  policy  anchor dev  best dev  best LB  private(best LB)  submitted'];
  for (const r of v.rounds) {
    const anchors = r.candidates.filter((c) => c.isAnchor && c.dev !== null).map((c) => c.dev as number);
    const devs = r.candidates.filter((c) => c.dev !== null).map((c) => c.dev as number);
    const bestPublic = r.candidates
      .filter((c) => c.publicLb !== null)
      .sort((a, b) => (b.publicLb as number) - (a.publicLb as number))[0];
    lines.push(
      [
        String(r.round).padStart(5),
        `r${r.policyRevision}`.padStart(6),
        fmt(anchors.length ? anchors.reduce((a, b) => a + b, 0) / anchors.length : null).padStart(10),
        fmt(devs.length ? Math.max(...devs) : null).padStart(8),
        fmt(bestPublic?.publicLb).padStart(7),
        fmt(bestPublic?.privateLb).padStart(16),
        `${r.submissions}`.padStart(9),
      ].join('  '),
    );
  }
  return lines;
}

/** The full text `aevo campaign watch` redraws (and `status` prints once). */
export function renderView(v: CampaignView, opts: { candidates?: boolean } = {}): string[] {
  if (!v.config) return [`campaign ${v.campaignId}: nothing recorded yet`];
  const c = v.config;
  const out: string[] = [];
  const roundNow = v.rounds.length;
  const tokens =
    c.budgets.llmTokens > 0
      ? ` · LLM tokens ${v.spent.llmTokens} / ${c.budgets.llmTokens}`
      : v.spent.llmTokens > 0
        ? ` · LLM tokens ${v.spent.llmTokens}`
        : '';
  out.push(
    `campaign ${v.campaignId}  ${v.status}${v.statusReason ? ` (${v.statusReason})` : ''}  round ${roundNow}/${c.rounds}  policy r${v.policyRevision}  ` +
      `${c.workersPerRound} workers · ${c.size} · ${c.workerKind} · budget ${v.spent.gpuSeconds.toFixed(1)} / ${c.budgets.gpuSeconds} GPU-s${tokens}`,
  );
  out.push(
    `rounds  ${bar(v.rounds.filter((r) => r.closed).length, c.rounds, 30)} ${v.rounds.filter((r) => r.closed).length}/${c.rounds} closed`,
  );
  for (const r of v.rounds) {
    const done = r.candidates.filter(isDone).length;
    out.push(
      `round ${String(r.round).padStart(2)}  ${bar(done, r.candidates.length)} ${done}/${r.candidates.length} candidates  ${roundPhase(r)}${r.bestPublicLb !== null ? `  best LB ${fmt(r.bestPublicLb)}` : ''}`,
    );
    const showCandidates = opts.candidates ?? !r.closed;
    if (!showCandidates) continue;
    const width = Math.max(...r.candidates.map((x) => x.axis.length), 8);
    for (const cand of r.candidates) {
      const jobs = Object.values(cand.jobs);
      const n = (s: string) => jobs.filter((j) => j === s).length;
      const finished = n('done') + n('failed');
      out.push(
        `  c${String(cand.index).padEnd(3)} ${(cand.axis + (cand.isAnchor ? '*' : '')).padEnd(width + 1)} ${bar(finished, jobs.length, 10)} ` +
          `jobs ${n('running')} running ${n('done')} done ${n('failed')} failed${n('queued') ? ` ${n('queued')} queued` : ''}  ${cand.status.padEnd(11)}` +
          `${cand.dev !== null ? ` dev ${fmt(cand.dev)}` : ''}${cand.publicLb !== null ? ` LB ${fmt(cand.publicLb)}` : ''}${cand.privateLb !== null ? ` private ${fmt(cand.privateLb)}` : ''}` +
          `${cand.submission && cand.submission !== 'scored' ? ` [${cand.submission}]` : ''}${cand.note && cand.status !== 'completed' ? `  (${cand.note})` : ''}`,
      );
    }
  }
  if (v.rounds.some((r) => r.closed || r.bestPublicLb !== null)) {
    out.push('');
    out.push(...roundTable(v));
  }
  if (v.completion) {
    const k = v.completion as {
      bestCandidateId: string | null;
      bestRound?: number | null;
      bestPublicLb: number | null;
      bestPrivateLb: number | null;
      rounds: number;
      reason: string;
    };
    out.push('');
    out.push(
      k.bestCandidateId
        ? `completed (${k.reason}) after ${k.rounds} round(s): best ${k.bestCandidateId}${k.bestRound ? ` (round ${k.bestRound})` : ''} — public LB ${fmt(k.bestPublicLb)}, private LB ${fmt(k.bestPrivateLb)}`
        : `completed (${k.reason}) after ${k.rounds} round(s): no submission was scored`,
    );
  }
  return out;
}
