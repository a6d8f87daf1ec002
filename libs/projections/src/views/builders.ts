import { canonicalJson, type RecipeChange } from '@aevo/contracts';
import { flattenRecipe } from '@aevo/policy-engine';
import type {
  CampaignState,
  CandidateState,
  DecouplingStep,
  PolicyRevisionState,
  SubmissionState,
  ViewsState,
} from './campaign-fold';
import { estimate, meanOf, round6, type Estimate } from './stats';

/**
 * View models: what each dashboard view (and the report) shows, computed from the fold's state. Plain JSON, arrays
 * in a fixed order (round, then index, then id), so the same log always gives the same bytes.
 */

const LOG_TAIL_CHARS = 2000;
const r6 = (x: number | null | undefined): number | null => (x === null || x === undefined ? null : round6(x));
const byCandidate = (a: CandidateState, b: CandidateState) =>
  a.round - b.round || a.index - b.index || a.candidateId.localeCompare(b.candidateId);

export class UnknownViewTarget extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

export function campaignOf(state: ViewsState, campaignId: string): CampaignState {
  const c = Object.prototype.hasOwnProperty.call(state.campaigns, campaignId) ? state.campaigns[campaignId] : undefined;
  if (!c) throw new UnknownViewTarget('campaignId', `no campaign "${campaignId}"`);
  return c;
}

const candidatesOf = (c: CampaignState) => [...c.candidates.values()].sort(byCandidate);
const submissionsOf = (c: CampaignState, x: CandidateState): SubmissionState[] =>
  x.submissionIds.map((id) => c.submissions.get(id)).filter((s): s is SubmissionState => s !== undefined);

/** Best public score of a candidate's submissions (as the `candidates` projection), and the private score of that submission once unsealed. */
export function candidateScores(
  c: CampaignState,
  x: CandidateState,
): { dev: number | null; publicLb: number | null; privateLb: number | null; publicScores: number[] } {
  let best: SubmissionState | null = null;
  const publicScores: number[] = [];
  for (const s of [...submissionsOf(c, x)].sort((a, b) => a.submissionId.localeCompare(b.submissionId))) {
    if (s.publicScore === null) continue;
    publicScores.push(s.publicScore);
    if (best === null || s.publicScore > (best.publicScore as number)) best = s;
  }
  const dev = x.status === 'completed' || x.status === 'invalidated' ? (x.chosen?.dev.overall ?? null) : null;
  return {
    dev,
    publicLb: best?.publicScore ?? null,
    privateLb: c.privateUnsealed && best ? best.privateScore : null,
    publicScores,
  };
}

/** The anchor of a round: its dev and the mean of its public scores (seed replicates), the reference candidates are paired with. */
export function roundAnchor(
  c: CampaignState,
  round: number,
): { candidateId: string; dev: number | null; publicLb: number | null } | null {
  const r = c.rounds.get(round);
  const a = r?.candidateIds.map((id) => c.candidates.get(id)).find((x) => x?.isAnchor);
  if (!a) return null;
  const s = candidateScores(c, a);
  return { candidateId: a.candidateId, dev: s.dev, publicLb: r6(meanOf(s.publicScores)) };
}

const lastPolicy = (c: CampaignState): PolicyRevisionState => c.policies[c.policies.length - 1];

/** Final step reached by each decoupling hypothesis, and which candidates it marks. */
function decouplingMarks(c: CampaignState): Map<string, DecouplingStep[]> {
  const marks = new Map<string, DecouplingStep[]>();
  const mark = (id: string, m: DecouplingStep) => {
    const xs = marks.get(id) ?? [];
    if (!xs.includes(m)) xs.push(m);
    marks.set(id, xs);
  };
  for (const d of c.decoupling) {
    mark(d.hypothesis.suspectCandidateId, d.step === 'probed' ? 'suspected' : d.step);
    for (const p of d.hypothesis.probes) mark(p.candidateId, 'probed');
  }
  return marks;
}

