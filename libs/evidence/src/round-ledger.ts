import {
  CampaignStarted,
  FrozenPathViolated,
  LeaderboardScored,
  ManifestSubmitted,
  PolicyRevised,
  RoundCollectionDeadlineSet,
  RoundEvidenceRecorded,
  RoundStarted,
  SubmissionAccepted,
  SubmissionRejected,
  SubmissionRequested,
  isEvent,
  type CampaignConfig,
  type ConstitutionRules,
  type DataOf,
  type EventEnvelope,
  type ResultManifest,
  type RollingPolicy,
} from '@aevo/contracts';
import type { RoundEvidenceInputs, ScoreInput, RejectionInput, ViolationInput, PlannedCandidateInput } from './collect';
import type { AxisPathPatterns } from './axis-paths';
import { dict, withKey } from './own';

interface Tagged<T> {
  eventId: string;
  data: T;
}

/** What the collector knows about one round, folded from the log. */
export interface RoundLedger {
  round: number;
  started: (Tagged<DataOf<typeof RoundStarted>> & { time: string }) | null;
  manifests: Record<string, Tagged<ResultManifest>>;
  submissions: Record<string, Tagged<{ candidateId: string }>>;
  accepted: Record<string, string>;
  scores: Record<string, Tagged<ScoreInput>>;
  rejections: Record<string, Tagged<RejectionInput>>;
  violations: Tagged<ViolationInput>[];
  deadline: Tagged<{ deadlineAt: string; afterSeconds: number }> | null;
  recorded: Tagged<DataOf<typeof RoundEvidenceRecorded>> | null;
}

/** One campaign's ledger: the pure fold the collector service keeps and that replay rebuilds. */
export interface CampaignLedger {
  campaignId: string;
  campaign: Tagged<{ config: CampaignConfig; constitutionSha256: string; rules: ConstitutionRules }> | null;
  /** Policy revisions by number; revision 0 is CampaignStarted.initialPolicy. */
  policies: Record<number, Tagged<RollingPolicy>>;
  rounds: Record<number, RoundLedger>;
}

export const emptyLedger = (campaignId: string): CampaignLedger => ({
  campaignId,
  campaign: null,
  policies: dict(),
  rounds: dict(),
});

const emptyRound = (round: number): RoundLedger => ({
  round,
  started: null,
  manifests: dict(),
  submissions: dict(),
  accepted: dict(),
  scores: dict(),
  rejections: dict(),
  violations: [],
  deadline: null,
  recorded: null,
});

/** The event types the ledger folds (everything else is ignored). */
export const LEDGER_EVENT_TYPES = [
  CampaignStarted.type,
  RoundStarted.type,
  PolicyRevised.type,
  ManifestSubmitted.type,
  SubmissionRequested.type,
  SubmissionAccepted.type,
  LeaderboardScored.type,
  SubmissionRejected.type,
  FrozenPathViolated.type,
  RoundCollectionDeadlineSet.type,
  RoundEvidenceRecorded.type,
] as const;

function withRound(l: CampaignLedger, round: number, f: (r: RoundLedger) => RoundLedger): CampaignLedger {
  return { ...l, rounds: withKey(l.rounds, round, f(l.rounds[round] ?? emptyRound(round))) };
}

/**
 * Folds one event into the ledger. Redelivered or duplicated facts (same candidate's second manifest, same
 * submission's second score) keep the first, so the fold is idempotent per fact.
 */
