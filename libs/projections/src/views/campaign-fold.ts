import {
  budgetExhaustedReason,
  llmTurnTokens,
  type CheckpointSelected,
  type DataOf,
  type JobFailed,
  type PolicyRevised,
  type RoundEvidenceRecorded,
  type TraceStepRecorded,
} from '@aevo/contracts';
import {
  emptyViewsState,
  newCandidate,
  type CandidateState,
  type CandidateStatus,
  type DecouplingStep,
  type ViewsState,
} from './campaign-state';

export * from './campaign-state';

/**
 * The fold behind every dashboard view, `aevo campaign status|watch` and the campaign report: one pass over a
 * campaign's events into plain state (campaign-state.ts), from which the view builders compute what each view shows.
 * It reads only an event's `type`, `campaignId` and `data` (never ids, times or positions), so two replays of the
 * same log — or the live API and `aevo report` — give the same numbers.
 */

type AnyEvent = { type: string; campaignId: string; data: unknown };

const FINAL: ReadonlySet<CandidateStatus> = new Set(['completed', 'failed', 'invalidated']);
const pushOnce = (xs: string[], x: string) => {
  if (!xs.includes(x)) xs.push(x);
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Data = any;

/**
 * Applies one event; mutates and returns the state (the caller owns it). Events of campaigns never started are ignored.
 */
export function applyViewEvent(state: ViewsState, e: AnyEvent): ViewsState {
  const d = e.data as Data;
  if (e.type === 'CampaignStarted') {
    state.campaigns[e.campaignId] = {
      campaignId: e.campaignId,
      name: d.config.name ?? e.campaignId,
      config: d.config,
      rules: d.constitution.rules,
      constitutionSha256: d.constitutionSha256,
      status: 'running',
      statusReason: null,
      rounds: new Map(),
      candidates: new Map(),
      jobs: new Map(),
      submissions: new Map(),
      policies: [
        {
          revision: d.initialPolicy.revision,
          round: 0,
          policy: d.initialPolicy,
          changes: ['initial policy'],
          proposer: 'orchestrator',
          evidenceSha256: null,
          llmTokens: 0,
          llmRefused: false,
        },
      ],
      refusals: [],
      decoupling: [],
      privateUnsealed: false,
      budgetExhausted: null,
      result: null,
      eventCount: 0,
      eventTypes: new Map(),
    };
  }
  const c = state.campaigns[e.campaignId];
  if (!c) return state;
  c.eventCount += 1;
  c.eventTypes.set(e.type, (c.eventTypes.get(e.type) ?? 0) + 1);
  const cand = (id: unknown) => (typeof id === 'string' ? c.candidates.get(id) : undefined);
  switch (e.type) {
    case 'RoundStarted': {
      c.rounds.set(d.round, {
        round: d.round,
        policyRevision: d.policyRevision,
        candidateIds: d.candidates.map((x: { candidateId: string }) => x.candidateId),
        status: 'running',
        closedBestPublicLb: null,
        spentAtClose: null,
        evidenceSha256: null,
        calibration: null,
        evidence: null,
        evidenceTrigger: null,
        collectorTokens: 0,
      });
      for (const x of d.candidates)
        if (!c.candidates.has(x.candidateId)) c.candidates.set(x.candidateId, newCandidate(d.round, x));
      break;
    }
    case 'CandidateForked': {
      const x = cand(d.candidateId);
      if (x && x.status === 'planned') x.status = 'forked';
      break;
    }
    case 'WorkerStarted': {
      const x = cand(d.candidateId);
      if (!x) break;
      if (!FINAL.has(x.status)) x.status = 'working';
      const w: NonNullable<CandidateState['worker']> = x.worker ?? {
        workerId: d.workerId,
        agentKind: d.agentKind,
        starts: 0,
        resumedFromSteps: [],
      };
      w.workerId = d.workerId;
      w.starts += 1;
      if (d.resumedFromStep !== null) w.resumedFromSteps.push(d.resumedFromStep);
      x.worker = w;
      break;
    }
    case 'TraceStepRecorded': {
      const x = cand(d.candidateId);
      if (!x) break;
      const t = d as DataOf<typeof TraceStepRecorded>;
      const prev = x.trace.get(t.step) ?? {
        step: t.step,
        tool: t.tool,
        input: t.input,
        output: null,
        ok: null,
        llm: null,
      };
      if (t.phase === 'intent') {
        prev.tool = t.tool;
        prev.input = t.input;
      } else {
        prev.output = t.output ?? null;
        prev.ok = t.ok ?? null;
      }
      if (t.llm) prev.llm = { model: t.llm.model, inputTokens: t.llm.inputTokens, outputTokens: t.llm.outputTokens };
      x.trace.set(t.step, prev);
      break;
    }
    case 'RecipeChanged': {
      const x = cand(d.candidateId);
      if (x) x.recipeEdits.push({ file: d.file, diff: d.diff, changes: d.changes });
      break;
    }
    case 'ManifestSubmitted': {
      const x = cand(d.candidateId);
      if (!x) break;
      const m = d.manifest;
      if (x.status !== 'invalidated') x.status = m.status;
      x.hypothesis = m.hypothesis;
      x.recipeChanges = m.recipeChanges;
      x.recipeDiff = m.recipeDiff;
      x.filesChanged = m.filesChanged;
      x.checkpoints = m.checkpoints;
      x.chosen = m.chosenCheckpoint;
      x.failureModes = m.failureModes;
      x.cost = m.cost;
      break;
    }
    case 'WorkerFailed': {
      const x = cand(d.candidateId);
      if (!x) break;
      x.workerFailure = d.reason;
      if (x.status !== 'invalidated' && x.status !== 'completed') x.status = 'failed';
      break;
    }
    case 'EvaluationStarted': {
      const x = cand(d.candidateId);
      if (x) x.frozenVerifications.push({ requestId: d.requestId, verifiedBy: d.verifiedBy });
      break;
    }
    case 'CheckpointEvaluated': {
      const x = cand(d.candidateId);
      if (x) x.evaluated.set(d.checkpoint, { checkpoint: d.checkpoint, step: d.step, seed: d.seed, dev: d.dev });
      break;
    }
    case 'CheckpointSelected': {
      const x = cand(d.candidateId);
      const s = d as DataOf<typeof CheckpointSelected>;
      if (x)
        x.selection = {
          checkpoint: s.checkpoint,
          step: s.step,
          criterion: s.criterion,
          score: s.score,
          considered: s.considered,
        };
      break;
    }
    case 'EvaluationFailed': {
      const x = cand(d.candidateId);
      if (x) x.evaluationFailures.push({ checkpoint: d.checkpoint, kind: d.kind, reason: d.reason });
      break;
    }
    case 'FrozenPathViolated': {
      const x = cand(d.candidateId);
      if (!x) break;
      x.status = 'invalidated';
      x.frozenViolations.push({ path: d.path, kind: d.kind, detail: d.detail, checkedAt: d.checkedAt });
      break;
    }
    case 'JobRequested': {
      const s = d.spec;
      if (!c.jobs.has(s.jobId))
        c.jobs.set(s.jobId, {
          jobId: s.jobId,
          candidateId: s.candidateId,
          round: s.round,
          entrypoint: s.entrypoint,
          status: 'requested',
          attempts: 0,
          gpuSeconds: 0,
          wallSeconds: 0,
          budgetUnit: null,
          logTail: '',
          reason: null,
        });
      const x = cand(s.candidateId);
      if (x) pushOnce(x.jobIds, s.jobId);
      break;
    }
    case 'JobQueued':
    case 'JobPreempted': {
      const j = c.jobs.get(d.jobId);
      if (j && (j.status === 'requested' || j.status === 'running' || j.status === 'queued'))
        j.status = e.type === 'JobQueued' ? 'queued' : 'preempted';
      break;
    }
    case 'JobStarted': {
      const j = c.jobs.get(d.jobId);
      if (j) {
        j.status = 'running';
        j.attempts = Math.max(j.attempts, d.attempt);
      }
      break;
    }
    case 'JobSucceeded':
    case 'JobFailed':
    case 'JobCancelled': {
      const j = c.jobs.get(d.jobId);
      if (!j) break;
      j.status = e.type === 'JobSucceeded' ? 'succeeded' : e.type === 'JobFailed' ? 'failed' : 'cancelled';
      j.gpuSeconds = d.gpuSeconds;
      j.wallSeconds = d.wallSeconds;
      j.budgetUnit = d.budgetUnit;
      j.logTail = d.logTail;
      j.reason =
        e.type === 'JobFailed'
          ? `${(d as DataOf<typeof JobFailed>).reason}: ${d.message}`
          : e.type === 'JobCancelled'
            ? d.reason
            : null;
      break;
    }
    case 'SubmissionRequested': {
      if (!c.submissions.has(d.submissionId))
        c.submissions.set(d.submissionId, {
          submissionId: d.submissionId,
          candidateId: d.candidateId,
          round: d.round,
          checkpoint: d.checkpoint,
          reason: d.reason,
          status: 'requested',
          publicScore: null,
          privateScore: null,
          rejection: null,
        });
      const x = cand(d.candidateId);
      if (x) pushOnce(x.submissionIds, d.submissionId);
      break;
    }
    case 'SubmissionAccepted': {
      const s = c.submissions.get(d.submissionId);
      if (s && s.status === 'requested') s.status = 'accepted';
      break;
    }
    case 'SubmissionRejected': {
      const s = c.submissions.get(d.submissionId);
      if (s) {
        s.status = 'rejected';
        s.rejection = `${d.reason}: ${d.message}`;
      }
      break;
    }
    case 'LeaderboardScored': {
      const s = c.submissions.get(d.submissionId);
      if (s) {
        s.status = 'scored';
        s.publicScore = d.publicScore;
      }
      break;
    }
    case 'PrivateLeaderboardUnsealed':
      c.privateUnsealed = true;
      for (const x of d.scores) {
        const s = c.submissions.get(x.submissionId);
        if (s) s.privateScore = x.privateScore;
      }
      break;
    case 'RoundEvidenceRecorded': {
      const r = c.rounds.get(d.round);
      const ev = d as DataOf<typeof RoundEvidenceRecorded>;
      if (!r) break;
      r.evidenceSha256 = ev.evidenceSha256;
      r.calibration = ev.evidence.calibration;
      r.evidence = ev.evidence;
      r.evidenceTrigger = ev.trigger;
      // Every token the turn was billed for (cache writes and reads too), as the token budget counts it.
      r.collectorTokens = ev.llm ? llmTurnTokens(ev.llm) : 0;
      if (r.status === 'running') r.status = 'evidence-recorded';
      break;
    }
    case 'PolicyRevised': {
      const p = d as DataOf<typeof PolicyRevised>;
      c.policies.push({
        revision: p.policy.revision,
        round: p.round,
        policy: p.policy,
        changes: p.changes,
        proposer: p.proposer,
        evidenceSha256: p.evidenceSha256,
        llmTokens: p.llm ? llmTurnTokens(p.llm) : 0,
        llmRefused: p.llm?.refused ?? false,
      });
      break;
    }
    case 'ConstitutionViolationRefused':
      c.refusals.push({ round: d.round, rule: d.rule, detail: d.detail });
      break;
    case 'DecouplingSuspected':
    case 'DecouplingProbed':
    case 'DecouplingConfirmed':
    case 'DecouplingRefuted':
      c.decoupling.push({
        round: d.round,
        step: e.type.slice('Decoupling'.length).toLowerCase() as DecouplingStep,
        hypothesis: d.hypothesis,
      });
      break;
    case 'RoundClosed': {
      const r = c.rounds.get(d.round);
      if (!r) break;
      r.status = 'closed';
      r.closedBestPublicLb = d.bestPublicLb;
      r.spentAtClose = d.spent ?? null;
      break;
    }
    case 'BudgetExhausted':
      c.budgetExhausted = { round: d.round, exhausted: d.exhausted };
      c.statusReason = `${budgetExhaustedReason(d)}; the round closes with what it has`;
      break;
    case 'FinalAuditStarted':
      if (c.status === 'running') c.status = 'auditing';
      c.statusReason = d.reason;
      break;
    case 'CampaignPaused':
      if (c.status === 'running' || c.status === 'auditing') {
        c.status = 'paused';
        c.statusReason = d.reason;
      }
      break;
    case 'CampaignResumed':
      if (c.status === 'paused') {
        c.status = 'running';
        c.statusReason = null;
      }
      break;
    case 'CampaignAborted':
      c.status = 'aborted';
      c.statusReason = d.reason;
      break;
    case 'CampaignCompleted':
      c.status = 'completed';
      c.statusReason = d.reason;
      c.result = {
        bestCandidateId: d.bestCandidateId,
        bestPublicLb: d.bestPublicLb,
        bestPrivateLb: d.bestPrivateLb,
        reason: d.reason,
        rounds: d.rounds,
        bestRound: d.bestRound ?? null,
      };
      break;
  }
  return state;
}

/** Folds a whole log. */
export function foldViews(events: Iterable<AnyEvent>, state: ViewsState = emptyViewsState()): ViewsState {
  for (const e of events) applyViewEvent(state, e);
  return state;
}
