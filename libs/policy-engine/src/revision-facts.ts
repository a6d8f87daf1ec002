import {
  Axis,
  RollingPolicy,
  contentHash,
  type AxisCategory,
  type CandidateSummary,
  type Constitution,
  type DeadEnd,
  type DecouplingHypothesis,
  type EvidenceRule,
  type RecipeChange,
  type RoundEvidence,
} from '@aevo/contracts';
import { axesOf, nextCategory } from './axes';
import { dict, own } from './own';
import {
  SCREEN_SHARE,
  advanceHypotheses,
  judgeConfirmations,
  stackPromotions,
  type ConfirmationOutcome,
  type HypothesisStep,
} from './research';

export interface RevisionContext {
  /** The axes the campaign allows (CampaignStarted.config.axes); every axis when absent. */
  campaignAxes?: readonly Axis[];
}

/** A candidate passed the round's design-rationale audit: it stayed on its axis and touched no frozen path. */
export function auditOkIn(evidence: RoundEvidence): (candidateId: string) => boolean {
  const onAxis = new Map(evidence.designRationaleAudit.onAxis.map((a) => [a.candidateId, a.stayedOnAxis]));
  const frozenOk = new Map(evidence.designRationaleAudit.frozenPathChecks.map((f) => [f.candidateId, f.ok]));
  return (id: string) => onAxis.get(id) !== false && frozenOk.get(id) !== false;
}

/** The facts a revision rests on; the proposal validator checks a meta agent against the same facts. */
export interface RevisionFacts {
  round: number;
  evidenceSha256: string;
  /** An LB gain over the anchor must exceed this to promote: max(threshold in force, recalibrated minimum). */
  promotionBar: number;
  /** The lowest threshold the constitution allows with this noise band. */
  minimumThreshold: number;
  /** The screen for a confirmation run: SCREEN_SHARE × the promotion bar. */
  screenBar: number;
  /**
   * The screen for a combination lead, on the paired dev gain over the anchor: SCREEN_SHARE × the constitution's
   * multiple × √2 × its noise floor (what a paired dev difference is not yet measured to exceed).
   */
  devScreenBar: number;
  /** Explorers whose LB gain clears the screen, best first: they wait for a confirmation run (another seed). */
  eligible: Array<{ candidateId: string; lbGain: number; changes: RecipeChange[] }>;
  /** Every pending confirmation of the policy in force, judged against its run in this round. */
  confirmations: ConfirmationOutcome[];
  /** Confirmed gains promoted together (independent paths), best first. */
  promotions: ConfirmationOutcome[];
  /** Decoupling hypotheses after this round, and the steps they took in it (each becomes an event). */
  hypotheses: DecouplingHypothesis[];
  hypothesisSteps: HypothesisStep[];
  /** Noise of the LB difference the bar is derived from, and where it comes from. */
  diffNoise: { std: number; df: number; source: string };
  /** Plateau count before any rotation: rounds in a row without a promotion. */
  plateauRounds: number;
  rotationRequired: boolean;
  rotationReason: string | null;
  /** Where a required rotation goes (null: no other category has axes left). */
  rotationTarget: AxisCategory | null;
  /** A decoupling hypothesis was confirmed in this round. */
  decoupling: boolean;
  campaignAxes: readonly Axis[];
  retiredNow: Array<{ axis: Axis; round: number; reason: string }>;
  newDeadEnds: DeadEnd[];
}

export const r6 = (x: number) => {
  const v = Math.round(x * 1e6) / 1e6;
  return Object.is(v, -0) ? 0 : v;
};
export const r3 = (x: number) => Math.round(x * 1e3) / 1e3;
export const signed = (x: number) => (x >= 0 ? '+' : '') + x.toFixed(4);

export function describeChanges(changes: readonly RecipeChange[]): string {
  if (changes.length === 0) return 'no recipe change';
  return changes
    .map((c) => `${c.path} ${c.from === undefined ? '(unset)' : JSON.stringify(c.from)} → ${JSON.stringify(c.to)}`)
    .join(', ');
}

/** Same reading as the workers' dead-end matcher: numbers and booleans move up or down, anything else is set. */
function directionOf(c: RecipeChange): DeadEnd['direction'] {
  if (typeof c.from === 'number' && typeof c.to === 'number')
    return c.to > c.from ? 'increase' : c.to < c.from ? 'decrease' : 'set';
  if (typeof c.from === 'boolean' && typeof c.to === 'boolean') return c.to ? 'increase' : 'decrease';
  return 'set';
}

