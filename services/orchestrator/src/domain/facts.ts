import {
  CandidateForked,
  FrozenPathViolated,
  JobCancelled,
  JobFailed,
  JobSucceeded,
  LeaderboardScored,
  ManifestSubmitted,
  PolicyRevised,
  PrivateLeaderboardUnsealed,
  SubstrateRejected,
  SnapshotDamaged,
  RoundEvidenceRecorded,
  WorkerFailed,
  isEvent,
  snapshotDamageReason,
  type BudgetSpent,
  type DataOf,
  type EventEnvelope,
  type RollingPolicy,
  type ScoreVector,
  llmTurnTokens,
} from '@aevo/contracts';

/**
 * What the orchestrator knows from other services' events, folded per campaign. The campaign aggregate never
 * stores these facts in its own stream: the application layer folds them from the log and hands them to
 * `decide` as the input of an Advance command, so the decision stays pure and a replay reads the same facts.
 * Every fact is first-wins (a redelivered or duplicated event changes nothing).
 */
export interface CandidateFacts {
  /** From CandidateForked. */
  sandboxPath: string | null;
  /** The first ManifestSubmitted of the candidate. */
  manifest: { status: 'completed' | 'failed'; checkpoint: string | null; dev: ScoreVector | null } | null;
  /** WorkerFailed reason: the worker gave up (a failed manifest may follow, or the candidate is lost). */
  workerFailed: string | null;
  /** The first FrozenPathViolated (kind and path): the candidate is invalid for good. */
  invalidated: string | null;
}

export interface RoundFacts {
  candidates: Record<string, CandidateFacts>;
  /** RoundEvidenceRecorded.evidenceSha256 of the round (the collector records one per round). */
  evidenceSha256: string | null;
  /** Best public LB score among the round's scored submissions. */
  bestPublicLb: number | null;
}

export interface RevisedPolicyFact {
  /** The round whose evidence produced this revision (it steers round + 1). */
  round: number;
  policy: RollingPolicy;
  policySha256: string;
}

export type UnsealedScore = DataOf<typeof PrivateLeaderboardUnsealed>['scores'][number];

export interface CampaignFacts {
  rounds: Record<number, RoundFacts>;
  /** PolicyRevised by policy revision. */
  revisions: Record<number, RevisedPolicyFact>;
  /** Evidence round → the revision derived from it. */
  revisionOfRound: Record<number, number>;
  /** GPU-seconds (or CPU-slot-seconds) per finished job; one terminal event per job, first wins. */
  jobSeconds: Record<string, number>;
  /** LLM tokens per source: `manifest:<candidate>`, `meta:<round>`, `collector:<round>`. */
  tokens: Record<string, number>;
  /** The final audit's revealed scores (PrivateLeaderboardUnsealed), null before it. */
  unsealed: UnsealedScore[] | null;
  /** Why the substrate service refused the campaign's substrate (SubstrateRejected): nothing can be forked. */
  substrateRejected: string | null;
  /**
   * The first unrecoverable SnapshotDamaged (the files it names): the pinned snapshot is gone, nothing can run from it.
   */
  snapshotLost: string | null;
}

/** The event types folded into CampaignFacts (the orchestrator's durable consumers react to a subset of them). */
export const FACT_EVENT_TYPES: readonly string[] = [
  CandidateForked.type,
  ManifestSubmitted.type,
  WorkerFailed.type,
  FrozenPathViolated.type,
  RoundEvidenceRecorded.type,
  PolicyRevised.type,
  LeaderboardScored.type,
  JobSucceeded.type,
  JobFailed.type,
  JobCancelled.type,
  PrivateLeaderboardUnsealed.type,
  SubstrateRejected.type,
  SnapshotDamaged.type,
];

// Keyed by ids from the log (candidates, jobs): no prototype, so an id such as "constructor" is an ordinary key.
const dict = <V>(): Record<string, V> => Object.create(null) as Record<string, V>;

export const emptyFacts = (): CampaignFacts => ({
  rounds: dict(),
  revisions: dict(),
  revisionOfRound: dict(),
  jobSeconds: dict(),
  tokens: dict(),
  unsealed: null,
  substrateRejected: null,
  snapshotLost: null,
});

const roundOf = (f: CampaignFacts, round: number): RoundFacts =>
  (f.rounds[round] ??= { candidates: dict(), evidenceSha256: null, bestPublicLb: null });
const candidateOf = (f: CampaignFacts, round: number, candidateId: string): CandidateFacts =>
  (roundOf(f, round).candidates[candidateId] ??= {
    sandboxPath: null,
    manifest: null,
    workerFailed: null,
    invalidated: null,
  });