function hypotheses(c: CampaignState) {
  const byId = new Map<
    string,
    {
      id: string;
      domain: string;
      status: string;
      suspectedRound: number;
      decidedRound: number | null;
      suspectCandidateId: string;
      suspectAxis: string;
      suspectDevDelta: number | null;
      suspectLbDelta: number | null;
      probes: Array<{
        candidateId: string;
        role: string;
        round: number;
        devDelta: number | null;
        lbDelta: number | null;
        verdict: string;
      }>;
      steps: Array<{ round: number; step: DecouplingStep }>;
      evidence: string[];
    }
  >();
  for (const d of c.decoupling) {
    const h = d.hypothesis;
    const prev = byId.get(h.id);
    byId.set(h.id, {
      id: h.id,
      domain: h.domain,
      status: h.status,
      suspectedRound: h.suspectedRound,
      decidedRound: h.decidedRound,
      suspectCandidateId: h.suspectCandidateId,
      suspectAxis: h.suspectAxis,
      suspectDevDelta: r6(h.suspectDevDelta),
      suspectLbDelta: r6(h.suspectLbDelta),
      probes: h.probes.map((p) => ({
        candidateId: p.candidateId,
        role: p.role,
        round: p.round,
        devDelta: r6(p.devDelta),
        lbDelta: r6(p.lbDelta),
        verdict: p.verdict,
      })),
      steps: [...(prev?.steps ?? []), { round: d.round, step: d.step }],
      evidence: h.evidence,
    });
  }
  return [...byId.values()].sort((a, b) => a.suspectedRound - b.suspectedRound || a.id.localeCompare(b.id));
}

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

/** Dev vs leaderboard: one point per scored candidate, the anchor, the measured noise band, and the decoupling marks. */
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

const jobsOf = (c: CampaignState, x: CandidateState) =>
  x.jobIds.map((id) => c.jobs.get(id)).filter((j) => j !== undefined);

export const describeChange = (ch: RecipeChange): string =>
  `${ch.path}: ${ch.from === undefined ? '(unset)' : canonicalJson(ch.from)} → ${canonicalJson(ch.to)}`;

/** Everything recorded about one candidate. */
export function candidatePageView(state: ViewsState, campaignId: string, candidateId: string) {
  const c = campaignOf(state, campaignId);
  const x = c.candidates.get(candidateId);
  if (!x) throw new UnknownViewTarget('candidateId', `campaign "${campaignId}" has no candidate "${candidateId}"`);
  const s = candidateScores(c, x);
  const anchor = roundAnchor(c, x.round);
  const checkpoints = (x.checkpoints.length ? x.checkpoints : [...x.evaluated.values()])
    .slice()
    .sort((a, b) => a.seed - b.seed || a.step - b.step || a.checkpoint.localeCompare(b.checkpoint));
  const domains = [...new Set(checkpoints.flatMap((k) => Object.keys(k.dev.domains)))].sort();
  const marks = decouplingMarks(c).get(x.candidateId) ?? [];
  return {
    campaignId,
    candidateId: x.candidateId,
    round: x.round,
    index: x.index,
    axis: x.axis,
    isAnchor: x.isAnchor,
    seeds: x.seeds,
    status: x.status,
    prescribed: x.prescribed,
    hypothesis: x.hypothesis,
    worker: x.worker,
    workerFailure: x.workerFailure,
    recipeChanges: x.recipeChanges.map((ch) => ({
      path: ch.path,
      from: ch.from ?? null,
      to: ch.to,
      text: describeChange(ch),
    })),
    recipeDiff: x.recipeDiff,
    filesChanged: x.filesChanged,
    recipeEdits: x.recipeEdits,
    trace: [...x.trace.values()].sort((a, b) => a.step - b.step),
    jobs: jobsOf(c, x)
      .sort((a, b) => a.jobId.localeCompare(b.jobId))
      .map((j) => ({
        ...j,
        gpuSeconds: r6(j.gpuSeconds),
        wallSeconds: r6(j.wallSeconds),
        logTail: j.logTail.length > LOG_TAIL_CHARS ? j.logTail.slice(-LOG_TAIL_CHARS) : j.logTail,
      })),
    domains,
    checkpoints: checkpoints.map((k) => ({
      checkpoint: k.checkpoint,
      step: k.step,
      seed: k.seed,
      overall: k.dev.overall,
      domains: domains.map((d) => k.dev.domains[d] ?? null),
      chosen: x.chosen?.checkpoint === k.checkpoint,
    })),
    chosen: x.chosen,
    selection: x.selection,
    evaluationFailures: x.evaluationFailures,
    failureModes: x.failureModes,
    cost: x.cost,
    dev: s.dev,
    publicLb: s.publicLb,
    privateLb: s.privateLb,
    anchor:
      anchor && !x.isAnchor
        ? {
            candidateId: anchor.candidateId,
            dev: anchor.dev,
            publicLb: anchor.publicLb,
            devDelta: anchor.dev !== null && s.dev !== null ? r6(s.dev - anchor.dev) : null,
            lbDelta: anchor.publicLb !== null && s.publicLb !== null ? r6(s.publicLb - anchor.publicLb) : null,
          }
        : null,
    submissions: submissionsOf(c, x)
      .sort((a, b) => a.submissionId.localeCompare(b.submissionId))
      .map((sub) => ({ ...sub, privateScore: c.privateUnsealed ? sub.privateScore : null })),
    frozen: { verifications: x.frozenVerifications, violations: x.frozenViolations },
    decoupling: marks,
  };
}

