import type { CandidateState, ViewsState } from './campaign-fold';
import {
  campaignOf,
  candidateScores,
  candidatesOf,
  decouplingMarks,
  describeChange,
  hypotheses,
  jobsOf,
  lastPolicy,
  r6,
  roundAnchor,
} from './view-helpers';
import { budgetView } from './budget-view';
import { axisEffectsView, lineageView } from './effect-views';

export * from './view-helpers';
export * from './candidate-views';
export * from './effect-views';
export * from './budget-view';

/**
 * View models: what each dashboard view (and the report) shows, computed from the fold's state. Plain JSON, arrays
 * in a fixed order (round, then index, then id), so the same log always gives the same bytes.
 */

/** Campaign list for the selector. */
export function campaignListView(state: ViewsState) {
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
        candidates: c.candidates.size,
        events: c.eventCount,
      };
    });
}

/** Overview: configuration, result, and one row per round (best dev / LB, anchor, decoupling flag, spend). */
export function overviewView(state: ViewsState, campaignId: string) {
  const c = campaignOf(state, campaignId);
  const rounds = [...c.rounds.values()]
    .sort((a, b) => a.round - b.round)
    .map((r) => {
      const xs = r.candidateIds.map((id) => c.candidates.get(id)).filter((x): x is CandidateState => x !== undefined);
      const scores = xs.map((x) => candidateScores(c, x));
      const best = (k: 'dev' | 'publicLb' | 'privateLb') => {
        const v = scores.map((s) => s[k]).filter((x): x is number => x !== null);
        return v.length ? Math.max(...v) : null;
      };
      const anchor = roundAnchor(c, r.round);
      return {
        round: r.round,
        status: r.status,
        policyRevision: r.policyRevision,
        candidates: xs.length,
        completed: xs.filter((x) => x.status === 'completed').length,
        failed: xs.filter((x) => x.status === 'failed' || x.status === 'invalidated').length,
        bestDev: best('dev'),
        bestPublicLb: best('publicLb'),
        bestPrivateLb: c.privateUnsealed ? best('privateLb') : null,
        anchorDev: anchor?.dev ?? null,
        anchorPublicLb: anchor?.publicLb ?? null,
        decouplingFlagged: r.calibration?.proxyDecoupling.flagged ?? false,
        decouplingReason: r.calibration?.proxyDecoupling.reason ?? null,
        rankCorrelation: r6(r.calibration?.rankCorrelation ?? null),
        evidenceSha256: r.evidenceSha256,
      };
    });
  const p = lastPolicy(c);
  const jobs = [...c.jobs.values()].sort((a, b) => a.jobId.localeCompare(b.jobId));
  const jobCounts: Record<string, number> = {};
  for (const j of jobs) jobCounts[j.status] = (jobCounts[j.status] ?? 0) + 1;
  const LIVE = new Set(['requested', 'queued', 'running', 'preempted']);
  return {
    campaignId: c.campaignId,
    name: c.name,
    status: c.status,
    config: {
      substratePath: c.config.substratePath,
      rounds: c.config.rounds,
      workersPerRound: c.config.workersPerRound,
      axes: c.config.axes,
      anchorSeeds: c.config.anchorSeeds,
      seed: c.config.seed,
      workerKind: c.config.workerKind,
      metaKind: c.config.metaKind,
      budgets: c.config.budgets,
    },
    constitutionSha256: c.constitutionSha256,
    policy: {
      revision: p.revision,
      objective: p.policy.objective,
      promotionThreshold: p.policy.promotionThreshold,
      activeAxes: p.policy.activeAxes,
      deadEnds: p.policy.deadEnds.map((d) => ({ description: d.description, axis: d.axis, round: d.round })),
    },
    result: c.result,
    privateUnsealed: c.privateUnsealed,
    budgetExhausted: c.budgetExhausted,
    rounds,
    decoupling: hypotheses(c),
    refusals: c.refusals,
    // Jobs now in flight (at most 50, by id) and the latest failures, with their log tails cut short.
    jobs: {
      counts: Object.fromEntries(Object.entries(jobCounts).sort(([a], [b]) => a.localeCompare(b))),
      live: jobs
        .filter((j) => LIVE.has(j.status))
        .slice(0, 50)
        .map((j) => ({
          jobId: j.jobId,
          candidateId: j.candidateId,
          entrypoint: j.entrypoint,
          status: j.status,
          attempts: j.attempts,
        })),
      failed: jobs
        .filter((j) => j.status === 'failed')
        .slice(-10)
        .map((j) => ({
          jobId: j.jobId,
          candidateId: j.candidateId,
          entrypoint: j.entrypoint,
          reason: j.reason,
          logTail: j.logTail.slice(-600),
        })),
    },
    eventCount: c.eventCount,
  };
}