/** What identifies a dead end for de-duplication: the axis and the exact change (or the described combination). */
function deadEndKey(d: Pick<DeadEnd, 'axis' | 'path' | 'direction' | 'value' | 'description'>): string {
  return d.path !== undefined
    ? `${d.axis}|${d.path}|${d.direction ?? ''}|${JSON.stringify(d.value ?? null)}`
    : `${d.axis}|${d.description}`;
}

function deadEndFor(
  s: CandidateSummary,
  round: number,
  evidenceSha256: string,
  why: string,
  evidenceNote: string,
): DeadEnd {
  const single = s.recipeChanges.length === 1 ? s.recipeChanges[0] : null;
  return {
    id: `dead-end-${s.candidateId}`,
    description: `${s.axis}: ${describeChanges(s.recipeChanges)} — ${why}`,
    axis: s.axis,
    ...(single ? { path: single.path, direction: directionOf(single), value: single.to } : {}),
    round,
    candidateId: s.candidateId,
    evidence: `${evidenceNote} (round ${round} evidence ${evidenceSha256.slice(0, 12)})`,
  };
}

export function upsertRule(rules: EvidenceRule[], rule: EvidenceRule): EvidenceRule[] {
  const i = rules.findIndex((r) => r.id === rule.id);
  if (i < 0) return [...rules, rule];
  if (rules[i].rule === rule.rule) return rules;
  return rules.map((r, k) => (k === i ? rule : r));
}

/**
 * Checkpoint-selection weights after a proxy decoupling. With per-domain public scores, each domain weighs
 * what the anchor's LB confirms of its dev score (LB/dev, clamped to [0.05, 1]); without them, the domains
 * whose dev gains did not transfer are halved.
 */
export function transferWeights(evidence: RoundEvidence, decoupledDomains: readonly string[]): Record<string, number> {
  const anchor = evidence.candidateSummaries.find((s) => s.candidateId === evidence.anchorCandidateId);
  const domains = evidence.calibration.perDomain.map((d) => d.domain).sort();
  const out = dict<number>();
  for (const d of domains) {
    const dev = own(anchor?.dev?.domains, d);
    const lb = own(anchor?.publicLbDomains, d);
    if (dev !== undefined && lb !== undefined && dev > 0) out[d] = r3(Math.min(1, Math.max(0.05, lb / dev)));
    else out[d] = decoupledDomains.includes(d) ? 0.5 : 1;
  }
  return out;
}

