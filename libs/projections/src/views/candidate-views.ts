import type { CandidateState, ViewsState } from './campaign-fold';
import { meanOf } from './stats';
import {
  byCandidate,
  campaignOf,
  candidateScores,
  decouplingMarks,
  describeChange,
  jobsOf,
  LOG_TAIL_CHARS,
  r6,
  roundAnchor,
  submissionsOf,
  UnknownViewTarget,
} from './view-helpers';
import { budgetView } from './budget-view';

/** The per-candidate page and the side-by-side comparison of candidates or rounds. */

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

/**
 * One round, condensed for side-by-side comparison: its best candidate's recipe and scores, mean per-domain dev, and
 * cost.
 */
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
