import { campaignOf, candidateScores, roundAnchor } from './builders';
import type { CampaignState, CandidateState } from './campaign-state';
import type { ViewsState } from './campaign-fold';

/**
 * The API's resource routes (`/api/campaigns`, `/api/campaigns/:id`, its candidates, evidence, policies and jobs),
 * built on the views fold like the dashboard's views and `aevo campaign status`: one read model, one vocabulary of
 * statuses. Arrays in a fixed order (round, index, id), so a replay serves the same JSON.
 */

const max = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));
const byCandidate = (a: CandidateState, b: CandidateState) =>
  a.round - b.round || a.index - b.index || a.candidateId.localeCompare(b.candidateId);

/** One candidate as `/api/campaigns/:id/candidates` lists it. */
export function candidateRow(c: CampaignState, x: CandidateState) {
  const scores = candidateScores(c, x);
  const jobs = x.jobIds.map((id) => c.jobs.get(id)).filter((j) => j !== undefined);
  const count = (...s: string[]) => jobs.filter((j) => s.includes(j.status)).length;
  return {
    candidateId: x.candidateId,
    round: x.round,
    index: x.index,
    axis: x.axis,
    isAnchor: x.isAnchor,
    status: x.status,
    dev: scores.dev !== null ? (x.chosen?.dev ?? null) : null,
    publicLb: scores.publicLb,
    privateLb: scores.privateLb,
    chosenCheckpoint: x.chosen?.checkpoint ?? null,
    recipeChanges: x.recipeChanges,
    failureModes: x.failureModes,
    gpuSeconds: jobs.reduce((a, j) => a + j.gpuSeconds, 0),
    traceSteps: x.trace.size,
    jobs: { running: count('running'), done: count('succeeded'), failed: count('failed', 'cancelled') },
  };
}

/** The campaign's candidates, optionally of one round. */
export function candidateRowsView(state: ViewsState, campaignId: string, round?: number) {
  const c = campaignOf(state, campaignId);
  return [...c.candidates.values()]
    .filter((x) => round === undefined || x.round === round)
    .sort(byCandidate)
    .map((x) => candidateRow(c, x));
}

/** One row per round: status, best dev / public / private LB of its candidates, its anchor's dev and LB. */
export function roundRows(c: CampaignState) {
  return [...c.rounds.values()]
    .sort((a, b) => a.round - b.round)
    .map((r) => {
      let bestDev: number | null = null;
      let bestPublicLb: number | null = null;
      let bestPrivateLb: number | null = null;
      for (const id of r.candidateIds) {
        const x = c.candidates.get(id);
        if (!x) continue;
        const s = candidateScores(c, x);
        bestDev = max(bestDev, s.dev);
        bestPublicLb = max(bestPublicLb, s.publicLb);
        bestPrivateLb = max(bestPrivateLb, s.privateLb);
      }
      const anchor = roundAnchor(c, r.round);
      return {
        round: r.round,
        status: r.status,
        policyRevision: r.policyRevision,
        candidates: [...r.candidateIds],
        hasEvidence: r.evidence !== null,
        bestDev,
        bestPublicLb,
        bestPrivateLb,
        anchorDev: anchor?.dev ?? null,
        anchorPublicLb: anchor?.publicLb ?? null,
      };
    });
}

/** `/api/campaigns/:id`: configuration, result, rounds, the best-per-round trajectory, violations and submissions. */
export function campaignDetailView(state: ViewsState, campaignId: string) {
  const c = campaignOf(state, campaignId);
  const rounds = roundRows(c);
  const violations = [...c.candidates.values()]
    .sort(byCandidate)
    .flatMap((x) =>
      x.frozenViolations.map((v) => ({ candidateId: x.candidateId, path: v.path, kind: v.kind, detail: v.detail })),
    );
  const submissions = Object.fromEntries(
    [...c.submissions.values()]
      .sort((a, b) => a.submissionId.localeCompare(b.submissionId))
      .map((s) => [
        s.submissionId,
        {
          candidateId: s.candidateId,
          round: s.round,
          status: s.status,
          publicScore: s.publicScore,
          privateScore: c.privateUnsealed ? s.privateScore : null,
          message: s.rejection,
        },
      ]),
  );
  return {
    campaignId,
    name: c.name,
    status: c.status,
    statusReason: c.statusReason,
    config: c.config,
    constitutionSha256: c.constitutionSha256,
    result: c.result,
    rounds,
    // One point per round, like the seed paper's Figure 3 (private LB only after the final audit).
    trajectory: rounds.map((r) => ({
      round: r.round,
      dev: r.bestDev,
      publicLb: r.bestPublicLb,
      privateLb: c.result ? r.bestPrivateLb : null,
      anchorDev: r.anchorDev,
    })),
    violations,
    submissions,
    eventCount: c.eventCount,
  };
}

/** One line per campaign for `/api/campaigns` (the caller adds when each started: the fold reads no times). */
export function campaignSummaries(state: ViewsState) {
  return Object.keys(state.campaigns)
    .sort()
    .map((id) => {
      const c = state.campaigns[id];
      return {
        campaignId: id,
        name: c.name,
        status: c.status,
        rounds: c.rounds.size,
        plannedRounds: c.config.rounds,
        bestPublicLb: roundRows(c).reduce<number | null>((m, r) => max(m, r.bestPublicLb), null),
      };
    });
}

/** A round's recorded evidence, or null while none is recorded. */
export function roundEvidenceOf(state: ViewsState, campaignId: string, round: number) {
  return campaignOf(state, campaignId).rounds.get(round)?.evidence ?? null;
}

/** Policy revisions (the initial policy first), the standing dead ends and the constitution's refusals. */
export function policiesView(state: ViewsState, campaignId: string) {
  const c = campaignOf(state, campaignId);
  const revisions = c.policies.map((p) => ({
    revision: p.revision,
    round: p.round,
    policy: p.policy,
    changes: p.changes,
    proposer: p.proposer,
    evidenceSha256: p.evidenceSha256,
  }));
  const last = c.policies[c.policies.length - 1];
  return { revisions, deadEnds: last?.policy.deadEnds ?? [], refusals: c.refusals };
}

/** The campaign's jobs by id, with their log tails. */
export function jobRowsView(state: ViewsState, campaignId: string) {
  const c = campaignOf(state, campaignId);
  return [...c.jobs.values()]
    .sort((a, b) => a.jobId.localeCompare(b.jobId))
    .map((j) => ({
      jobId: j.jobId,
      candidateId: j.candidateId,
      round: j.round,
      entrypoint: j.entrypoint,
      status: j.status,
      logTail: j.logTail,
      gpuSeconds: j.gpuSeconds,
      reason: j.reason,
    }));
}
