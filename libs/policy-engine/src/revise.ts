import { RollingPolicy, type Constitution, type RoundEvidence, type SelectionCriterion } from '@aevo/contracts';
import { axesOf, followingAxes } from './axes';
import { diffPolicies } from './diff';
import { applyRecipeChanges, sameJson } from './recipe';
import { rebase } from './prescribe';
import {
  allocateAxes,
  leadDirections,
  ledgerLeads,
  nextCombination,
  nextMoveLedger,
  nextPending,
  nextSearchHints,
  unmeasuredConfirmations,
  nextStandingLb,
} from './research';

import {
  auditOkIn,
  describeChanges,
  nextNoiseBand,
  r6,
  revisionFacts,
  signed,
  transferWeights,
  upsertRule,
  type RevisionContext,
  type RevisionFacts,
} from './revision-facts';

export {
  nextNoiseBand,
  revisionFacts,
  transferWeights,
  type RevisionContext,
  type RevisionFacts,
} from './revision-facts';

export interface PolicyRevision {
  policy: RollingPolicy;
  changes: string[];
  rationale: string;
  facts: RevisionFacts;
}

/** Noise band, best LB and the predicted band of the next round: bookkeeping no proposer chooses. */
export function bookkeeping(
  previous: RollingPolicy,
  evidence: RoundEvidence,
  constitution: Constitution,
  promotedId: string | null,
) {
  const noiseBand = nextNoiseBand(previous, evidence);
  const lbs = evidence.candidateSummaries
    .filter((s) => s.status === 'completed' && s.publicLb !== null)
    .map((s) => s.publicLb as number);
  const bestPublicLb =
    lbs.length === 0 ? previous.bestPublicLb : r6(Math.max(previous.bestPublicLb ?? -Infinity, ...lbs));
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
    basis:
      `${promoted ? `promoted ${promoted.candidateId}` : 'the anchor'} of round ${evidence.round} ± ${m}σ, up to ` +
      `this round's largest gain above`,
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
export function revisePolicy(
  previous: RollingPolicy,
  evidence: RoundEvidence,
  constitution: Constitution,
  ctx: RevisionContext = {},
): PolicyRevision {
  const facts = revisionFacts(previous, evidence, constitution, ctx);
  const round = evidence.round;
  const promotedChanges = facts.promotions.flatMap((p) => p.pending.changes);
  const standingRecipe =
    facts.promotions.length > 0
      ? applyRecipeChanges(previous.standingRecipe, promotedChanges)
      : structuredClone(previous.standingRecipe);

  const retiredAxes = [...previous.retiredAxes, ...facts.retiredNow];
  const retired = new Set(retiredAxes.map((r) => r.axis));
  const rotatesTo = facts.rotationRequired ? facts.rotationTarget : null;
  const activeCategory = rotatesTo ?? previous.activeCategory;
  let categoryAxes = axesOf(activeCategory, facts.campaignAxes, retired);
  if (categoryAxes.length === 0) categoryAxes = previous.activeAxes.filter((a) => !retired.has(a));
  if (categoryAxes.length === 0) categoryAxes = [...previous.activeAxes];
  const plateauRounds = rotatesTo ? 0 : facts.plateauRounds;

  const deadEnds = [...previous.deadEnds, ...facts.newDeadEnds];
  const research = researchBookkeeping(previous, evidence, facts, standingRecipe, plateauRounds);
  // Explorers by the ledger: the leads' axes keep their slots across rotations, spent axes give theirs up.
  const activeAxes = allocateAxes(
    categoryAxes,
    research.moveLedger ?? [],
    facts.devScreenBar,
    retired,
    followingAxes(activeCategory, facts.campaignAxes, retired),
  );
  const { noiseBand, bestPublicLb, predictedBand } = bookkeeping(
    previous,
    evidence,
    constitution,
    facts.promotions[0]?.run?.candidateId ?? null,
  );
  const promotionThreshold = facts.minimumThreshold;
  const anchorSeeds =
    (noiseBand.devDf ?? Math.max(0, noiseBand.seeds - 1)) === 0
      ? Math.max(previous.anchorSeeds, 2)
      : previous.anchorSeeds;

  let evidenceRules = upsertRule(previous.evidenceRules, {
    id: 'noise-threshold',
    rule:
      `Public-LB gains within ${promotionThreshold} of the anchor are noise ` +
      `(${constitution.rules.minThresholdNoiseMultiple} × LB difference ` +
      `std ${r6(Math.max(facts.diffNoise.std, constitution.rules.noiseStdFloor * Math.SQRT2))}); a gain above half ` +
      `of it is re-measured on another seed, and promoted when the mean of both measurements clears it / √2`,
    since: round,
    reason:
      `LB difference noise from ${facts.diffNoise.source} (df ${facts.diffNoise.df}); LB replicate ` +
      `std ${noiseBand.lbStd} (df ${noiseBand.lbDf ?? 0}); dev seed std ${noiseBand.devStd} ` +
      `(df ${noiseBand.devDf ?? 0}, anchor seeds last measured in round ${noiseBand.round})`,
  });
  let objective = previous.objective;
  let selectionCriterion: SelectionCriterion = previous.selectionCriterion;
  const confirmedNow = facts.hypotheses.filter((h) => h.status === 'confirmed' && h.decidedRound === round);
  if (confirmedNow.length > 0) {
    // Only a confirmed decoupling changes what counts as evidence, and the reaction names what was confirmed.
    objective = 'transfer-to-lb';
    const confirmed = confirmedNow.map(
      (h) => `${h.domain} (${h.id}: ${h.suspectCandidateId}'s ${describeChanges(h.suspectChanges)})`,
    );
    const why = `decoupling confirmed in round ${round}: ${confirmed.join('; ')}`;
    const domains = [...new Set(facts.hypotheses.filter((h) => h.status === 'confirmed').map((h) => h.domain))].sort();
    for (const rule of [
      { id: 'raw-dev-suspect', rule: 'Raw dev gains are suspect unless they move the public leaderboard beyond noise' },
      { id: 'prefer-lb-over-dev', rule: 'Prefer interventions that may lower dev but raise the public leaderboard' },
      {
        id: 'rebalance-domains',
        rule:
          domains.length > 0
            ? `Rebalance over-represented domains (${domains.join(', ')}): their dev gains did not transfer to the ` +
              `leaderboard`
            : 'Rebalance over-represented domains: dev gains did not transfer to the leaderboard',
      },
      { id: 'reweighted-selection', rule: 'Select checkpoints by the reweighted criterion, not the dev mean' },
    ])
      evidenceRules = upsertRule(evidenceRules, {
        ...rule,
        since: previous.evidenceRules.find((r) => r.id === rule.id)?.since ?? round,
        reason: why,
      });
    selectionCriterion = { kind: 'reweighted', weights: transferWeights(evidence, domains) };
  }

  // Rationale: why each decision was taken, in the order the constitution lists its meta-rules.
  const ref = evidence.calibration.reference;
  const n = evidence.calibration.noise;
  const best = evidence.candidateSummaries
    .filter((s) => !s.isAnchor && !s.prescribed && s.status === 'completed' && s.lbDelta !== null)
    .sort((a, b) => (b.lbDelta as number) - (a.lbDelta as number) || a.index - b.index)[0];
  const parts: string[] = [];
  parts.push(
    `Round ${round}: anchor dev ${ref.dev ?? 'n/a'}, public LB ${ref.publicLb ?? 'n/a'} (${ref.publicLbSource}); ` +
      `noise dev σ ${n.devStd} (${n.devSource}, df ${n.devDf}), LB σ ${n.lbStd} (${n.lbSource}, df ${n.lbDf}), LB ` +
      `difference σ ${facts.diffNoise.std} (${facts.diffNoise.source}, df ${facts.diffNoise.df}).`,
  );
  for (const p of facts.promotions)
    parts.push(
      `Promoted ${p.pending.candidateId} (${p.pending.axis}): public-LB gain ${signed(p.pending.lbGain)} in ` +
        `round ${p.pending.round} exceeded the bar, ${p.why}; the standing recipe ` +
        `takes ${describeChanges(p.pending.changes)}.`,
    );
  const promotedIds = new Set(facts.promotions.map((p) => p.pending.candidateId));
  for (const c of facts.confirmations.filter((x) => !promotedIds.has(x.pending.candidateId)))
    parts.push(
      `Not promoted: ${c.pending.candidateId} (${c.pending.axis}, LB ${signed(c.pending.lbGain)} in ` +
        `round ${c.pending.round}): ` +
        `${c.confirmed ? 'confirmed, but it changes a path a better confirmed gain changes' : c.why}.`,
    );
  const combo = research.combination;
  if (combo)
    parts.push(
      `Next round trains ${combo.changes.map((c) => `${c.path} → ${JSON.stringify(c.to)}`).join(' + ')} together ` +
        `as ${combo.id} — moves whose mean paired dev gain over the campaign ` +
        `(${combo.sources.map((x) => signed(x.devGain)).join(', ')}) clears the dev screen ${facts.devScreenBar} by ` +
        `a standard error; only its public LB can promote it.`,
    );

  const leads = ledgerLeads(research.moveLedger ?? [], facts.devScreenBar);
  const leadList = leads.map((l) => `${l.move.key} (${l.move.axis}, ${signed(l.mean)} over ${l.move.devGains.length})`);
  const widened = (research.searchHints?.directions ?? [])
    .filter((d) => d.paidRounds.length === 0)
    .map((d) => `${d.path} ${d.direction} at step scale ${d.stepScale}`);
  if (leads.length > 0)
    parts.push(
      `Leads of the move ledger (mean paired dev gain above the screen ${facts.devScreenBar}): ` +
        `${leadList.join(', ')} — explorers go to ${activeAxes.join(', ')}; ` +
        `${widened.join(', ') || 'no numeric lead to widen'}.`,
    );
  const awaiting = (research.pendingConfirmations ?? []).map((e) => `${e.candidateId} (LB ${signed(e.lbGain)})`);
  if (facts.eligible.length > 0)
    parts.push(
      `Awaiting confirmation on another seed next round: ` +
        `${awaiting.join(', ') || 'none (their changes are already standing)'} — ` +
        `gains above the screen ${facts.screenBar} (half the bar ${facts.promotionBar}).`,
    );
  else if (facts.promotions.length === 0 && best)
    parts.push(
      `No promotion: the best public-LB gain, ${signed(best.lbDelta as number)} by ${best.candidateId}, does not ` +
        `clear the screen ${facts.screenBar} (half the bar ${facts.promotionBar}).`,
    );
  else if (facts.promotions.length === 0) parts.push('No promotion: no explorer candidate has a public-LB score.');
  if (rotatesTo)
    parts.push(`Rotating the active category ${previous.activeCategory} → ${rotatesTo}: ${facts.rotationReason}.`);
  else if (facts.rotationRequired)
    parts.push(
      `Rotation is due (${facts.rotationReason}) but no other category has axes left; staying on ${activeCategory}.`,
    );
  else if (facts.promotions.length === 0 && facts.eligible.length === 0)
    parts.push(
      `${facts.plateauRounds} round(s) without LB gain; rotation ` +
        `after ${constitution.rules.plateauRoundsBeforeRotation}.`,
    );
  for (const step of facts.hypothesisSteps)
    parts.push(
      `${step.type.replace('Decoupling', 'Decoupling ')} ` +
        `(${step.hypothesis.domain}): ${step.hypothesis.evidence[step.hypothesis.evidence.length - 1]}.`,
    );
  if (confirmedNow.length > 0)
    parts.push(
      `Proxy decoupling confirmed in ${confirmedNow.map((h) => h.domain).join(', ')}. Dev is no longer taken as ` +
        `evidence on its own: objective transfer-to-lb, checkpoints selected by the reweighted criterion.`,
    );
  if (facts.retiredNow.length > 0)
    parts.push(`Retired ${facts.retiredNow.map((r) => `${r.axis} (${r.reason})`).join('; ')}.`);
  if (facts.newDeadEnds.length > 0)
    parts.push(`Don't waste budget on: ${facts.newDeadEnds.map((d) => d.description).join('; ')}.`);
  parts.push(
    `Promotion threshold ${promotionThreshold} = ${constitution.rules.minThresholdNoiseMultiple} × LB difference σ ` +
      `(floor √2 × ${constitution.rules.noiseStdFloor}); a gain above half of it gets a confirmation run, and is ` +
      `promoted when the mean of both measurements clears it / √2.`,
  );
  if (anchorSeeds !== previous.anchorSeeds)
    parts.push(`The anchor runs ${anchorSeeds} seeds so the noise band can be measured.`);
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
    ...research,
  });
  return { policy, changes: diffPolicies(previous, policy), rationale, facts };
}