export function evolveLedger(l: CampaignLedger, e: EventEnvelope): CampaignLedger {
  if (e.campaignId !== l.campaignId) return l;
  if (isEvent(e, CampaignStarted)) {
    if (l.campaign) return l;
    return {
      ...l,
      campaign: {
        eventId: e.id,
        data: {
          config: e.data.config,
          constitutionSha256: e.data.constitutionSha256,
          rules: e.data.constitution.rules,
        },
      },
      policies: withKey(l.policies, e.data.initialPolicy.revision, { eventId: e.id, data: e.data.initialPolicy }),
    };
  }
  if (isEvent(e, PolicyRevised)) {
    if (l.policies[e.data.policy.revision]) return l;
    return { ...l, policies: withKey(l.policies, e.data.policy.revision, { eventId: e.id, data: e.data.policy }) };
  }
  if (isEvent(e, RoundStarted))
    return withRound(l, e.data.round, (r) =>
      r.started ? r : { ...r, started: { eventId: e.id, data: e.data, time: e.time } },
    );
  if (isEvent(e, ManifestSubmitted))
    return withRound(l, e.data.round, (r) =>
      r.manifests[e.data.candidateId]
        ? r
        : { ...r, manifests: withKey(r.manifests, e.data.candidateId, { eventId: e.id, data: e.data.manifest }) },
    );
  if (isEvent(e, SubmissionRequested))
    return withRound(l, e.data.round, (r) =>
      r.submissions[e.data.submissionId]
        ? r
        : {
            ...r,
            submissions: withKey(r.submissions, e.data.submissionId, {
              eventId: e.id,
              data: { candidateId: e.data.candidateId },
            }),
          },
    );
  if (isEvent(e, SubmissionAccepted))
    return withRound(l, e.data.round, (r) =>
      r.accepted[e.data.submissionId] ? r : { ...r, accepted: withKey(r.accepted, e.data.submissionId, e.id) },
    );
  if (isEvent(e, LeaderboardScored))
    return withRound(l, e.data.round, (r) =>
      r.scores[e.data.submissionId]
        ? r
        : {
            ...r,
            scores: withKey(r.scores, e.data.submissionId, {
              eventId: e.id,
              data: {
                submissionId: e.data.submissionId,
                candidateId: e.data.candidateId,
                publicScore: e.data.publicScore,
                publicDomains: e.data.publicDomains,
              },
            }),
          },
    );
  if (isEvent(e, SubmissionRejected))
    return withRound(l, e.data.round, (r) =>
      r.rejections[e.data.submissionId]
        ? r
        : {
            ...r,
            rejections: withKey(r.rejections, e.data.submissionId, {
              eventId: e.id,
              data: {
                submissionId: e.data.submissionId,
                candidateId: e.data.candidateId,
                reason: e.data.reason,
                message: e.data.message,
              },
            }),
          },
    );
  if (isEvent(e, FrozenPathViolated))
    return withRound(l, e.data.round, (r) =>
      r.violations.some((v) => v.eventId === e.id)
        ? r
        : {
            ...r,
            violations: [
              ...r.violations,
              {
                eventId: e.id,
                data: { candidateId: e.data.candidateId, path: e.data.path, kind: e.data.kind, detail: e.data.detail },
              },
            ],
          },
    );
  if (isEvent(e, RoundCollectionDeadlineSet))
    return withRound(l, e.data.round, (r) =>
      r.deadline
        ? r
        : {
            ...r,
            deadline: { eventId: e.id, data: { deadlineAt: e.data.deadlineAt, afterSeconds: e.data.afterSeconds } },
          },
    );
  if (isEvent(e, RoundEvidenceRecorded))
    return withRound(l, e.data.round, (r) => (r.recorded ? r : { ...r, recorded: { eventId: e.id, data: e.data } }));
  return l;
}

export const foldLedger = (campaignId: string, events: readonly EventEnvelope[]): CampaignLedger =>
  events.reduce(evolveLedger, emptyLedger(campaignId));

export interface Readiness {
  ready: boolean;
  /** What is still awaited, for logs and the deadline's record. */
  waitingFor: string[];
}

/**
 * A round is ready for collection when every planned candidate has a manifest (or was invalidated), the
 * orchestrator has asked for as many submissions as the quota allows for the completed candidates, and every
 * requested submission has a public score or a rejection.
 */
export function roundReadiness(l: CampaignLedger, round: number): Readiness {
  const r = l.rounds[round];
  if (!l.campaign) return { ready: false, waitingFor: ['CampaignStarted'] };
  if (!r?.started) return { ready: false, waitingFor: ['RoundStarted'] };
  const waitingFor: string[] = [];
  const invalidated = new Set(r.violations.map((v) => v.data.candidateId));
  for (const c of r.started.data.candidates)
    if (!r.manifests[c.candidateId] && !invalidated.has(c.candidateId)) waitingFor.push(`manifest of ${c.candidateId}`);
  const completed = Object.values(r.manifests).filter(
    (m) => m.data.status === 'completed' && !invalidated.has(m.data.candidateId),
  ).length;
  const quota = l.campaign.data.config.budgets.submissionsPerRound;
  const requested = Object.keys(r.submissions);
  const expected = Math.min(quota, completed);
  if (waitingFor.length === 0 && requested.length < expected)
    waitingFor.push(`${expected - requested.length} more submission request(s)`);
  for (const id of requested.sort())
    if (!r.scores[id] && !r.rejections[id]) waitingFor.push(`score of submission ${id}`);
  return { ready: waitingFor.length === 0, waitingFor };
}

