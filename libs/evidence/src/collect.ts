import {
  AXIS_CATEGORY,
  Axis,
  DomainError,
  RoundEvidence,
  contentHash,
  type AxisPattern,
  type Band,
  type CandidateSummary,
  type ConstitutionRules,
  type DomainCalibration,
  type FailureMode,
  type IssueDetail,
  type Interaction,
  type NoiseEstimate,
  type PrescribedRun,
  type RationaleAudit,
  type ResultManifest,
  type RollingPolicy,
  type ScoreVector,
  type Surprise,
} from '@aevo/contracts';
import { DEFAULT_AXIS_PATTERNS, fileBelongsToAxis, pathBelongsToAxis, type AxisPathPatterns } from './axis-paths';
import { mean, roundOrNull, roundTo, sampleStd, spearman } from './stats';
import { dict, own } from './own';

export interface PlannedCandidateInput {
  candidateId: string;
  index: number;
  axis: Axis;
  isAnchor: boolean;
  seeds: number[];
  prescribed?: PrescribedRun;
}
export interface SubmissionInput {
  submissionId: string;
  candidateId: string;
}
export interface ScoreInput {
  submissionId: string;
  candidateId: string;
  publicScore: number;
  publicDomains: Record<string, number> | null;
}
export interface RejectionInput {
  submissionId: string;
  candidateId: string;
  reason: string;
  message: string;
}
export interface ViolationInput {
  candidateId: string;
  path: string;
  kind: string;
  detail: string;
}
export interface BudgetLimits {
  gpuSeconds: number;
  llmTokens: number;
  submissionsPerRound: number;
}

/** Everything one round's evidence is computed from; the collector service folds it from the log. */
export interface RoundEvidenceInputs {
  campaignId: string;
  round: number;
  /** The policy in force during the round (its noise band and predicted band). */
  policy: RollingPolicy;
  rules: Pick<ConstitutionRules, 'decouplingNoiseMultiple' | 'noiseStdFloor'>;
  planned: PlannedCandidateInput[];
  manifests: ResultManifest[];
  submissions: SubmissionInput[];
  scores: ScoreInput[];
  rejections: RejectionInput[];
  violations: ViolationInput[];
  budgets: BudgetLimits | null;
  /** Campaign use before this round. */
  previousUse: { gpuSeconds: number; tokens: number };
  recipeFile?: string;
  axisPatterns?: AxisPathPatterns;
}

const NOISE_UNIT_DECIMALS = 3;
const fmt = (x: number, digits = 4) => (x >= 0 ? '+' : '') + x.toFixed(digits);
const byIndex = (a: { index: number; candidateId: string }, b: { index: number; candidateId: string }) =>
  a.index - b.index || a.candidateId.localeCompare(b.candidateId);

function validateInputs(i: RoundEvidenceInputs): void {
  const issues: IssueDetail[] = [];
  if (!Number.isInteger(i.round) || i.round < 1) issues.push({ path: 'round', message: `expected a round ≥ 1, got ${i.round}` });
  if (!(i.rules.decouplingNoiseMultiple > 0)) issues.push({ path: 'rules.decouplingNoiseMultiple', message: 'expected a positive number' });
  if (!(i.rules.noiseStdFloor > 0)) issues.push({ path: 'rules.noiseStdFloor', message: 'expected a positive number' });
  const planned = new Set<string>();
  i.planned.forEach((p, k) => {
    if (planned.has(p.candidateId)) issues.push({ path: `planned.${k}.candidateId`, message: `candidate ${p.candidateId} is planned twice` });
    planned.add(p.candidateId);
  });
  i.manifests.forEach((m, k) => {
    if (m.round !== i.round) issues.push({ path: `manifests.${k}.round`, message: `manifest of ${m.candidateId} is for round ${m.round}, not ${i.round}` });
    if (m.campaignId !== i.campaignId)
      issues.push({ path: `manifests.${k}.campaignId`, message: `manifest of ${m.candidateId} belongs to campaign ${m.campaignId}, not ${i.campaignId}` });
    if (!planned.has(m.candidateId)) issues.push({ path: `manifests.${k}.candidateId`, message: `${m.candidateId} is not a planned candidate of round ${i.round}` });
  });
  i.scores.forEach((s, k) => {
    if (!(s.publicScore >= 0 && s.publicScore <= 1)) issues.push({ path: `scores.${k}.publicScore`, message: `expected a score in [0, 1], got ${s.publicScore}` });
  });
  if (issues.length > 0) throw new DomainError('INVALID_EVIDENCE_INPUTS', `round ${i.round} evidence inputs are inconsistent`, issues);
}