/** Each round's five-section evidence record, as the collector recorded it. */
export function evidenceView(state: ViewsState, campaignId: string) {
  const c = campaignOf(state, campaignId);
  return {
    campaignId,
    rounds: [...c.rounds.values()]
      .sort((a, b) => a.round - b.round)
      .map((r) => ({
        round: r.round,
        evidenceSha256: r.evidenceSha256,
        trigger: r.evidenceTrigger,
        evidence: r.evidence,
      })),
  };
}

/**
 * Dev vs leaderboard: one point per scored candidate, the anchor, the measured noise band, and the decoupling marks.
 */
export function scatterView(state: ViewsState, campaignId: string) {
  const c = campaignOf(state, campaignId);
  const marks = decouplingMarks(c);
  const points = candidatesOf(c)
    .map((x) => ({ x, s: candidateScores(c, x) }))
    .filter(({ s }) => s.dev !== null && s.publicLb !== null)
    .map(({ x, s }) => ({
      candidateId: x.candidateId,
      round: x.round,
      axis: x.axis,
      isAnchor: x.isAnchor,
      prescribed: x.prescribed ? x.prescribed.kind + (x.prescribed.role ? `:${x.prescribed.role}` : '') : null,
      dev: s.dev as number,
      publicLb: s.publicLb as number,
      privateLb: s.privateLb,
      marks: marks.get(x.candidateId) ?? [],
    }));
  // The band is drawn around the latest round whose anchor has both numbers, with the latest policy's noise.
  const anchorRounds = [...c.rounds.keys()].sort((a, b) => b - a);
  let anchor: { round: number; candidateId: string; dev: number; publicLb: number } | null = null;
  for (const r of anchorRounds) {
    const a = roundAnchor(c, r);
    if (a && a.dev !== null && a.publicLb !== null) {
      anchor = { round: r, candidateId: a.candidateId, dev: a.dev, publicLb: a.publicLb };
      break;
    }
  }
  const p = lastPolicy(c);
  const k = c.rules.decouplingNoiseMultiple;
  const nb = p.policy.noiseBand;
  const band = anchor
    ? {
        multiple: k,
        devStd: nb.devStd,
        lbStd: nb.lbStd,
        revision: p.revision,
        devLow: r6(anchor.dev - k * nb.devStd),
        devHigh: r6(anchor.dev + k * nb.devStd),
        lbLow: r6(anchor.publicLb - k * nb.lbStd),
        lbHigh: r6(anchor.publicLb + k * nb.lbStd),
      }
    : null;
  return {
    campaignId,
    privateUnsealed: c.privateUnsealed,
    rounds: [...c.rounds.keys()].sort((a, b) => a - b),
    points,
    anchor,
    band,
    hypotheses: hypotheses(c),
  };
}

/** The candidate table (filterable client side). */
export function candidatesView(state: ViewsState, campaignId: string) {
  const c = campaignOf(state, campaignId);
  return candidatesOf(c).map((x) => {
    const s = candidateScores(c, x);
    return {
      candidateId: x.candidateId,
      round: x.round,
      index: x.index,
      axis: x.axis,
      isAnchor: x.isAnchor,
      prescribed: x.prescribed?.kind ?? null,
      status: x.status,
      dev: s.dev,
      domains: s.dev !== null && x.chosen ? x.chosen.dev.domains : {},
      publicLb: s.publicLb,
      privateLb: s.privateLb,
      changes: x.recipeChanges.map(describeChange),
      failures: [...new Set(x.failureModes.map((f) => f.kind))].sort(),
      gpuSeconds: r6(jobsOf(c, x).reduce((a, j) => a + j.gpuSeconds, 0)),
    };
  });
}

export const VIEW_NAMES = ['overview', 'scatter', 'candidates', 'evidence', 'axes', 'lineage', 'budget'] as const;
export type ViewName = (typeof VIEW_NAMES)[number];

/** The campaign-wide views by name (the per-candidate page and compare take arguments). */
export function campaignView(state: ViewsState, campaignId: string, name: ViewName): unknown {
  switch (name) {
    case 'overview':
      return overviewView(state, campaignId);
    case 'scatter':
      return scatterView(state, campaignId);
    case 'candidates':
      return candidatesView(state, campaignId);
    case 'evidence':
      return evidenceView(state, campaignId);
    case 'axes':
      return axisEffectsView(state, campaignId);
    case 'lineage':
      return lineageView(state, campaignId);
    case 'budget':
      return budgetView(state, campaignId);
  }
}