interface EffectRow {
  key: string;
  n: number;
  dev: Estimate;
  lb: Estimate;
  candidates: string[];
}

function effectRows(
  groups: Map<string, Array<{ id: string; devDelta: number | null; lbDelta: number | null }>>,
): EffectRow[] {
  return [...groups.keys()].sort().map((key) => {
    const xs = groups.get(key) ?? [];
    return {
      key,
      n: xs.length,
      dev: estimate(xs.map((x) => x.devDelta).filter((v): v is number => v !== null)),
      lb: estimate(xs.map((x) => x.lbDelta).filter((v): v is number => v !== null)),
      candidates: xs.map((x) => x.id),
    };
  });
}

const direction = (ch: RecipeChange): 'increase' | 'decrease' | 'set' =>
  typeof ch.from === 'number' && typeof ch.to === 'number'
    ? ch.to > ch.from
      ? 'increase'
      : ch.to < ch.from
        ? 'decrease'
        : 'set'
    : 'set';

/**
 * Axis effects ("parameter importance"): every non-anchor candidate's dev and public-LB difference to its round's
 * anchor, pooled per axis and per recipe knob (path and direction), with 95% t intervals; and what the policy did.
 */
export function axisEffectsView(state: ViewsState, campaignId: string) {
  const c = campaignOf(state, campaignId);
  const byAxis = new Map<string, Array<{ id: string; devDelta: number | null; lbDelta: number | null }>>();
  const byKnob = new Map<string, Array<{ id: string; devDelta: number | null; lbDelta: number | null }>>();
  for (const x of candidatesOf(c)) {
    if (x.isAnchor) continue;
    const s = candidateScores(c, x);
    const a = roundAnchor(c, x.round);
    if (s.dev === null || !a) continue;
    const obs = {
      id: x.candidateId,
      devDelta: a.dev !== null ? s.dev - a.dev : null,
      lbDelta: a.publicLb !== null && s.publicLb !== null ? s.publicLb - a.publicLb : null,
    };
    byAxis.set(x.axis, [...(byAxis.get(x.axis) ?? []), obs]);
    for (const ch of x.recipeChanges) {
      const k = `${ch.path} ${direction(ch)}`;
      byKnob.set(k, [...(byKnob.get(k) ?? []), obs]);
    }
  }
  const p = lastPolicy(c).policy;
  const promotions = lineageView(state, campaignId).revisions.flatMap((r) =>
    r.promotions.map((pr) => ({ ...pr, revision: r.revision })),
  );
  const promotedCandidates = new Set(promotions.flatMap((pr) => pr.candidates));
  const axes = effectRows(byAxis).map((row) => {
    const retired = p.retiredAxes.find((r) => r.axis === row.key);
    const deadEnds = p.deadEnds.filter((d) => d.axis === row.key).map((d) => d.description);
    const promoted = row.candidates.filter((id) => promotedCandidates.has(id));
    const actions = [
      ...(promoted.length ? ['promoted'] : []),
      ...(deadEnds.length ? ['dead end'] : []),
      ...(retired ? ['retired'] : []),
    ];
    return {
      axis: row.key,
      n: row.n,
      dev: row.dev,
      lb: row.lb,
      candidates: row.candidates,
      active: p.activeAxes.includes(row.key as never),
      retired: retired ? { round: retired.round, reason: retired.reason } : null,
      deadEnds,
      promoted,
      actions,
    };
  });
  const ledger = new Map((p.moveLedger ?? []).map((m) => [`${m.path} ${m.direction}`, m]));
  const knobs = effectRows(byKnob).map((row) => {
    const [path, dir] = row.key.split(' ');
    const deadEnds = p.deadEnds
      .filter(
        (d) =>
          d.path !== undefined &&
          (path === d.path || path.startsWith(`${d.path}.`)) &&
          (!d.direction || d.direction === dir),
      )
      .map((d) => d.description);
    const promoted = promotions
      .filter((pr) => pr.path === path)
      .map((pr) => `revision ${pr.revision}: ${canonicalJson(pr.from)} → ${canonicalJson(pr.to)}`);
    const m = ledger.get(row.key);
    return {
      knob: row.key,
      path,
      direction: dir,
      n: row.n,
      dev: row.dev,
      lb: row.lb,
      candidates: row.candidates,
      deadEnds,
      promoted,
      ledger: m ? { rounds: m.rounds, devGains: m.devGains.map(round6), lbGains: m.lbGains.map(round6) } : null,
      actions: [...(promoted.length ? ['promoted'] : []), ...(deadEnds.length ? ['dead end'] : [])],
    };
  });
  return { campaignId, axes, knobs };
}