function diffLineCount(diff: string): number {
  let n = 0;
  for (const line of diff.split('\n')) {
    if ((line.startsWith('+') && !line.startsWith('+++')) || (line.startsWith('-') && !line.startsWith('---'))) n++;
  }
  return n;
}

const roundVector = (v: ScoreVector): ScoreVector => ({
  overall: roundTo(v.overall),
  domains: Object.fromEntries(Object.keys(v.domains).sort().map((d) => [d, roundTo(v.domains[d])])),
});

/** Per seed of the anchor: the checkpoint at the chosen step (else its last), so seeds are compared like for like. */
function anchorSeedVectors(m: ResultManifest): ScoreVector[] {
  const chosenStep = m.chosenCheckpoint ? m.checkpoints.find((c) => c.checkpoint === m.chosenCheckpoint?.checkpoint)?.step : undefined;
  const bySeed = new Map<number, ResultManifest['checkpoints']>();
  for (const c of m.checkpoints) bySeed.set(c.seed, [...(bySeed.get(c.seed) ?? []), c]);
  const out: ScoreVector[] = [];
  for (const seed of [...bySeed.keys()].sort((a, b) => a - b)) {
    const cps = bySeed.get(seed) ?? [];
    const at = chosenStep === undefined ? undefined : cps.find((c) => c.step === chosenStep);
    const last = [...cps].sort((a, b) => b.step - a.step)[0];
    out.push((at ?? last).dev);
  }
  return out;
}

/** Pooled within-group std of replicates grouped by recipe; null without a degree of freedom. */
function withinGroupStd(scores: ReadonlyArray<{ recipeSha256: string; score: number }>): { std: number; df: number; source: 'anchor-replicates' } | null {
  const groups = new Map<string, number[]>();
  for (const x of scores) groups.set(x.recipeSha256, [...(groups.get(x.recipeSha256) ?? []), x.score]);
  let ss = 0;
  let df = 0;
  for (const xs of groups.values()) {
    if (xs.length < 2) continue;
    const m = xs.reduce((a, b) => a + b, 0) / xs.length;
    ss += xs.reduce((a, b) => a + (b - m) ** 2, 0);
    df += xs.length - 1;
  }
  return df > 0 ? { std: Math.sqrt(ss / df), df, source: 'anchor-replicates' } : null;
}

/**
 * Noise of a paired LB difference. Each confirmation run re-measures a gain the policy recorded: the two
 * measurements of one gain differ by noise alone (var 2σ²), pooled with the pairs of earlier rounds. Without a
 * pair: √2 × the LB replicate std (an unpaired bound, larger than a paired one), else stand-ins with df 0.
 */
function pairedDifferenceNoise(
  inputs: RoundEvidenceInputs,
  working: Working[],
  lbReference: number | null,
  lb: { std: number; df: number } | null,
  dev: { std: number; df: number } | null,
): { std: number; df: number; source: NonNullable<NoiseEstimate['lbDiffSource']> } {
  const band = inputs.policy.noiseBand;
  const pending = new Map((inputs.policy.pendingConfirmations ?? []).map((p) => [p.candidateId, p]));
  let ss = (band.lbDiffDf ?? 0) * (band.lbDiffStd ?? 0) ** 2;
  let df = band.lbDiffDf ?? 0;
  for (const w of working) {
    const p = w.planned.prescribed;
    if (p?.kind !== 'confirmation' || w.status !== 'completed' || w.publicLb === null || lbReference === null) continue;
    const first = pending.get(p.of);
    if (!first) continue;
    ss += (first.lbGain - (w.publicLb - lbReference)) ** 2 / 2;
    df += 1;
  }
  if (df > 0) return { std: Math.sqrt(ss / df), df, source: 'confirmation-pairs' };
  if (lb && lb.df > 0) return { std: Math.SQRT2 * lb.std, df: lb.df, source: 'replicates' };
  if (dev && dev.df > 0) return { std: Math.SQRT2 * dev.std, df: 0, source: 'dev-proxy' };
  return { std: Math.SQRT2 * inputs.rules.noiseStdFloor, df: 0, source: 'floor' };
}

