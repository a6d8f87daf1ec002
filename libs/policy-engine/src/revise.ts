import {
  Axis,
  RollingPolicy,
  contentHash,
  type AxisCategory,
  type CandidateSummary,
  type Constitution,
  type DeadEnd,
  type EvidenceRule,
  type RecipeChange,
  type RoundEvidence,
  type SelectionCriterion,
} from '@aevo/contracts';
import { axesOf, nextCategory } from './axes';
import { diffPolicies } from './diff';
import { applyRecipeChanges, sameJson } from './recipe';
import { dict, own } from './own';

export interface RevisionContext {
  /** The axes the campaign allows (CampaignStarted.config.axes); every axis when absent. */
  campaignAxes?: readonly Axis[];
}

/** The facts a revision rests on; the proposal validator checks a meta agent against the same facts. */
export interface RevisionFacts {
  round: number;
  evidenceSha256: string;
  /** An LB gain over the anchor must exceed this to promote: max(threshold in force, recalibrated minimum). */
  promotionBar: number;
  /** The lowest threshold the constitution allows with this noise band. */
  minimumThreshold: number;
  /** Candidates whose LB gain clears the bar, best first. */
  eligible: Array<{ candidateId: string; lbGain: number; changes: RecipeChange[] }>;
  /** Plateau count before any rotation: rounds in a row without a promotion. */
  plateauRounds: number;
  rotationRequired: boolean;
  rotationReason: string | null;
  /** Where a required rotation goes (null: no other category has axes left). */
  rotationTarget: AxisCategory | null;
  decoupling: boolean;
  campaignAxes: readonly Axis[];
  retiredNow: Array<{ axis: Axis; round: number; reason: string }>;
  newDeadEnds: DeadEnd[];
}

export interface PolicyRevision {
  policy: RollingPolicy;
  changes: string[];
  rationale: string;
  facts: RevisionFacts;
}

const r6 = (x: number) => {
  const v = Math.round(x * 1e6) / 1e6;
  return Object.is(v, -0) ? 0 : v;
};
const r3 = (x: number) => Math.round(x * 1e3) / 1e3;
const signed = (x: number) => (x >= 0 ? '+' : '') + x.toFixed(4);

function describeChanges(changes: readonly RecipeChange[]): string {
  if (changes.length === 0) return 'no recipe change';
  return changes.map((c) => `${c.path} ${c.from === undefined ? '(unset)' : JSON.stringify(c.from)} → ${JSON.stringify(c.to)}`).join(', ');
}

/** Same reading as the workers' dead-end matcher: numbers and booleans move up or down, anything else is set. */
function directionOf(c: RecipeChange): DeadEnd['direction'] {
  if (typeof c.from === 'number' && typeof c.to === 'number') return c.to > c.from ? 'increase' : c.to < c.from ? 'decrease' : 'set';
  if (typeof c.from === 'boolean' && typeof c.to === 'boolean') return c.to ? 'increase' : 'decrease';
  return 'set';
}

/** What identifies a dead end for de-duplication: the axis and the exact change (or the described combination). */
function deadEndKey(d: Pick<DeadEnd, 'axis' | 'path' | 'direction' | 'value' | 'description'>): string {
  return d.path !== undefined ? `${d.axis}|${d.path}|${d.direction ?? ''}|${JSON.stringify(d.value ?? null)}` : `${d.axis}|${d.description}`;
}

