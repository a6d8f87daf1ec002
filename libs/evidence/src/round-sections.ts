import {
  AXIS_CATEGORY,
  Axis,
  type AxisPattern,
  type Band,
  type CandidateSummary,
  type DomainCalibration,
  type FailureMode,
  type Interaction,
  type RationaleAudit,
  type RoundEvidence,
  type ScoreVector,
  type Surprise,
} from '@aevo/contracts';
import { fileBelongsToAxis, pathBelongsToAxis } from './axis-paths';
import { NOISE_UNIT_DECIMALS, fmt, type RoundContext } from './round-context';
import { mean, roundOrNull, roundTo, spearman } from './stats';
import { own } from './own';

// The five sections of a round's evidence, one function each, in the order the record lists them; each reads the
// round's context (round-context.ts) and the sections before it.

function diffLineCount(diff: string): number {
  let n = 0;
  for (const line of diff.split('\n')) {
    if ((line.startsWith('+') && !line.startsWith('+++')) || (line.startsWith('-') && !line.startsWith('---'))) n++;
  }
  return n;
}

/** 1. Per-candidate summaries. */
export function candidateSummaries(ctx: RoundContext): CandidateSummary[] {
  const { inputs, working, anchorDev, lbReference, sigmaDev, sigmaLb } = ctx;
  return working.map((w) => {
    const man = w.manifest;
    const failureModes: FailureMode[] = [...(man?.failureModes ?? [])];
    for (const v of inputs.violations
      .filter((x) => x.candidateId === w.planned.candidateId)
      .sort((a, b) => a.path.localeCompare(b.path)))
      failureModes.push({ kind: 'frozen-path-violated', detail: `${v.kind} ${v.path}: ${v.detail}` });
    if (w.status === 'missing')
      failureModes.push({
        kind: 'timeout',
        detail: `no manifest before the round ${inputs.round} collection deadline`,
      });
    const subs = inputs.submissions.filter((s) => s.candidateId === w.planned.candidateId).map((s) => s.submissionId);
    const rejected = inputs.rejections
      .filter((r) => r.candidateId === w.planned.candidateId)
      .sort((a, b) => a.submissionId.localeCompare(b.submissionId));
    const allSubs = [
      ...new Set([...subs, ...w.lbScores.map((s) => s.submissionId), ...rejected.map((r) => r.submissionId)]),
    ].sort();
    const submission: CandidateSummary['submission'] =
      w.lbScores.length > 0
        ? { submissionId: w.lbScores[0].submissionId, status: 'scored', detail: null }
        : rejected.length > 0
          ? {
              submissionId: rejected[0].submissionId,
              status: 'rejected',
              detail: `${rejected[0].reason}: ${rejected[0].message}`,
            }
          : allSubs.length > 0
            ? { submissionId: allSubs[0], status: 'pending', detail: 'no score before collection' }
            : { submissionId: null, status: 'not-submitted', detail: null };
    const comparable = w.status === 'completed';
    const devDelta = comparable && w.dev && anchorDev ? roundTo(w.dev.overall - anchorDev.overall) : null;
    const lbDelta =
      w.status !== 'invalidated' && w.publicLb !== null && lbReference !== null
        ? roundTo(w.publicLb - lbReference)
        : null;
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
      cost: {
        gpuSeconds: roundTo(man?.cost.gpuSeconds ?? 0),
        tokens: (man?.cost.inputTokens ?? 0) + (man?.cost.outputTokens ?? 0),
      },
      failureModes,
      devDelta,
      lbDelta,
      devVsAnchor: devDelta === null ? null : roundTo(devDelta / sigmaDev, NOISE_UNIT_DECIMALS),
      lbVsAnchor: lbDelta === null ? null : roundTo(lbDelta / sigmaLb, NOISE_UNIT_DECIMALS),
      ...(w.planned.prescribed ? { prescribed: w.planned.prescribed } : {}),
    };
  });
}

/** 2. Cross-candidate patterns. */
export function crossCandidatePatterns(
  ctx: RoundContext,
  summaries: CandidateSummary[],
): RoundEvidence['crossCandidatePatterns'] {
  const { m, sigmaDev, sigmaLb } = ctx;
  const explorers = summaries.filter((s) => !s.isAnchor && s.status === 'completed');
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
        note:
          `${a.axis} (${fmt(a.lbEffect ?? 0)}) and ${b.axis} (${fmt(b.lbEffect ?? 0)}) each raised the ` +
          `public LB beyond noise; their combination is untested`,
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
        note:
          `${a.axis} moved dev (${fmt(a.devEffect ?? 0)}) and the public LB (${fmt(a.lbEffect ?? 0)}) in ` +
          `opposite directions, both beyond noise`,
      });
  }
  return { axes, interactions };
}