export function deadlinePassed(l: CampaignLedger, round: number, now: Date): boolean {
  const d = l.rounds[round]?.deadline;
  return d !== null && d !== undefined && now.getTime() >= Date.parse(d.data.deadlineAt);
}

export interface InputsOptions {
  recipeFile?: string;
  axisPatterns?: AxisPathPatterns;
}

/**
 * The collector's inputs for `round` and the ids of exactly the events they came from (sorted). The noise rules
 * come from the constitution recorded in CampaignStarted, so the record depends on the log alone.
 */
export function evidenceInputs(
  l: CampaignLedger,
  round: number,
  opts: InputsOptions = {},
): { inputs: RoundEvidenceInputs; inputEventIds: string[] } {
  const r = l.rounds[round];
  if (!l.campaign) throw new Error(`campaign ${l.campaignId}: no CampaignStarted in the ledger`);
  if (!r?.started) throw new Error(`campaign ${l.campaignId}: round ${round} has not started`);
  const rules = l.campaign.data.rules;
  const rev = r.started.data.policyRevision;
  const policy = l.policies[rev];
  if (!policy) throw new Error(`campaign ${l.campaignId}: policy revision ${rev} of round ${round} is not in the log`);
  const ids = new Set<string>([l.campaign.eventId, r.started.eventId, policy.eventId]);
  const planned: PlannedCandidateInput[] = r.started.data.candidates.map((c) => ({
    candidateId: c.candidateId,
    index: c.index,
    axis: c.axis,
    isAnchor: c.isAnchor,
    seeds: [...c.seeds],
    ...(c.prescribed ? { prescribed: c.prescribed } : {}),
  }));
  const manifests = Object.values(r.manifests).sort((a, b) => a.data.candidateId.localeCompare(b.data.candidateId));
  manifests.forEach((m) => ids.add(m.eventId));
  const submissions = Object.entries(r.submissions)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([submissionId, s]) => {
      ids.add(s.eventId);
      return { submissionId, candidateId: s.data.candidateId };
    });
  const scores = Object.values(r.scores).sort((a, b) => a.data.submissionId.localeCompare(b.data.submissionId));
  scores.forEach((s) => ids.add(s.eventId));
  const rejections = Object.values(r.rejections).sort((a, b) => a.data.submissionId.localeCompare(b.data.submissionId));
  rejections.forEach((s) => ids.add(s.eventId));
  const violations = [...r.violations].sort((a, b) => a.eventId.localeCompare(b.eventId));
  violations.forEach((v) => ids.add(v.eventId));
  // Campaign-wide budget use so far comes from the latest earlier round's record.
  let previousUse = { gpuSeconds: 0, tokens: 0 };
  for (let k = round - 1; k >= 1; k--) {
    const rec = l.rounds[k]?.recorded;
    if (!rec) continue;
    ids.add(rec.eventId);
    const b = rec.data.evidence.designRationaleAudit.budget;
    previousUse = { gpuSeconds: b.campaignGpuSeconds, tokens: b.campaignTokens };
    break;
  }
  return {
    inputs: {
      campaignId: l.campaignId,
      round,
      policy: policy.data,
      rules: { decouplingNoiseMultiple: rules.decouplingNoiseMultiple, noiseStdFloor: rules.noiseStdFloor },
      planned,
      manifests: manifests.map((m) => m.data),
      submissions,
      scores: scores.map((s) => s.data),
      rejections: rejections.map((s) => s.data),
      violations: violations.map((v) => v.data),
      budgets: l.campaign.data.config.budgets,
      previousUse,
      recipeFile: opts.recipeFile,
      axisPatterns: opts.axisPatterns,
    },
    inputEventIds: [...ids].sort(),
  };
}