function deadEndFor(s: CandidateSummary, round: number, evidenceSha256: string, why: string, evidenceNote: string): DeadEnd {
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

function upsertRule(rules: EvidenceRule[], rule: EvidenceRule): EvidenceRule[] {
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
export function revisionFacts(previous: RollingPolicy, evidence: RoundEvidence, constitution: Constitution, ctx: RevisionContext = {}): RevisionFacts {
  const rules = constitution.rules;
  const evidenceSha256 = contentHash(evidence);
  const campaignAxes = ctx.campaignAxes ?? Axis.options.filter((a) => a !== 'baseline');
  const noise = evidence.calibration.noise;
  const lbStd = nextNoiseBand(previous, evidence).lbStd;
  const minimumThreshold = r6(rules.minThresholdNoiseMultiple * Math.max(lbStd, rules.noiseStdFloor));
  const promotionBar = Math.max(previous.promotionThreshold, minimumThreshold);
  const onAxis = new Map(evidence.designRationaleAudit.onAxis.map((a) => [a.candidateId, a.stayedOnAxis]));
  const frozenOk = new Map(evidence.designRationaleAudit.frozenPathChecks.map((f) => [f.candidateId, f.ok]));
  const eligible = evidence.candidateSummaries
    .filter(
      (s) =>
        !s.isAnchor &&
        s.status === 'completed' &&
        s.lbDelta !== null &&
        s.lbDelta > promotionBar &&
        s.recipeChanges.length > 0 &&
        onAxis.get(s.candidateId) !== false &&
        frozenOk.get(s.candidateId) !== false,
    )
    .sort((a, b) => (b.lbDelta as number) - (a.lbDelta as number) || a.index - b.index)
    .map((s) => ({ candidateId: s.candidateId, lbGain: s.lbDelta as number, changes: s.recipeChanges }));

  // Dead ends: changes that harmed the LB, dev-only gains under decoupling, and divergence.
  const decoupled = new Set(evidence.calibration.proxyDecoupling.flagged ? evidence.calibration.proxyDecoupling.candidates : []);
  const sigmaLb = Math.max(noise.lbStd, noise.floor);
  const known = new Set(previous.deadEnds.map(deadEndKey));
  const newDeadEnds: DeadEnd[] = [];
  for (const s of evidence.candidateSummaries) {
    if (s.isAnchor || s.recipeChanges.length === 0) continue;
    let d: DeadEnd | null = null;
    if (decoupled.has(s.candidateId))
      d = deadEndFor(
        s,
        evidence.round,
        evidenceSha256,
        'raised dev without moving the public LB (proxy-only gain)',
        `dev ${signed(s.devDelta ?? 0)}, LB ${signed(s.lbDelta ?? 0)} (${((s.lbDelta ?? 0) / sigmaLb).toFixed(1)}σ) vs anchor`,
      );
    else if (s.status === 'completed' && s.lbDelta !== null && s.lbDelta < -promotionBar)
      d = deadEndFor(s, evidence.round, evidenceSha256, `lowered the public LB`, `LB ${signed(s.lbDelta)} vs anchor (${(s.lbDelta / sigmaLb).toFixed(1)}σ)`);
    else if (s.status === 'failed' && s.failureModes.some((f) => f.kind === 'diverged'))
      d = deadEndFor(s, evidence.round, evidenceSha256, 'training diverged', s.failureModes.find((f) => f.kind === 'diverged')?.detail || 'diverged');
    if (d && !known.has(deadEndKey(d))) {
      known.add(deadEndKey(d));
      newDeadEnds.push(d);
    }
  }

  // An axis retires once its changes were dead ends in two different rounds: one bad move is a dead end, a
  // second round of them says the axis itself is spent.
  const alreadyRetired = new Set(previous.retiredAxes.map((r) => r.axis));
  const deadRounds = new Map<Axis, Set<number>>();
  for (const d of [...previous.deadEnds, ...newDeadEnds]) deadRounds.set(d.axis, new Set([...(deadRounds.get(d.axis) ?? []), d.round]));
  const retiredNow = [...deadRounds.entries()]
    .filter(([axis, rounds]) => axis !== 'baseline' && !alreadyRetired.has(axis) && rounds.size >= 2 && newDeadEnds.some((d) => d.axis === axis))
    .sort(([a], [b]) => Axis.options.indexOf(a) - Axis.options.indexOf(b))
    .map(([axis, rounds]) => ({ axis, round: evidence.round, reason: `its changes were dead ends in rounds ${[...rounds].sort((x, y) => x - y).join(', ')}` }));
  const retired = new Set([...alreadyRetired, ...retiredNow.map((r) => r.axis)]);

  const plateauRounds = eligible.length > 0 ? 0 : previous.plateauRounds + 1;
  const activeLeft = axesOf(previous.activeCategory, campaignAxes, retired);
  let rotationReason: string | null = null;
  if (eligible.length === 0 && plateauRounds >= rules.plateauRoundsBeforeRotation)
    rotationReason = `no public-LB gain above the threshold for ${plateauRounds} round(s) (constitution: rotate after ${rules.plateauRoundsBeforeRotation})`;
  else if (activeLeft.length === 0) rotationReason = `every axis of ${previous.activeCategory} is retired`;
  const rotationTarget = rotationReason ? nextCategory(previous.activeCategory, campaignAxes, retired) : null;

  return {
    round: evidence.round,
    evidenceSha256,
    promotionBar,
    minimumThreshold,
    eligible,
    plateauRounds,
    rotationRequired: rotationReason !== null,
    rotationReason,
    rotationTarget,
    decoupling: evidence.calibration.proxyDecoupling.flagged,
    campaignAxes,
    retiredNow,
    newDeadEnds,
  };
}

/**
 * The noise band after a round: the collector's estimate (this round's anchor seeds pooled with the band in
 * force) when anything was measured, else the band in force unchanged.
 */
export function nextNoiseBand(previous: RollingPolicy, evidence: RoundEvidence): RollingPolicy['noiseBand'] {
  const n = evidence.calibration.noise;
  if (n.devDf === 0 && n.lbDf === 0) return { ...previous.noiseBand };
  const measuredNow = n.seeds >= 2;
  return {
    devStd: n.devStd,
    lbStd: n.lbStd,
    seeds: measuredNow ? n.seeds : previous.noiseBand.seeds,
    round: measuredNow ? evidence.round : previous.noiseBand.round,
    devDf: n.devDf,
    lbDf: n.lbDf,
  };
}

/** Noise band, best LB and the predicted band of the next round: bookkeeping no proposer chooses. */
export function bookkeeping(previous: RollingPolicy, evidence: RoundEvidence, constitution: Constitution, promotedId: string | null) {
  const noiseBand = nextNoiseBand(previous, evidence);
  const lbs = evidence.candidateSummaries.filter((s) => s.status === 'completed' && s.publicLb !== null).map((s) => s.publicLb as number);
  const bestPublicLb = lbs.length === 0 ? previous.bestPublicLb : r6(Math.max(previous.bestPublicLb ?? -Infinity, ...lbs));
  const promoted = promotedId ? evidence.candidateSummaries.find((s) => s.candidateId === promotedId) : undefined;
  const m = constitution.rules.decouplingNoiseMultiple;
  const floor = constitution.rules.noiseStdFloor;
  const devCenter = promoted?.dev?.overall ?? evidence.calibration.reference.dev;
  const lbCenter = promoted?.publicLb ?? evidence.calibration.reference.publicLb;
  const explorers = evidence.candidateSummaries.filter((s) => !s.isAnchor && s.status === 'completed');
  const devUp = Math.max(0, ...explorers.map((s) => s.devDelta ?? 0));
  const lbUp = Math.max(0, ...explorers.map((s) => s.lbDelta ?? 0));
  const sd = m * Math.max(noiseBand.devStd, floor);
  const sl = m * Math.max(noiseBand.lbStd, floor);
  const predictedBand = {
    dev: devCenter === null ? null : { low: r6(devCenter - sd), high: r6(devCenter + sd + devUp) },
    publicLb: lbCenter === null ? null : { low: r6(lbCenter - sl), high: r6(lbCenter + sl + lbUp) },
    basis: `${promoted ? `promoted ${promoted.candidateId}` : 'the anchor'} of round ${evidence.round} ± ${m}σ, up to this round's largest gain above`,
  };
  return { noiseBand, bestPublicLb, predictedBand };
}

/**
 * The rule engine: the default meta-policy, a deterministic reading of the constitution.
 *
 * - Leaderboard authoritative: only an LB gain over the anchor above the promotion bar promotes; dev never does.
 * - Standing recipe = previous standing recipe + the promoted candidate's recipe changes (the substrate is untouched).
 * - Rotation: after `plateauRoundsBeforeRotation` rounds without promotion, the active category rotates.
 * - Dead ends only grow: entries are added (with round provenance), never removed or edited.
 * - Promotion threshold: minThresholdNoiseMultiple × the anchor's LB seed std (floored), recalibrated each round.
 * - Dev/LB gap as calibration: after proxy decoupling the objective becomes transfer-to-lb, evidence rules say
 *   so, and checkpoints are selected by a reweighted criterion.
 */
export function revisePolicy(previous: RollingPolicy, evidence: RoundEvidence, constitution: Constitution, ctx: RevisionContext = {}): PolicyRevision {
  const facts = revisionFacts(previous, evidence, constitution, ctx);
  const round = evidence.round;
  const promoted = facts.eligible[0] ?? null;
  const promotedSummary = promoted ? evidence.candidateSummaries.find((s) => s.candidateId === promoted.candidateId) : undefined;
  const standingRecipe = promoted ? applyRecipeChanges(previous.standingRecipe, promoted.changes) : structuredClone(previous.standingRecipe);

  const retiredAxes = [...previous.retiredAxes, ...facts.retiredNow];
  const retired = new Set(retiredAxes.map((r) => r.axis));
  const rotatesTo = facts.rotationRequired ? facts.rotationTarget : null;
  const activeCategory = rotatesTo ?? previous.activeCategory;
  let activeAxes = axesOf(activeCategory, facts.campaignAxes, retired);
  if (activeAxes.length === 0) activeAxes = previous.activeAxes.filter((a) => !retired.has(a));
  if (activeAxes.length === 0) activeAxes = [...previous.activeAxes];
  const plateauRounds = rotatesTo ? 0 : facts.plateauRounds;

  const deadEnds = [...previous.deadEnds, ...facts.newDeadEnds];
  const { noiseBand, bestPublicLb, predictedBand } = bookkeeping(previous, evidence, constitution, promoted?.candidateId ?? null);
  const promotionThreshold = facts.minimumThreshold;
  const anchorSeeds = (noiseBand.devDf ?? Math.max(0, noiseBand.seeds - 1)) === 0 ? Math.max(previous.anchorSeeds, 2) : previous.anchorSeeds;

  let evidenceRules = upsertRule(previous.evidenceRules, {
    id: 'noise-threshold',
    rule: `Public-LB gains within ${promotionThreshold} of the anchor are seed noise (${constitution.rules.minThresholdNoiseMultiple} × LB seed std ${Math.max(noiseBand.lbStd, constitution.rules.noiseStdFloor)}); they are not promoted`,
    since: round,
    reason: `noise band last measured in round ${noiseBand.round} (${noiseBand.seeds} anchor seeds; degrees of freedom dev ${noiseBand.devDf ?? 0}, LB ${noiseBand.lbDf ?? 0})`,
  });
  let objective = previous.objective;
  let selectionCriterion: SelectionCriterion = previous.selectionCriterion;
  const pd = evidence.calibration.proxyDecoupling;
  if (pd.flagged) {
    objective = 'transfer-to-lb';
    const why = `proxy decoupling in round ${round}: ${pd.reason}`;
    const domainsBefore = previous.evidenceRules.find((r) => r.id === 'rebalance-domains');
    const priorDomains = domainsBefore ? (/\(([^)]*)\)/.exec(domainsBefore.rule)?.[1] ?? '').split(', ').filter(Boolean) : [];
    const domains = [...new Set([...priorDomains, ...pd.domains])].sort();
    for (const rule of [
      { id: 'raw-dev-suspect', rule: 'Raw dev gains are suspect unless they move the public leaderboard beyond noise' },
      { id: 'prefer-lb-over-dev', rule: 'Prefer interventions that may lower dev but raise the public leaderboard' },
      {
        id: 'rebalance-domains',
        rule:
          domains.length > 0
            ? `Rebalance over-represented domains (${domains.join(', ')}): their dev gains did not transfer to the leaderboard`
            : 'Rebalance over-represented domains: dev gains did not transfer to the leaderboard',
      },
      { id: 'reweighted-selection', rule: 'Select checkpoints by the reweighted criterion, not the dev mean' },
    ])
      evidenceRules = upsertRule(evidenceRules, { ...rule, since: previous.evidenceRules.find((r) => r.id === rule.id)?.since ?? round, reason: why });
    selectionCriterion = { kind: 'reweighted', weights: transferWeights(evidence, domains) };
  }

  // Rationale: why each decision was taken, in the order the constitution lists its meta-rules.
  const ref = evidence.calibration.reference;
  const best = evidence.candidateSummaries
    .filter((s) => !s.isAnchor && s.status === 'completed' && s.lbDelta !== null)
    .sort((a, b) => (b.lbDelta as number) - (a.lbDelta as number) || a.index - b.index)[0];
  const parts: string[] = [];
  parts.push(
    `Round ${round}: anchor dev ${ref.dev ?? 'n/a'}, public LB ${ref.publicLb ?? 'n/a'} (${ref.publicLbSource}); noise dev σ ${evidence.calibration.noise.devStd} (${evidence.calibration.noise.devSource}), LB σ ${evidence.calibration.noise.lbStd} (${evidence.calibration.noise.lbSource}).`,
  );
  if (promoted && promotedSummary)
    parts.push(
      `Promoted ${promoted.candidateId} (${promotedSummary.axis}): public-LB gain ${signed(promoted.lbGain)} exceeds the bar ${facts.promotionBar}; the standing recipe takes ${describeChanges(promoted.changes)}.`,
    );
  else if (best)
    parts.push(`No promotion: the best public-LB gain, ${signed(best.lbDelta as number)} by ${best.candidateId}, does not exceed the bar ${facts.promotionBar}.`);
  else parts.push('No promotion: no explorer candidate has a public-LB score.');
  if (rotatesTo) parts.push(`Rotating the active category ${previous.activeCategory} → ${rotatesTo}: ${facts.rotationReason}.`);
  else if (facts.rotationRequired) parts.push(`Rotation is due (${facts.rotationReason}) but no other category has axes left; staying on ${activeCategory}.`);
  else if (!promoted) parts.push(`${facts.plateauRounds} round(s) without LB gain; rotation after ${constitution.rules.plateauRoundsBeforeRotation}.`);
  if (pd.flagged)
    parts.push(
      `Proxy decoupling: ${pd.reason}. Dev is no longer taken as evidence on its own: objective transfer-to-lb, checkpoints selected by the reweighted criterion.`,
    );
  if (facts.retiredNow.length > 0) parts.push(`Retired ${facts.retiredNow.map((r) => `${r.axis} (${r.reason})`).join('; ')}.`);
  if (facts.newDeadEnds.length > 0) parts.push(`Don't waste budget on: ${facts.newDeadEnds.map((d) => d.description).join('; ')}.`);
  parts.push(`Promotion threshold ${promotionThreshold} = ${constitution.rules.minThresholdNoiseMultiple} × LB σ (floor ${constitution.rules.noiseStdFloor}).`);
  if (anchorSeeds !== previous.anchorSeeds) parts.push(`The anchor runs ${anchorSeeds} seeds so the noise band can be measured.`);
  const rationale = parts.join(' ');

  const policy = RollingPolicy.parse({
    revision: previous.revision + 1,
    forRound: round + 1,
    standingRecipe,
    activeCategory,
    activeAxes,
    retiredAxes,
    deadEnds,
    promotionThreshold,
    noiseBand,
    anchorSeeds,
    selectionCriterion,
    objective,
    evidenceRules,
    bestPublicLb,
    plateauRounds,
    predictedBand,
    rationale,
  });
  return { policy, changes: diffPolicies(previous, policy), rationale, facts };
}

export { sameJson };
