import {
  contentHash,
  type CandidateSummary,
  type NoiseEstimate,
  type ResultManifest,
  type ScoreVector,
} from '@aevo/contracts';
import { DEFAULT_AXIS_PATTERNS, type AxisPathPatterns } from './axis-paths';
import type { PlannedCandidateInput, RoundEvidenceInputs, ScoreInput } from './evidence-inputs';
import { mean, roundOrNull, roundTo, sampleStd } from './stats';
import { dict, own } from './own';

export const NOISE_UNIT_DECIMALS = 3;
export const fmt = (x: number, digits = 4) => (x >= 0 ? '+' : '') + x.toFixed(digits);
const byIndex = (a: { index: number; candidateId: string }, b: { index: number; candidateId: string }) =>
  a.index - b.index || a.candidateId.localeCompare(b.candidateId);

const roundVector = (v: ScoreVector): ScoreVector => ({
  overall: roundTo(v.overall),
  domains: Object.fromEntries(
    Object.keys(v.domains)
      .sort()
      .map((d) => [d, roundTo(v.domains[d])]),
  ),
});

/** Per seed of the anchor: the checkpoint at the chosen step (else its last), so seeds are compared like for like. */
function anchorSeedVectors(m: ResultManifest): ScoreVector[] {
  const chosenStep = m.chosenCheckpoint
    ? m.checkpoints.find((c) => c.checkpoint === m.chosenCheckpoint?.checkpoint)?.step
    : undefined;
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
function withinGroupStd(
  scores: ReadonlyArray<{ recipeSha256: string; score: number }>,
): { std: number; df: number; source: 'anchor-replicates' } | null {
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
    return {
      std: Math.sqrt((measuredDf * (measured as number) ** 2 + priorDf * prior ** 2) / df),
      df,
      source: 'pooled',
    };
  }
  if (m) return { std: measured as number, df: measuredDf, source: 'anchor-seeds' };
  if (p) return { std: prior, df: priorDf, source: 'policy' };
  return null;
}

export interface Working {
  planned: PlannedCandidateInput;
  manifest: ResultManifest | undefined;
  status: CandidateSummary['status'];
  dev: ScoreVector | null;
  lbScores: ScoreInput[];
  publicLb: number | null;
  publicLbDomains: Record<string, number> | null;
  violations: string[];
}

/**
 * What every section of the round's evidence is judged against: each planned candidate with its manifest and
 * scores, the round's dev and LB references, and the noise measured this round (pooled with the policy's band).
 */
export interface RoundContext {
  inputs: RoundEvidenceInputs;
  /** The constitution's decoupling noise multiple. */
  m: number;
  floor: number;
  patterns: AxisPathPatterns;
  recipeFile: string;
  manifestOf: Map<string, ResultManifest>;
  working: Working[];
  anchor: Working | null;
  anchorDev: ScoreVector | null;
  anchorLb: number | null;
  lbReference: number | null;
  lbReferenceSource: 'anchor' | 'standing-replicates' | 'policy-best' | 'none';
  domains: string[];
  domainSigma: number;
  sigmaDev: number;
  sigmaLb: number;
  noise: NoiseEstimate;
}

/** The candidates, references and noise of one round (pure). */
export function roundContext(inputs: RoundEvidenceInputs): RoundContext {
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
    const status: CandidateSummary['status'] =
      uniqueViolations.length > 0 ? 'invalidated' : !man ? 'missing' : man.status;
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
  const standingScores = (inputs.policy.standingLb?.scores ?? [])
    .filter((x) => x.recipeSha256 === contentHash(inputs.policy.standingRecipe))
    .map((x) => x.score);
  const standingMean = standingScores.length > 0 ? roundTo(mean(standingScores) as number) : null;
  const lbReference = anchorLb ?? standingMean ?? inputs.policy.bestPublicLb;
  const lbReferenceSource: 'anchor' | 'standing-replicates' | 'policy-best' | 'none' =
    anchorLb !== null
      ? 'anchor'
      : standingMean !== null
        ? 'standing-replicates'
        : inputs.policy.bestPublicLb !== null
          ? 'policy-best'
          : 'none';

  // Noise band: this round's anchor seeds pooled with the policy's band (both weighted by their degrees of
  // freedom); the policy's alone when the anchor ran one seed; the constitution's floor when nothing was measured.
  const domains = [...new Set(working.flatMap((w) => (w.dev ? Object.keys(w.dev.domains) : [])))].sort();
  const seedVectors = anchor?.manifest && usable(anchor) ? anchorSeedVectors(anchor.manifest) : [];
  const band = inputs.policy.noiseBand;
  const dev = poolStd(
    sampleStd(seedVectors.map((v) => v.overall)),
    seedVectors.length - 1,
    band.devStd,
    band.devDf ?? Math.max(0, band.seeds - 1),
  );
  // Leaderboard noise from the submissions actually made: every anchor's public score is a replicate of the
  // recipe it stood on, so the within-recipe spread over the campaign is the LB noise (degrees of freedom: Σ(n−1)).
  const standingSha = contentHash(inputs.policy.standingRecipe);
  const added =
    anchor && anchor.status !== 'invalidated'
      ? anchor.lbScores.map((x) => ({
          round: inputs.round,
          candidateId: anchor.planned.candidateId,
          recipeSha256: standingSha,
          score: x.publicScore,
        }))
      : [];
  const lb =
    withinGroupStd([...(inputs.policy.standingLb?.scores ?? []), ...added]) ??
    poolStd(null, 0, band.lbStd, band.lbDf ?? 0);
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

  return {
    inputs,
    m,
    floor,
    patterns,
    recipeFile,
    manifestOf,
    working,
    anchor,
    anchorDev,
    anchorLb,
    lbReference,
    lbReferenceSource,
    domains,
    domainSigma,
    sigmaDev,
    sigmaLb,
    noise,
  };
}