/**
 * Lineage: every policy revision as a timeline, with the standing recipe's changes (promotions) linked to the
 * candidates whose recipe change they adopt, the evidence hash that justified them, and the dead ends and retirements
 * each added.
 */
export function lineageView(state: ViewsState, campaignId: string) {
  const c = campaignOf(state, campaignId);
  const revisions = c.policies.map((rev, i) => {
    const prev = i > 0 ? c.policies[i - 1].policy : null;
    const before = prev ? flattenRecipe(prev.standingRecipe) : new Map<string, unknown>();
    const after = flattenRecipe(rev.policy.standingRecipe);
    const promotions: Array<{ path: string; from: unknown; to: unknown; candidates: string[] }> = [];
    if (prev)
      for (const path of [...new Set([...before.keys(), ...after.keys()])].sort()) {
        const [a, b] = [before.get(path), after.get(path)];
        if (canonicalJson(a ?? null) === canonicalJson(b ?? null)) continue;
        // The candidates (up to this revision's round) whose change set this value: the evidence for the promotion.
        const candidates = candidatesOf(c)
          .filter(
            (x) =>
              x.round <= rev.round &&
              x.recipeChanges.some(
                (ch) =>
                  (ch.path === path || path.startsWith(`${ch.path}.`)) &&
                  canonicalJson(ch.to) === canonicalJson(ch.path === path ? b : after.get(ch.path)),
              ),
          )
          .map((x) => x.candidateId);
        promotions.push({ path, from: a ?? null, to: b ?? null, candidates });
      }
    const deadBefore = new Set((prev?.deadEnds ?? []).map((d) => d.id));
    const retiredBefore = new Set((prev?.retiredAxes ?? []).map((r) => r.axis));
    return {
      revision: rev.revision,
      round: rev.round,
      proposer: rev.proposer,
      llmRefused: rev.llmRefused,
      evidenceSha256: rev.evidenceSha256,
      objective: rev.policy.objective,
      promotionThreshold: rev.policy.promotionThreshold,
      noiseBand: { devStd: rev.policy.noiseBand.devStd, lbStd: rev.policy.noiseBand.lbStd },
      selection: rev.policy.selectionCriterion.kind,
      changes: rev.changes,
      promotions,
      deadEndsAdded: rev.policy.deadEnds
        .filter((d) => !deadBefore.has(d.id))
        .map((d) => ({
          description: d.description,
          axis: d.axis,
          candidateId: d.candidateId ?? null,
          evidence: d.evidence,
        })),
      retired: rev.policy.retiredAxes.filter((r) => !retiredBefore.has(r.axis)),
      decoupling: c.decoupling
        .filter((d) => d.round === rev.round && rev.round > 0)
        .map((d) => ({
          step: d.step,
          id: d.hypothesis.id,
          domain: d.hypothesis.domain,
          suspectCandidateId: d.hypothesis.suspectCandidateId,
        })),
      refusals: c.refusals.filter((r) => r.round === rev.round && rev.round > 0),
    };
  });
  return {
    campaignId,
    standingRecipe: Object.fromEntries(
      [...flattenRecipe(lastPolicy(c).policy.standingRecipe)].sort(([a], [b]) => a.localeCompare(b)),
    ),
    revisions,
  };
}