/** 3. Dev/leaderboard calibration. */
export function calibration(ctx: RoundContext, summaries: CandidateSummary[]): RoundEvidence['calibration'] {
  const { m, domains, domainSigma, anchorDev, anchorLb, lbReference, lbReferenceSource, sigmaDev, sigmaLb, noise } =
    ctx;
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
    if (!best)
      return { domain: d, candidateId: null, devGain: 0, lbGain: null, devBeyondNoise: false, lbBeyondNoise: null };
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
    const parts = [
      `dev ${fmt(s.devDelta)} (${fmt(s.devVsAnchor ?? 0, 1)}σ), LB ${fmt(s.lbDelta)} (${fmt(s.lbVsAnchor ?? 0, 1)}σ)`,
    ];
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
      `dev rose beyond noise over the anchor (overall beyond ${m}σ, or one domain beyond ${2 * m}σ of a ` +
      `domain) while the public LB did not: ${parts.join(' | ')}` +
      (decoupledDomains.size > 0 ? `; the dev gain sits in ${[...decoupledDomains].sort().join(', ')}` : '');
  } else if (lbReference === null)
    reason = 'no leaderboard reference: the anchor was not scored and no earlier score exists';
  else if (!anchorDev) reason = 'no dev reference: the anchor did not complete';
  else if (scoredExplorers.length === 0) reason = 'no explorer candidate has a public LB score';
  else
    reason =
      `no scored candidate raised dev beyond noise (overall ${m}σ, a domain ${2 * m}σ) without the public ` +
      `LB following`;

  return {
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
    reference: {
      dev: anchorDev ? anchorDev.overall : null,
      publicLb: roundOrNull(lbReference),
      publicLbSource: lbReferenceSource,
    },
  };
}

/** 4. Surprises: results outside the band the policy in force predicted (or the anchor ± noise without one). */
export function surprises(ctx: RoundContext, summaries: CandidateSummary[]): Surprise[] {
  const { inputs, m, anchorDev, lbReference, sigmaDev, sigmaLb } = ctx;
  const predicted = inputs.policy.predictedBand;
  const devBand: Band | null =
    predicted?.dev ??
    (anchorDev ? { low: anchorDev.overall - m * sigmaDev, high: anchorDev.overall + m * sigmaDev } : null);
  const lbBand: Band | null =
    predicted?.publicLb ??
    (lbReference !== null ? { low: lbReference - m * sigmaLb, high: lbReference + m * sigmaLb } : null);
  const basis = predicted
    ? `policy revision ${inputs.policy.revision}`
    : `the round's reference ± ${m}σ (the policy predicted no band)`;
  const found: Surprise[] = [];
  for (const s of summaries.filter((x) => x.status === 'completed')) {
    const check = (metric: Surprise['metric'], observed: number | null, b: Band | null) => {
      if (observed === null || b === null) return;
      const lo = roundTo(b.low);
      const hi = roundTo(b.high);
      if (observed >= lo && observed <= hi) return;
      const direction = observed > hi ? 'above' : 'below';
      found.push({
        candidateId: s.candidateId,
        metric,
        expectedLow: lo,
        expectedHigh: hi,
        observed,
        direction,
        note:
          `${metric === 'dev' ? 'dev' : 'public LB'} ${observed.toFixed(4)} is ${direction} the band ` +
          `${lo.toFixed(4)}–${hi.toFixed(4)} predicted by ${basis} (${s.axis})`,
      });
    };
    check('dev', s.dev?.overall ?? null, devBand);
    check('publicLb', s.publicLb, lbBand);
  }
  return found;
}

/** 5. Design-rationale audit. */
export function designRationaleAudit(ctx: RoundContext, summaries: CandidateSummary[]): RationaleAudit {
  const { inputs, manifestOf, patterns, recipeFile, working } = ctx;
  const onAxis: RationaleAudit['onAxis'] = summaries.map((s) => {
    // A prescribed run's own changes are its plan (a combination spans the axes of its sources); anything else it
    // changed is judged like an explorer's.
    const prescribedPaths = new Set((s.prescribed?.changes ?? []).map((c) => c.path));
    const off = [
      ...s.recipeChanges
        .map((c) => c.path)
        .filter((p) => !prescribedPaths.has(p) && !pathBelongsToAxis(p, s.axis, patterns)),
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
  const submissionIds = new Set([
    ...inputs.submissions.map((s) => s.submissionId),
    ...inputs.scores.map((s) => s.submissionId),
    ...inputs.rejections.map((r) => r.submissionId),
  ]);
  const campaignGpuSeconds = roundTo(inputs.previousUse.gpuSeconds + gpuSeconds);
  const campaignTokens = inputs.previousUse.tokens + tokens;
  const limits = inputs.budgets;
  const overBudget: RationaleAudit['budget']['overBudget'] = [];
  if (limits && campaignGpuSeconds > limits.gpuSeconds) overBudget.push('gpuSeconds');
  if (limits && campaignTokens > limits.llmTokens) overBudget.push('tokens');
  if (limits && submissionIds.size > limits.submissionsPerRound) overBudget.push('submissions');
  return {
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
  };
}