/** Facts of a revision (shared by the rule engine and the proposal validator). */
export function revisionFacts(
  previous: RollingPolicy,
  evidence: RoundEvidence,
  constitution: Constitution,
  ctx: RevisionContext = {},
): RevisionFacts {
  const rules = constitution.rules;
  const evidenceSha256 = contentHash(evidence);
  const campaignAxes = ctx.campaignAxes ?? Axis.options.filter((a) => a !== 'baseline');
  const noise = evidence.calibration.noise;
  // Promotions compare an explorer with its round's anchor: the bar comes from the noise of that difference as
  // measured (confirmation pairs and anchor replicates pooled); evidence recorded before paired designs has only
  // the LB std.
  const diffNoise =
    noise.lbDiffStd !== undefined
      ? differenceNoise(noise)
      : { std: nextNoiseBand(previous, evidence).lbStd, df: noise.lbDf, source: noise.lbSource };
  // The floor is a floor under a std; under a difference of two measurements it is √2 × that.
  const diffFloor = noise.lbDiffStd !== undefined ? rules.noiseStdFloor * Math.SQRT2 : rules.noiseStdFloor;
  const minimumThreshold = r6(rules.minThresholdNoiseMultiple * Math.max(diffNoise.std, diffFloor));
  const promotionBar = Math.max(previous.promotionThreshold, minimumThreshold);
  const screenBar = r6(promotionBar * SCREEN_SHARE);
  // The anchor's seeds measure unpaired seed noise, which the paired design (every run on the anchor's first seed)
  // cancels; no paired dev difference is measured yet, so the screen stands on the constitution's floor. It only
  // chooses what is trained together: the leaderboard, with measured noise, decides what is promoted.
  const devScreenBar = r6(SCREEN_SHARE * rules.minThresholdNoiseMultiple * Math.SQRT2 * rules.noiseStdFloor);
  const auditOk = auditOkIn(evidence);
  // A confirmation run re-measures a gain already recorded: it is judged as a confirmation, never screened anew. A
  // probe is a single-variable change like any explorer's: one that gains on the LB is screened like one (a
  // pro-proxy probe that does has contradicted its hypothesis).
  const explores = (s: CandidateSummary) => s.prescribed?.kind !== 'confirmation';
  const eligible = evidence.candidateSummaries
    .filter(
      (s) =>
        !s.isAnchor &&
        explores(s) &&
        s.status === 'completed' &&
        s.lbDelta !== null &&
        s.lbDelta > screenBar &&
        s.recipeChanges.length > 0 &&
        auditOk(s.candidateId),
    )
    .sort((a, b) => (b.lbDelta as number) - (a.lbDelta as number) || a.index - b.index)
    .map((s) => ({ candidateId: s.candidateId, lbGain: s.lbDelta as number, changes: s.recipeChanges }));
  const confirmations = judgeConfirmations(previous, evidence, promotionBar, auditOk);
  const promotions = stackPromotions(confirmations);
  const hyp = advanceHypotheses(previous, evidence, promotionBar);

  // Dead ends: changes that harmed the LB, dev-only gains of a confirmed decoupling, and divergence.
  const sigmaLb = Math.max(diffNoise.std, diffFloor);
  const known = new Set(previous.deadEnds.map(deadEndKey));
  const newDeadEnds: DeadEnd[] = [];
  for (const h of hyp.confirmedNow) {
    const single = h.suspectChanges.length === 1 ? h.suspectChanges[0] : null;
    const d: DeadEnd = {
      id: `dead-end-${h.suspectCandidateId}`,
      description:
        `${h.suspectAxis}: ${describeChanges(h.suspectChanges)} — raised ${h.domain} dev without moving ` +
        `the public LB (proxy-only gain, decoupling ${h.id} confirmed by probes)`,
      axis: h.suspectAxis,
      ...(single ? { path: single.path, direction: directionOf(single), value: single.to } : {}),
      round: evidence.round,
      candidateId: h.suspectCandidateId,
      evidence: `${h.evidence.join(' ')} (round ${evidence.round} evidence ${evidenceSha256.slice(0, 12)})`,
    };
    if (h.suspectChanges.length > 0 && !known.has(deadEndKey(d))) {
      known.add(deadEndKey(d));
      newDeadEnds.push(d);
    }
  }
  for (const s of evidence.candidateSummaries) {
    if (s.isAnchor || s.recipeChanges.length === 0) continue;
    let d: DeadEnd | null = null;
    if (s.status === 'completed' && s.lbDelta !== null && s.lbDelta < -promotionBar)
      d = deadEndFor(
        s,
        evidence.round,
        evidenceSha256,
        `lowered the public LB`,
        `LB ${signed(s.lbDelta)} vs anchor (${(s.lbDelta / sigmaLb).toFixed(1)}σ)`,
      );
    else if (s.status === 'failed' && s.failureModes.some((f) => f.kind === 'diverged'))
      d = deadEndFor(
        s,
        evidence.round,
        evidenceSha256,
        'training diverged',
        s.failureModes.find((f) => f.kind === 'diverged')?.detail || 'diverged',
      );
    if (d && !known.has(deadEndKey(d))) {
      known.add(deadEndKey(d));
      newDeadEnds.push(d);
    }
  }

  // An axis retires once its changes were dead ends in two different rounds: one bad move is a dead end, a
  // second round of them says the axis itself is spent.
  const alreadyRetired = new Set(previous.retiredAxes.map((r) => r.axis));
  const deadRounds = new Map<Axis, Set<number>>();
  for (const d of [...previous.deadEnds, ...newDeadEnds])
    deadRounds.set(d.axis, new Set([...(deadRounds.get(d.axis) ?? []), d.round]));
  const retiredNow = [...deadRounds.entries()]
    .filter(
      ([axis, rounds]) =>
        axis !== 'baseline' &&
        !alreadyRetired.has(axis) &&
        rounds.size >= 2 &&
        newDeadEnds.some((d) => d.axis === axis),
    )
    .sort(([a], [b]) => Axis.options.indexOf(a) - Axis.options.indexOf(b))
    .map(([axis, rounds]) => ({
      axis,
      round: evidence.round,
      reason: `its changes were dead ends in rounds ${[...rounds].sort((x, y) => x - y).join(', ')}`,
    }));
  const retired = new Set([...alreadyRetired, ...retiredNow.map((r) => r.axis)]);

  // A round that found a gain (waiting for its confirmation) or promoted one is not a plateau.
  const plateauRounds = eligible.length > 0 || promotions.length > 0 ? 0 : previous.plateauRounds + 1;
  const activeLeft = axesOf(previous.activeCategory, campaignAxes, retired);
  let rotationReason: string | null = null;
  if (plateauRounds > 0 && plateauRounds >= rules.plateauRoundsBeforeRotation)
    rotationReason =
      `no public-LB gain above the threshold for ${plateauRounds} round(s) (constitution: rotate ` +
      `after ${rules.plateauRoundsBeforeRotation})`;
  else if (activeLeft.length === 0) rotationReason = `every axis of ${previous.activeCategory} is retired`;
  const rotationTarget = rotationReason ? nextCategory(previous.activeCategory, campaignAxes, retired) : null;

  return {
    round: evidence.round,
    evidenceSha256,
    promotionBar,
    minimumThreshold,
    screenBar,
    devScreenBar,
    eligible,
    confirmations,
    promotions,
    hypotheses: hyp.hypotheses,
    hypothesisSteps: hyp.steps,
    diffNoise,
    plateauRounds,
    rotationRequired: rotationReason !== null,
    rotationReason,
    rotationTarget,
    decoupling: hyp.confirmedNow.length > 0,
    campaignAxes,
    retiredNow,
    newDeadEnds,
  };
}