/** Folds one event into the facts (in place; the caller owns `f`). Events of other types are ignored. */
export function applyFact(f: CampaignFacts, e: EventEnvelope): CampaignFacts {
  if (isEvent(e, CandidateForked)) {
    const c = candidateOf(f, e.data.round, e.data.candidateId);
    c.sandboxPath ??= e.data.sandboxPath;
  } else if (isEvent(e, ManifestSubmitted)) {
    const c = candidateOf(f, e.data.round, e.data.candidateId);
    if (c.manifest) return f;
    const m = e.data.manifest;
    c.manifest = {
      status: m.status,
      checkpoint: m.chosenCheckpoint?.checkpoint ?? null,
      dev: m.chosenCheckpoint?.dev ?? null,
    };
    f.tokens[`manifest:${e.data.candidateId}`] = m.cost.inputTokens + m.cost.outputTokens;
  } else if (isEvent(e, WorkerFailed)) {
    const c = candidateOf(f, e.data.round, e.data.candidateId);
    c.workerFailed ??= e.data.reason;
  } else if (isEvent(e, FrozenPathViolated)) {
    const c = candidateOf(f, e.data.round, e.data.candidateId);
    c.invalidated ??= `${e.data.kind}: ${e.data.path}`;
  } else if (isEvent(e, RoundEvidenceRecorded)) {
    const r = roundOf(f, e.data.round);
    if (r.evidenceSha256 !== null) return f;
    r.evidenceSha256 = e.data.evidenceSha256;
    if (e.data.llm) f.tokens[`collector:${e.data.round}`] = llmTurnTokens(e.data.llm);
  } else if (isEvent(e, PolicyRevised)) {
    const rev = e.data.policy.revision;
    if (f.revisions[rev]) return f;
    f.revisions[rev] = { round: e.data.round, policy: e.data.policy, policySha256: e.data.policySha256 };
    f.revisionOfRound[e.data.round] ??= rev;
    if (e.data.llm) f.tokens[`meta:${e.data.round}`] = llmTurnTokens(e.data.llm);
  } else if (isEvent(e, LeaderboardScored)) {
    const r = roundOf(f, e.data.round);
    if (r.bestPublicLb === null || e.data.publicScore > r.bestPublicLb) r.bestPublicLb = e.data.publicScore;
  } else if (isEvent(e, JobSucceeded) || isEvent(e, JobFailed) || isEvent(e, JobCancelled)) {
    if (!(e.data.jobId in f.jobSeconds)) f.jobSeconds[e.data.jobId] = e.data.gpuSeconds;
  } else if (isEvent(e, PrivateLeaderboardUnsealed)) {
    f.unsealed ??= e.data.scores;
  } else if (isEvent(e, SubstrateRejected)) {
    f.substrateRejected ??=
      `${e.data.substratePath}: ` + e.data.issues.map((i) => `${i.path}: ${i.message}`).join('; ');
  } else if (isEvent(e, SnapshotDamaged)) {
    // A rebuilt snapshot is the same bytes again: only the sandboxes forked before are affected (invalidated).
    if (e.data.outcome === 'unrecoverable') f.snapshotLost ??= snapshotDamageReason(e.data);
  }
  return f;
}

export const foldFacts = (events: readonly EventEnvelope[]): CampaignFacts => events.reduce(applyFact, emptyFacts());

/** Budget spent so far: job seconds (as dispatch charged them) and LLM tokens. */
export function spentOf(f: CampaignFacts): BudgetSpent {
  let gpuSeconds = 0;
  for (const s of Object.values(f.jobSeconds)) gpuSeconds += s;
  let llmTokens = 0;
  for (const t of Object.values(f.tokens)) llmTokens += t;
  // Rounded so that the recorded figure does not carry float noise from summation order.
  return { gpuSeconds: Math.round(gpuSeconds * 1000) / 1000, llmTokens };
}

/** The revision the meta-policy derived from `round`'s evidence (the policy of round + 1), if recorded. */
export function revisionFromRound(f: CampaignFacts, round: number): RevisedPolicyFact | null {
  const rev = f.revisionOfRound[round];
  return rev === undefined ? null : (f.revisions[rev] ?? null);
}

/** The newest revised policy recorded (highest revision), if any. */
export function newestRevision(f: CampaignFacts): RevisedPolicyFact | null {
  let best: RevisedPolicyFact | null = null;
  for (const r of Object.values(f.revisions)) if (!best || r.policy.revision > best.policy.revision) best = r;
  return best;
}