/** One candidate, condensed for side-by-side comparison. */
export function candidateSummary(state: ViewsState, campaignId: string, candidateId: string) {
  const p = candidatePageView(state, campaignId, candidateId);
  const best = p.checkpoints.find((k) => k.chosen);
  return {
    kind: 'candidate' as const,
    id: p.candidateId,
    round: p.round,
    axis: p.axis,
    status: p.status,
    recipe: p.recipeChanges.map((ch) => ch.text),
    domains: Object.fromEntries(p.domains.map((d, i) => [d, best ? best.domains[i] : null])),
    dev: p.dev,
    publicLb: p.publicLb,
    privateLb: p.privateLb,
    cost: {
      gpuSeconds: r6(p.jobs.reduce((a, j) => a + (j.gpuSeconds ?? 0), 0)),
      llmTokens: p.cost ? p.cost.inputTokens + p.cost.outputTokens : 0,
      jobs: p.jobs.length,
      submissions: p.submissions.length,
    },
  };
}

/** One round, condensed for side-by-side comparison: its best candidate's recipe and scores, mean per-domain dev, and cost. */
export function roundSummary(state: ViewsState, campaignId: string, round: number) {
  const c = campaignOf(state, campaignId);
  const r = c.rounds.get(round);
  if (!r) throw new UnknownViewTarget('round', `campaign "${campaignId}" has no round ${round}`);
  const xs = r.candidateIds.map((id) => c.candidates.get(id)).filter((x): x is CandidateState => x !== undefined);
  const scored = xs.map((x) => ({ x, s: candidateScores(c, x) }));
  const bestLb = scored
    .filter((e) => e.s.publicLb !== null)
    .sort((a, b) => (b.s.publicLb as number) - (a.s.publicLb as number) || byCandidate(a.x, b.x))[0];
  const domainValues = new Map<string, number[]>();
  for (const { x, s } of scored)
    if (s.dev !== null && x.chosen)
      for (const [d, v] of Object.entries(x.chosen.dev.domains))
        domainValues.set(d, [...(domainValues.get(d) ?? []), v]);
  const b = budgetView(state, campaignId).rounds.find((row) => row.round === round);
  const devs = scored.map((e) => e.s.dev).filter((v): v is number => v !== null);
  return {
    kind: 'round' as const,
    id: `round ${round}`,
    round,
    axis: [...new Set(xs.map((x) => x.axis))].sort().join(', '),
    status: r.status,
    recipe: bestLb ? [`best LB: ${bestLb.x.candidateId}`, ...bestLb.x.recipeChanges.map(describeChange)] : [],
    domains: Object.fromEntries([...domainValues.keys()].sort().map((d) => [d, r6(meanOf(domainValues.get(d) ?? []))])),
    dev: devs.length ? Math.max(...devs) : null,
    publicLb: bestLb?.s.publicLb ?? null,
    privateLb: bestLb?.s.privateLb ?? null,
    cost: {
      gpuSeconds: b?.gpuSeconds ?? 0,
      llmTokens: b?.llmTokens ?? 0,
      jobs: xs.reduce((a, x) => a + x.jobIds.length, 0),
      submissions: b?.submissions ?? 0,
    },
  };
}