/** Pooled std of this round's measurement and the policy's band; null when neither has a degree of freedom. */
function poolStd(
  measured: number | null,
  measuredDf: number,
  prior: number,
  priorDf: number,
): { std: number; df: number; source: 'anchor-seeds' | 'pooled' | 'policy' } | null {
  const m = measured !== null && measuredDf > 0;
  const p = priorDf > 0;
  if (m && p) {
    const df = measuredDf + priorDf;
    return { std: Math.sqrt((measuredDf * (measured as number) ** 2 + priorDf * prior ** 2) / df), df, source: 'pooled' };
  }
  if (m) return { std: measured as number, df: measuredDf, source: 'anchor-seeds' };
  if (p) return { std: prior, df: priorDf, source: 'policy' };
  return null;
}

interface Working {
  planned: PlannedCandidateInput;
  manifest: ResultManifest | undefined;
  status: CandidateSummary['status'];
  dev: ScoreVector | null;
  lbScores: ScoreInput[];
  publicLb: number | null;
  publicLbDomains: Record<string, number> | null;
  violations: string[];
}

/** Computes the five-section round evidence. Pure and deterministic: the same inputs give the same record. */
export function collectRoundEvidence(inputs: RoundEvidenceInputs): RoundEvidence {
  validateInputs(inputs);
  const m = inputs.rules.decouplingNoiseMultiple;
  const floor = inputs.rules.noiseStdFloor;
  const patterns = inputs.axisPatterns ?? DEFAULT_AXIS_PATTERNS;
  const recipeFile = inputs.recipeFile ?? 'recipe.yaml';

  const manifestOf = new Map<string, ResultManifest>();
  for (const man of inputs.manifests) if (!manifestOf.has(man.candidateId)) manifestOf.set(man.candidateId, man);

  const working: Working[] = [...inputs.planned].sort(byIndex).map((p) => {
    const man = manifestOf.get(p.candidateId);
    const violations = [
      ...inputs.violations.filter((v) => v.candidateId === p.candidateId).map((v) => `${v.kind}: ${v.path}`),
      ...(man?.failureModes ?? []).filter((f) => f.kind === 'frozen-path-violated').map((f) => `reported: ${f.detail}`),
    ];
    const uniqueViolations = [...new Set(violations)].sort();
    const status: CandidateSummary['status'] = uniqueViolations.length > 0 ? 'invalidated' : !man ? 'missing' : man.status;
    const lbScores = inputs.scores
      .filter((s) => s.candidateId === p.candidateId)
      .sort((a, b) => a.submissionId.localeCompare(b.submissionId));
    let publicLbDomains: Record<string, number> | null = null;
    const withDomains = lbScores.filter((s) => s.publicDomains !== null);
    if (withDomains.length > 0) {
      const domains = [...new Set(withDomains.flatMap((s) => Object.keys(s.publicDomains ?? {})))].sort();
      publicLbDomains = dict<number>();
      for (const d of domains) {
        const vals = withDomains.map((s) => own(s.publicDomains, d)).filter((x): x is number => x !== undefined);
        publicLbDomains[d] = roundTo(mean(vals) as number);
      }
    }
    const lbMean = mean(lbScores.map((s) => s.publicScore));
    return {
      planned: p,
      manifest: man,
      status,
      dev: man?.status === 'completed' && man.chosenCheckpoint ? roundVector(man.chosenCheckpoint.dev) : null,
      lbScores,
      publicLb: roundOrNull(lbMean),
      publicLbDomains,
      violations: uniqueViolations,
    };
  });

  const usable = (w: Working) => w.status === 'completed' && w.dev !== null;
  const anchor = working.find((w) => w.planned.isAnchor) ?? null;
  const anchorDev = anchor && usable(anchor) ? anchor.dev : null;
  const anchorLb = anchor && anchor.status !== 'invalidated' && anchor.publicLb !== null ? anchor.publicLb : null;
  // The reference an explorer's LB is compared with: its own round's anchor (paired seeds) when scored, else the
  // mean of the standing recipe's earlier replicates, else the policy's best.
  const standingScores = (inputs.policy.standingLb?.scores ?? []).filter((x) => x.recipeSha256 === contentHash(inputs.policy.standingRecipe)).map((x) => x.score);
  const standingMean = standingScores.length > 0 ? roundTo(mean(standingScores) as number) : null;
  const lbReference = anchorLb ?? standingMean ?? inputs.policy.bestPublicLb;
  const lbReferenceSource: 'anchor' | 'standing-replicates' | 'policy-best' | 'none' =
    anchorLb !== null ? 'anchor' : standingMean !== null ? 'standing-replicates' : inputs.policy.bestPublicLb !== null ? 'policy-best' : 'none';

  // Noise band: this round's anchor seeds pooled with the policy's band (both weighted by their degrees of
  // freedom); the policy's alone when the anchor ran one seed; the constitution's floor when nothing was measured.
  const domains = [...new Set(working.flatMap((w) => (w.dev ? Object.keys(w.dev.domains) : [])))].sort();
  const seedVectors = anchor?.manifest && usable(anchor) ? anchorSeedVectors(anchor.manifest) : [];
  const band = inputs.policy.noiseBand;
  const dev = poolStd(sampleStd(seedVectors.map((v) => v.overall)), seedVectors.length - 1, band.devStd, band.devDf ?? Math.max(0, band.seeds - 1));
  // Leaderboard noise from the submissions actually made: every anchor's public score is a replicate of the
  // recipe it stood on, so the within-recipe spread over the campaign is the LB noise (degrees of freedom: Σ(n−1)).
  const standingSha = contentHash(inputs.policy.standingRecipe);
  const added =
    anchor && anchor.status !== 'invalidated'
      ? anchor.lbScores.map((x) => ({ round: inputs.round, candidateId: anchor.planned.candidateId, recipeSha256: standingSha, score: x.publicScore }))
      : [];
  const lb = withinGroupStd([...(inputs.policy.standingLb?.scores ?? []), ...added]) ?? poolStd(null, 0, band.lbStd, band.lbDf ?? 0);
  const devStd = dev ? dev.std : floor;
  const devSource: NoiseEstimate['devSource'] = dev ? dev.source : 'floor';
  let lbStd: number;
  let lbSource: NoiseEstimate['lbSource'];
  if (lb) [lbStd, lbSource] = [lb.std, lb.source];
  else if (dev) [lbStd, lbSource] = [dev.std, 'dev-proxy'];
  else [lbStd, lbSource] = [floor, 'floor'];
  // A domain holds 1/D of the dev rows, so its noise is the overall noise × √D (the pooled overall estimate is far
  // steadier than a per-domain std from a few seeds).
  const sqrtD = Math.sqrt(Math.max(1, domains.length));
  const domainSigma = roundTo(Math.max(devStd, floor) * sqrtD);
  const domainDevStd: Record<string, number> = Object.fromEntries(domains.map((d) => [d, domainSigma]));
  const sigmaDev = Math.max(roundTo(devStd), floor);
  const diff = pairedDifferenceNoise(inputs, working, lbReference, lb, dev);
  // Explorer − anchor is a difference: it is judged against the difference's noise.
  const sigmaLb = Math.max(roundTo(diff.std), roundTo(floor * Math.SQRT2));
  const noise: NoiseEstimate = {
    devStd: roundTo(devStd),
    devSource,
    devDf: dev?.df ?? 0,
    lbStd: roundTo(lbStd),
    lbSource,
    lbDf: lb?.df ?? 0,
    lbDiffStd: roundTo(diff.std),
    lbDiffDf: diff.df,
    lbDiffSource: diff.source,
    lbReplicatesAdded: added,
    seeds: seedVectors.length,
    floor,
    multiple: m,
    domainDevStd,
  };

  // 1. Per-candidate summaries.
  const summaries: CandidateSummary[] = working.map((w) => {
    const man = w.manifest;
    const failureModes: FailureMode[] = [...(man?.failureModes ?? [])];
    for (const v of inputs.violations.filter((x) => x.candidateId === w.planned.candidateId).sort((a, b) => a.path.localeCompare(b.path)))
      failureModes.push({ kind: 'frozen-path-violated', detail: `${v.kind} ${v.path}: ${v.detail}` });
    if (w.status === 'missing') failureModes.push({ kind: 'timeout', detail: `no manifest before the round ${inputs.round} collection deadline` });
    const subs = inputs.submissions.filter((s) => s.candidateId === w.planned.candidateId).map((s) => s.submissionId);
    const rejected = inputs.rejections.filter((r) => r.candidateId === w.planned.candidateId).sort((a, b) => a.submissionId.localeCompare(b.submissionId));
    const allSubs = [...new Set([...subs, ...w.lbScores.map((s) => s.submissionId), ...rejected.map((r) => r.submissionId)])].sort();
    const submission: CandidateSummary['submission'] =
      w.lbScores.length > 0
        ? { submissionId: w.lbScores[0].submissionId, status: 'scored', detail: null }
        : rejected.length > 0
          ? { submissionId: rejected[0].submissionId, status: 'rejected', detail: `${rejected[0].reason}: ${rejected[0].message}` }
          : allSubs.length > 0
            ? { submissionId: allSubs[0], status: 'pending', detail: 'no score before collection' }
            : { submissionId: null, status: 'not-submitted', detail: null };
    const comparable = w.status === 'completed';
    const devDelta = comparable && w.dev && anchorDev ? roundTo(w.dev.overall - anchorDev.overall) : null;
    const lbDelta = w.status !== 'invalidated' && w.publicLb !== null && lbReference !== null ? roundTo(w.publicLb - lbReference) : null;
    return {
      candidateId: w.planned.candidateId,
      index: w.planned.index,
      axis: w.planned.axis,
      isAnchor: w.planned.isAnchor,
      status: w.status,
      seeds: [...(man?.seeds ?? w.planned.seeds)],
      diffLines: man ? diffLineCount(man.recipeDiff) : 0,
      recipeChanges: man ? [...man.recipeChanges].sort((a, b) => a.path.localeCompare(b.path)) : [],
      filesChanged: man ? [...new Set(man.filesChanged)].sort() : [],
      chosenCheckpoint: man?.chosenCheckpoint?.checkpoint ?? null,
      dev: w.dev,
      publicLb: w.publicLb,
      publicLbDomains: w.publicLbDomains,
      submission,
      cost: { gpuSeconds: roundTo(man?.cost.gpuSeconds ?? 0), tokens: (man?.cost.inputTokens ?? 0) + (man?.cost.outputTokens ?? 0) },
      failureModes,
      devDelta,
      lbDelta,
      devVsAnchor: devDelta === null ? null : roundTo(devDelta / sigmaDev, NOISE_UNIT_DECIMALS),
      lbVsAnchor: lbDelta === null ? null : roundTo(lbDelta / sigmaLb, NOISE_UNIT_DECIMALS),
      ...(w.planned.prescribed ? { prescribed: w.planned.prescribed } : {}),
    };
  });
  const explorers = summaries.filter((s) => !s.isAnchor && s.status === 'completed');

  // 2. Cross-candidate patterns.
  const axes: AxisPattern[] = Axis.options
    .filter((a) => explorers.some((s) => s.axis === a))
    .map((axis) => {
      const cs = explorers.filter((s) => s.axis === axis);
      const devEffect = roundOrNull(mean(cs.map((s) => s.devDelta).filter((x): x is number => x !== null)));
      const lbEffect = roundOrNull(mean(cs.map((s) => s.lbDelta).filter((x): x is number => x !== null)));
      return {
        axis,
        category: AXIS_CATEGORY[axis],
        candidates: cs.length,
        candidateIds: cs.map((s) => s.candidateId),
        devEffect,
        lbEffect,
        devBeyondNoise: devEffect !== null && Math.abs(devEffect) > m * sigmaDev,
        lbBeyondNoise: lbEffect !== null && Math.abs(lbEffect) > m * sigmaLb,
      };
    });
  const interactions: Interaction[] = [];
  const lbGainers = axes.filter((a) => a.lbBeyondNoise && (a.lbEffect ?? 0) > 0);
  for (let i = 0; i < lbGainers.length; i++)
    for (let j = i + 1; j < lbGainers.length; j++) {
      const [a, b] = [lbGainers[i], lbGainers[j]];
      interactions.push({
        axes: [a.axis, b.axis],
        kind: 'complementary-lb-gains',
        candidateIds: [...a.candidateIds, ...b.candidateIds],
        note: `${a.axis} (${fmt(a.lbEffect ?? 0)}) and ${b.axis} (${fmt(b.lbEffect ?? 0)}) each raised the public LB beyond noise; their combination is untested`,
      });
    }
  const byPath = new Map<string, CandidateSummary[]>();
  for (const s of explorers) for (const c of s.recipeChanges) byPath.set(c.path, [...(byPath.get(c.path) ?? []), s]);
  for (const path of [...byPath.keys()].sort()) {
    const cs = byPath.get(path) ?? [];
    const axesHere = [...new Set(cs.map((s) => s.axis))];
    if (axesHere.length < 2) continue;
    interactions.push({
      axes: Axis.options.filter((a) => axesHere.includes(a)),
      kind: 'shared-recipe-path',
      candidateIds: cs.map((s) => s.candidateId),
      note: `${path} was changed under ${axesHere.length} axes; their effects are confounded`,
    });
  }
  for (const a of axes) {
    if (a.devBeyondNoise && a.lbBeyondNoise && Math.sign(a.devEffect ?? 0) !== Math.sign(a.lbEffect ?? 0))
      interactions.push({
        axes: [a.axis],
        kind: 'dev-lb-conflict',
        candidateIds: a.candidateIds,
        note: `${a.axis} moved dev (${fmt(a.devEffect ?? 0)}) and the public LB (${fmt(a.lbEffect ?? 0)}) in opposite directions, both beyond noise`,
      });
  }

  // 3. Dev/leaderboard calibration.
  const scored = summaries.filter((s) => s.status === 'completed' && s.dev !== null && s.publicLb !== null);
  const gap = (s: CandidateSummary) => (s.dev as ScoreVector).overall - (s.publicLb as number);
  const anchorSummary = summaries.find((s) => s.isAnchor) ?? null;
  const scoredExplorers = scored.filter((s) => !s.isAnchor);
  const perDomain: DomainCalibration[] = domains.map((d) => {
    const sd = domainSigma;
    let best: { s: CandidateSummary; gain: number } | null = null;
    if (anchorDev && own(anchorDev.domains, d) !== undefined)
      for (const s of scoredExplorers) {
        const v = own(s.dev?.domains, d);
        if (v === undefined) continue;
        const gain = v - anchorDev.domains[d];
        if (best === null || gain > best.gain) best = { s, gain };
      }
    if (!best) return { domain: d, candidateId: null, devGain: 0, lbGain: null, devBeyondNoise: false, lbBeyondNoise: null };
    const anchorLbD = anchorLb !== null ? own(anchorSummary?.publicLbDomains, d) : undefined;
    const candLbD = own(best.s.publicLbDomains, d);
    const lbGain = anchorLbD !== undefined && candLbD !== undefined ? roundTo(candLbD - anchorLbD) : null;
    return {
      domain: d,
      candidateId: best.s.candidateId,
      devGain: roundTo(best.gain),
      lbGain,
      devBeyondNoise: best.gain > m * sd,
      lbBeyondNoise: lbGain === null ? null : lbGain > m * sd,
    };
  });

  // Proxy decoupling, per scored explorer: (a) overall — dev rose beyond noise, the LB did not, and the LB fell
  // short of the dev gain by more than the noise of their difference; (b) domain — one domain's dev rose beyond
  // twice the multiple (one of D domains tested) while the LB did not rise, overall nor in that domain.
  const gapNoise = m * Math.sqrt(sigmaDev ** 2 + sigmaLb ** 2);
  const decoupledDomains = new Set<string>();
  const decoupledBy = new Map<string, string>();
  for (const s of scoredExplorers) {
    if (s.devDelta === null || s.lbDelta === null || !anchorDev || s.lbDelta > m * sigmaLb) continue;
    const overall = s.devDelta > m * sigmaDev && s.devDelta - s.lbDelta > gapNoise;
    const hits: string[] = [];
    for (const d of domains) {
      // Domain names come from candidates' score files: only own keys count (the later reads are of these keys).
      const dv = own(s.dev?.domains, d);
      const av = own(anchorDev.domains, d);
      if (dv === undefined || av === undefined) continue;
      const lv = own(s.publicLbDomains, d);
      const alv = anchorLb !== null ? own(anchorSummary?.publicLbDomains, d) : undefined;
      if (lv !== undefined && alv !== undefined && lv - alv > m * domainSigma) continue;
      if (dv - av > 2 * m * domainSigma || (overall && dv - av > m * domainSigma)) hits.push(d);
    }
    const domainLevel = hits.some((d) => (s.dev?.domains[d] ?? 0) - anchorDev.domains[d] > 2 * m * domainSigma);
    if (!overall && !domainLevel) continue;
    hits.forEach((d) => decoupledDomains.add(d));
    const parts = [`dev ${fmt(s.devDelta)} (${fmt(s.devVsAnchor ?? 0, 1)}σ), LB ${fmt(s.lbDelta)} (${fmt(s.lbVsAnchor ?? 0, 1)}σ)`];
    if (domainLevel)
      parts.push(
        hits
          .filter((d) => (s.dev?.domains[d] ?? 0) - anchorDev.domains[d] > 2 * m * domainSigma)
          .map((d) => `${d} dev ${fmt((s.dev?.domains[d] ?? 0) - anchorDev.domains[d])}`)
          .join(', '),
      );
    decoupledBy.set(s.candidateId, `${s.candidateId} (${s.axis}) ${parts.join('; ')}`);
  }
  const decoupled = scoredExplorers.filter((s) => decoupledBy.has(s.candidateId));
  let reason: string;
  if (decoupled.length > 0) {
    const parts = decoupled.map((s) => decoupledBy.get(s.candidateId));
    reason =
      `dev rose beyond noise over the anchor (overall beyond ${m}σ, or one domain beyond ${2 * m}σ of a domain) while the public LB did not: ${parts.join(' | ')}` +
      (decoupledDomains.size > 0 ? `; the dev gain sits in ${[...decoupledDomains].sort().join(', ')}` : '');
  } else if (lbReference === null) reason = 'no leaderboard reference: the anchor was not scored and no earlier score exists';
  else if (!anchorDev) reason = 'no dev reference: the anchor did not complete';
  else if (scoredExplorers.length === 0) reason = 'no explorer candidate has a public LB score';
  else reason = `no scored candidate raised dev beyond noise (overall ${m}σ, a domain ${2 * m}σ) without the public LB following`;

  const calibration = {
    noise,
    devLbGap: roundOrNull(mean(scored.map(gap))),
    anchorDevLbGap: anchorSummary && scored.includes(anchorSummary) ? roundTo(gap(anchorSummary)) : null,
    scoredCandidates: scored.length,
    rankCorrelation: roundOrNull(
      spearman(
        scored.map((s) => (s.dev as ScoreVector).overall),
        scored.map((s) => s.publicLb as number),
      ),
    ),
    perDomain,
    proxyDecoupling: {
      flagged: decoupled.length > 0,
      candidates: decoupled.map((s) => s.candidateId),
      domains: [...decoupledDomains].sort(),
      reason,
    },
    reference: { dev: anchorDev ? anchorDev.overall : null, publicLb: roundOrNull(lbReference), publicLbSource: lbReferenceSource },
  };

  // 4. Surprises: results outside the band the policy in force predicted (or the anchor ± noise without one).
  const predicted = inputs.policy.predictedBand;
  const devBand: Band | null = predicted?.dev ?? (anchorDev ? { low: anchorDev.overall - m * sigmaDev, high: anchorDev.overall + m * sigmaDev } : null);
  const lbBand: Band | null = predicted?.publicLb ?? (lbReference !== null ? { low: lbReference - m * sigmaLb, high: lbReference + m * sigmaLb } : null);
  const basis = predicted ? `policy revision ${inputs.policy.revision}` : `the round's reference ± ${m}σ (the policy predicted no band)`;
  const surprises: Surprise[] = [];
  for (const s of summaries.filter((x) => x.status === 'completed')) {
    const check = (metric: Surprise['metric'], observed: number | null, b: Band | null) => {
      if (observed === null || b === null) return;
      const lo = roundTo(b.low);
      const hi = roundTo(b.high);
      if (observed >= lo && observed <= hi) return;
      const direction = observed > hi ? 'above' : 'below';
      surprises.push({
        candidateId: s.candidateId,
        metric,
        expectedLow: lo,
        expectedHigh: hi,
        observed,
        direction,
        note: `${metric === 'dev' ? 'dev' : 'public LB'} ${observed.toFixed(4)} is ${direction} the band ${lo.toFixed(4)}–${hi.toFixed(4)} predicted by ${basis} (${s.axis})`,
      });
    };
    check('dev', s.dev?.overall ?? null, devBand);
    check('publicLb', s.publicLb, lbBand);
  }

  // 5. Design-rationale audit.
  const onAxis: RationaleAudit['onAxis'] = summaries.map((s) => {
    // A prescribed run's own changes are its plan (a combination spans the axes of its sources); anything else it
    // changed is judged like an explorer's.
    const prescribedPaths = new Set((s.prescribed?.changes ?? []).map((c) => c.path));
    const off = [
      ...s.recipeChanges.map((c) => c.path).filter((p) => !prescribedPaths.has(p) && !pathBelongsToAxis(p, s.axis, patterns)),
      ...s.filesChanged.filter((f) => f !== recipeFile && !fileBelongsToAxis(f, s.axis, recipeFile)),
    ];
    const man = manifestOf.get(s.candidateId);
    if (man && man.axis !== s.axis) off.push(`(axis: planned ${s.axis}, manifest says ${man.axis})`);
    const offAxisPaths = [...new Set(off)].sort();
    return { candidateId: s.candidateId, axis: s.axis, stayedOnAxis: offAxisPaths.length === 0, offAxisPaths };
  });
  const frozenPathChecks: RationaleAudit['frozenPathChecks'] = working.map((w) => ({
    candidateId: w.planned.candidateId,
    ok: w.violations.length === 0,
    violations: w.violations,
  }));
  const gpuSeconds = roundTo(summaries.reduce((a, s) => a + s.cost.gpuSeconds, 0));
  const tokens = summaries.reduce((a, s) => a + s.cost.tokens, 0);
  const submissionIds = new Set([...inputs.submissions.map((s) => s.submissionId), ...inputs.scores.map((s) => s.submissionId), ...inputs.rejections.map((r) => r.submissionId)]);
  const campaignGpuSeconds = roundTo(inputs.previousUse.gpuSeconds + gpuSeconds);
  const campaignTokens = inputs.previousUse.tokens + tokens;
  const limits = inputs.budgets;
  const overBudget: RationaleAudit['budget']['overBudget'] = [];
  if (limits && campaignGpuSeconds > limits.gpuSeconds) overBudget.push('gpuSeconds');
  if (limits && campaignTokens > limits.llmTokens) overBudget.push('tokens');
  if (limits && submissionIds.size > limits.submissionsPerRound) overBudget.push('submissions');

  const evidence: RoundEvidence = {
    campaignId: inputs.campaignId,
    round: inputs.round,
    policyRevision: inputs.policy.revision,
    anchorCandidateId: anchor?.planned.candidateId ?? null,
    candidateSummaries: summaries,
    crossCandidatePatterns: { axes, interactions },
    calibration,
    surprises,
    designRationaleAudit: {
      onAxis,
      frozenPathChecks,
      budget: {
        gpuSeconds,
        tokens,
        submissions: submissionIds.size,
        campaignGpuSeconds,
        campaignTokens,
        gpuSecondsLimit: limits?.gpuSeconds ?? null,
        tokensLimit: limits?.llmTokens ?? null,
        submissionsLimit: limits?.submissionsPerRound ?? null,
        overBudget,
      },
    },
    prose: null,
  };
  // The record must satisfy its own schema; a failure here is a bug in this function, not bad input.
  return RoundEvidence.parse(evidence);
}