/**
 * The research bookkeeping of a revision, the same whoever proposes it: gains awaiting confirmation, decoupling
 * hypotheses, move-size hints and the standing recipe's LB replicates.
 */
export function researchBookkeeping(
  previous: RollingPolicy,
  evidence: RoundEvidence,
  facts: RevisionFacts,
  standingRecipe: RollingPolicy['standingRecipe'],
  plateauRounds: number,
): Pick<
  RollingPolicy,
  'pendingConfirmations' | 'decouplingHypotheses' | 'searchHints' | 'standingLb' | 'combination' | 'moveLedger'
> {
  // A gain whose every change already stands (promoted with another) needs no confirmation.
  const pendingConfirmations = nextPending(
    facts.eligible.filter((e) => !sameJson(applyRecipeChanges(standingRecipe, e.changes), standingRecipe)),
    evidence,
    unmeasuredConfirmations(facts.confirmations, evidence.round).filter(
      (p) => !sameJson(applyRecipeChanges(standingRecipe, p.changes), standingRecipe),
    ),
  );
  const promotedChanges = facts.promotions.flatMap((p) => p.pending.changes);
  const moveLedger = nextMoveLedger(
    previous,
    evidence,
    auditOkIn(evidence),
    promotedChanges.map((c) => c.path),
    [...previous.deadEnds, ...facts.newDeadEnds],
    facts.devScreenBar,
  );
  const deadPaths = facts.newDeadEnds
    .filter((d) => d.path !== undefined && d.round === evidence.round)
    .map((d) => d.path as string);
  return {
    pendingConfirmations,
    decouplingHypotheses: facts.hypotheses,
    searchHints: nextSearchHints(
      previous,
      promotedChanges,
      evidence.round,
      plateauRounds,
      deadPaths,
      leadDirections(moveLedger, facts.devScreenBar),
    ),
    standingLb: nextStandingLb(previous, evidence, standingRecipe),
    moveLedger,
    combination: nextCombination(
      moveLedger,
      evidence.round,
      facts.devScreenBar,
      pendingConfirmations,
      (changes) => rebase(changes, standingRecipe),
      (id) => evidence.candidateSummaries.some((s) => s.candidateId === id && s.prescribed?.kind === 'combination'),
    ),
  };
}

export { sameJson };