/** Two candidates or two rounds side by side. */
export function compareView(
  state: ViewsState,
  campaignId: string,
  kind: 'candidates' | 'rounds',
  a: string,
  b: string,
) {
  const one = (id: string) => {
    if (kind === 'candidates') return candidateSummary(state, campaignId, id);
    const n = Number(id);
    if (!Number.isInteger(n) || n < 1) throw new UnknownViewTarget('round', `expected a round number, got "${id}"`);
    return roundSummary(state, campaignId, n);
  };
  return { campaignId, kind, a: one(a), b: one(b) };
}

/** Budget: GPU-seconds, LLM tokens and submissions per round against the campaign's caps. */
export function budgetView(state: ViewsState, campaignId: string) {
  const c = campaignOf(state, campaignId);
  const gpu = new Map<number, number>();
  for (const j of c.jobs.values()) gpu.set(j.round, (gpu.get(j.round) ?? 0) + j.gpuSeconds);
  const tokens = new Map<number, number>();
  for (const x of c.candidates.values())
    if (x.cost) tokens.set(x.round, (tokens.get(x.round) ?? 0) + x.cost.inputTokens + x.cost.outputTokens);
  for (const r of c.rounds.values()) tokens.set(r.round, (tokens.get(r.round) ?? 0) + r.collectorTokens);
  // A revision's meta-agent turn is charged to the round whose evidence it read.
  for (const p of c.policies) if (p.round > 0) tokens.set(p.round, (tokens.get(p.round) ?? 0) + p.llmTokens);
  const subs = new Map<number, { requested: number; scored: number; rejected: number }>();
  for (const s of c.submissions.values()) {
    const v = subs.get(s.round) ?? { requested: 0, scored: 0, rejected: 0 };
    v.requested += 1;
    if (s.status === 'scored') v.scored += 1;
    if (s.status === 'rejected') v.rejected += 1;
    subs.set(s.round, v);
  }
  let cumGpu = 0;
  let cumTokens = 0;
  const rounds = [...c.rounds.keys()]
    .sort((a, b) => a - b)
    .map((round) => {
      const g = gpu.get(round) ?? 0;
      const t = tokens.get(round) ?? 0;
      cumGpu += g;
      cumTokens += t;
      const s = subs.get(round) ?? { requested: 0, scored: 0, rejected: 0 };
      return {
        round,
        gpuSeconds: r6(g),
        llmTokens: t,
        submissions: s.requested,
        scored: s.scored,
        rejected: s.rejected,
        submissionCap: c.config.budgets.submissionsPerRound,
        cumulativeGpuSeconds: r6(cumGpu),
        cumulativeLlmTokens: cumTokens,
        spentAtClose: c.rounds.get(round)?.spentAtClose ?? null,
      };
    });
  return {
    campaignId,
    caps: c.config.budgets,
    totals: {
      gpuSeconds: r6(cumGpu),
      llmTokens: cumTokens,
      submissions: rounds.reduce((a, r) => a + r.submissions, 0),
    },
    exhausted: c.budgetExhausted,
    rounds,
  };
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