/**
 * The noise of an explorer − anchor LB difference, from every measurement of it the campaign has: the confirmation
 * pairs (each a difference of two measurements of one gain: var 2σ², df 1; carried from round to round) pooled with
 * the anchor's LB replicates (within-recipe spread over the campaign: a difference has 2× their variance, with their
 * degrees of freedom; recomputed from every anchor score each round, so never counted twice). Replicates are on
 * different seeds, so their part is an unpaired upper bound on a paired difference: pooling errs high, not low.
 * With one pair alone the bar stood on a single degree of freedom — one pair (+0.045, −0.007) set σ 0.037 and the
 * bar to 0.073 for three rounds — and a pair's first measurement was selected for being high, so pairs alone err
 * upwards too. Stand-ins (dev proxy, floor) are used only when neither was measured.
 */
export function differenceNoise(noise: RoundEvidence['calibration']['noise']): {
  std: number;
  df: number;
  source: string;
} {
  const pairs =
    noise.lbDiffSource === 'confirmation-pairs' && (noise.lbDiffDf ?? 0) > 0
      ? { ss: (noise.lbDiffDf ?? 0) * (noise.lbDiffStd ?? 0) ** 2, df: noise.lbDiffDf ?? 0 }
      : null;
  const replicates =
    noise.lbSource === 'anchor-replicates' && noise.lbDf > 0
      ? { ss: noise.lbDf * 2 * noise.lbStd ** 2, df: noise.lbDf }
      : null;
  if (pairs && replicates) {
    const df = pairs.df + replicates.df;
    return {
      std: r6(Math.sqrt((pairs.ss + replicates.ss) / df)),
      df,
      source: 'confirmation pairs + anchor replicates',
    };
  }
  return { std: noise.lbDiffStd ?? 0, df: noise.lbDiffDf ?? 0, source: noise.lbDiffSource ?? 'floor' };
}

/**
 * The noise band after a round: the collector's estimate (this round's anchor seeds pooled with the band in
 * force) when anything was measured, else the band in force unchanged.
 */
export function nextNoiseBand(previous: RollingPolicy, evidence: RoundEvidence): RollingPolicy['noiseBand'] {
  const n = evidence.calibration.noise;
  if (n.devDf === 0 && n.lbDf === 0 && n.lbDiffSource !== 'confirmation-pairs') return { ...previous.noiseBand };
  const measuredNow = n.seeds >= 2;
  return {
    devStd: n.devStd,
    lbStd: n.lbStd,
    seeds: measuredNow ? n.seeds : previous.noiseBand.seeds,
    round: measuredNow ? evidence.round : previous.noiseBand.round,
    devDf: n.devDf,
    lbDf: n.lbDf,
    // Only a measurement of the paired difference is carried (confirmation pairs); stand-ins are recomputed.
    ...(n.lbDiffSource === 'confirmation-pairs' && n.lbDiffStd !== undefined && (n.lbDiffDf ?? 0) > 0
      ? { lbDiffStd: n.lbDiffStd, lbDiffDf: n.lbDiffDf }
      : previous.noiseBand.lbDiffDf
        ? { lbDiffStd: previous.noiseBand.lbDiffStd, lbDiffDf: previous.noiseBand.lbDiffDf }
        : {}),
  };
}
