import { z } from 'zod';
import {
  AXIS_CATEGORY,
  Axis,
  AxisCategory,
  DeadEnd,
  EvidenceRule,
  RecipeDocument,
  RollingPolicy,
  SelectionCriterion,
  canonicalJson,
  type Constitution,
  type MetaRule,
  type RoundEvidence,
} from '@aevo/contracts';
import { diffPolicies } from './diff';
import { applyRecipeChanges, sameJson } from './recipe';
import { bookkeeping, researchBookkeeping, revisionFacts, type RevisionContext, type RevisionFacts } from './revise';

/**
 * What the meta agent may propose: the policy fields it decides, nothing else. Bookkeeping (revision, noise
 * band, best LB, plateau count, predicted band) is computed, and there is no field through which the
 * constitution could be addressed — an unknown key is refused.
 */
export const PolicyProposal = z
  .object({
    promotedCandidateId: z
      .string()
      .nullable()
      .describe('the candidate whose recipe changes the standing recipe takes, or null'),
    standingRecipe: RecipeDocument.describe(
      'previous standing recipe, plus exactly the promoted candidate’s recipe changes',
    ),
    activeCategory: AxisCategory,
    activeAxes: z.array(Axis).min(1),
    retiredAxes: z.array(z.object({ axis: Axis, round: z.number().int().min(0), reason: z.string() }).strict()),
    deadEnds: z.array(DeadEnd).describe('every previous entry unchanged, plus new ones'),
    promotionThreshold: z.number().min(0),
    anchorSeeds: z.number().int().min(1).max(16),
    selectionCriterion: SelectionCriterion,
    objective: z.enum(['raise-dev-and-lb', 'transfer-to-lb']),
    evidenceRules: z.array(EvidenceRule),
    rationale: z.string().min(1),
  })
  .strict();
export type PolicyProposal = z.infer<typeof PolicyProposal>;

export interface Violation {
  rule: MetaRule;
  detail: string;
}

const CONSTITUTION_KEY = new RegExp(
  [
    'constitution',
    'meta[-_]?rule',
    '^rules$',
    'system[-_]?prompt',
    'plateauRoundsBeforeRotation',
    'minThresholdNoiseMultiple',
    'decouplingNoiseMultiple',
    'noiseStdFloor',
  ].join('|'),
  'i',
);

export type ProposalCheck =
  | { ok: true; policy: RollingPolicy; changes: string[]; proposal: PolicyProposal }
  | { ok: false; violations: Violation[] };

/** Every key at any depth of a JSON value (to find attempts to address the constitution). */
function keysDeep(v: unknown, out: string[] = []): string[] {
  if (Array.isArray(v)) v.forEach((x) => keysDeep(x, out));
  else if (v !== null && typeof v === 'object')
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      out.push(k);
      keysDeep(x, out);
    }
  return out;
}

/**
 * Validates a meta agent's proposal against the constitution's meta-rules and the facts of the round. Returns
 * the resulting policy, or every violation found (each becomes a ConstitutionViolationRefused).
 */
export function validateProposal(
  previous: RollingPolicy,
  evidence: RoundEvidence,
  constitution: Constitution,
  raw: unknown,
  ctx: RevisionContext = {},
  precomputed?: RevisionFacts,
): ProposalCheck {
  const violations: Violation[] = [];
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    return { ok: false, violations: [{ rule: 'proposal-invalid', detail: 'the proposal is not a JSON object' }] };
  const topKeys = Object.keys(raw as Record<string, unknown>);
  const known = new Set(Object.keys(PolicyProposal.shape));
  const constitutional = topKeys.filter((k) => !known.has(k) && CONSTITUTION_KEY.test(k));
  const nestedConstitutional = keysDeep(raw).filter((k) => CONSTITUTION_KEY.test(k) && !known.has(k));
  if (constitutional.length > 0 || nestedConstitutional.length > 0)
    violations.push({
      rule: 'constitution-immutable',
      detail:
        `the proposal addresses the constitution ` +
        `(${[...new Set([...constitutional, ...nestedConstitutional])].sort().join(', ')}); the constitution is ` +
        `read-only and pinned for the campaign`,
    });
  // Keys that address the constitution are refused above; the rest of the proposal is still checked, so that
  // every broken rule is reported at once.
  const stripped = Object.fromEntries(
    Object.entries(raw as Record<string, unknown>).filter(([k]) => known.has(k) || !CONSTITUTION_KEY.test(k)),
  );
  const parsed = PolicyProposal.safeParse(stripped);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .filter((i) => !(i.code === 'unrecognized_keys' && i.keys.every((k) => CONSTITUTION_KEY.test(k))))
      .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    if (issues.length > 0) violations.push({ rule: 'proposal-invalid', detail: issues.join('; ') });
    return { ok: false, violations };
  }
  const p = parsed.data;
  const facts = precomputed ?? revisionFacts(previous, evidence, constitution, ctx);

  // Dead-end registry only grows: every previous entry, unchanged.
  const proposed = new Map(p.deadEnds.map((d) => [d.id, d]));
  const removed = previous.deadEnds.filter((d) => !proposed.has(d.id)).map((d) => d.id);
  const altered = previous.deadEnds
    .filter((d) => proposed.has(d.id) && canonicalJson(proposed.get(d.id)) !== canonicalJson(d))
    .map((d) => d.id);
  if (removed.length > 0)
    violations.push({ rule: 'dead-end-registry-only-grows', detail: `removes dead end(s) ${removed.join(', ')}` });
  if (altered.length > 0)
    violations.push({ rule: 'dead-end-registry-only-grows', detail: `rewrites dead end(s) ${altered.join(', ')}` });
  if (new Set(p.deadEnds.map((d) => d.id)).size !== p.deadEnds.length)
    violations.push({ rule: 'proposal-invalid', detail: 'dead-end ids repeat' });

  // Promotion requires an LB gain above the bar; the standing recipe changes only by a promotion.
  // A gain is promoted only once its confirmation run (another seed) cleared the bar again; several independent
  // confirmed gains may be promoted together.
  if (p.promotedCandidateId !== null) {
    const e = facts.promotions.find((c) => c.pending.candidateId === p.promotedCandidateId);
    const pending = (previous.pendingConfirmations ?? []).find((c) => c.candidateId === p.promotedCandidateId);
    const all = applyRecipeChanges(
      previous.standingRecipe,
      facts.promotions.flatMap((c) => c.pending.changes),
    );
    const confirmation = facts.confirmations.find((c) => c.pending.candidateId === p.promotedCandidateId);
    if (!e)
      violations.push({
        rule: 'promotion-requires-lb-gain',
        detail: pending
          ? `${p.promotedCandidateId}'s gain was not confirmed: ${confirmation?.why ?? 'no confirmation run'}`
          : `${p.promotedCandidateId} is not a gain awaiting confirmation (a gain above the ` +
            `bar ${facts.promotionBar} must be confirmed on another seed first)`,
      });
    else if (
      !sameJson(p.standingRecipe, applyRecipeChanges(previous.standingRecipe, e.pending.changes)) &&
      !sameJson(p.standingRecipe, all)
    )
      violations.push({
        rule: 'promotion-requires-lb-gain',
        detail:
          `the standing recipe must be the previous one plus exactly ${p.promotedCandidateId}'s recipe changes ` +
          `(or every confirmed gain's)`,
      });
  } else if (!sameJson(p.standingRecipe, previous.standingRecipe))
    violations.push({
      rule: 'promotion-requires-lb-gain',
      detail: 'changes the standing recipe without promoting a candidate whose public-LB gain clears the bar',
    });

  // The threshold is calibrated from noise and may never fall below the constitution's minimum.
  if (p.promotionThreshold < facts.minimumThreshold)
    violations.push({
      rule: 'threshold-below-minimum',
      detail:
        `promotion threshold ${p.promotionThreshold} is below ${facts.minimumThreshold} ` +
        `(${constitution.rules.minThresholdNoiseMultiple} × LB seed std, floored)`,
    });

  // Rotation after the plateau is not optional.
  if (facts.rotationRequired && facts.rotationTarget !== null && p.activeCategory === previous.activeCategory)
    violations.push({
      rule: 'rotation-required',
      detail: `${facts.rotationReason}; the proposal keeps ${previous.activeCategory}`,
    });

  // The dev/LB gap is a calibration signal: after proxy decoupling, raw dev may not stay the objective.
  if (facts.decoupling && p.objective === 'raise-dev-and-lb')
    violations.push({
      rule: 'dev-lb-gap-calibration',
      detail: 'proxy decoupling was flagged this round, yet the objective still rewards raw dev',
    });

  // Consistency (not a meta-rule, but a policy the workers cannot follow is refused too). An active axis may lie
  // outside the active category, as the rule engine's do (a lead keeps its explorers across rotations; a nearly spent
  // category is filled from the next ones): the category says what rotates, the axes what the explorers take.
  const retired = new Set(p.retiredAxes.map((r) => r.axis));
  const bad = p.activeAxes.filter(
    (a) => AXIS_CATEGORY[a] === 'anchor' || !facts.campaignAxes.includes(a) || retired.has(a),
  );
  if (bad.length > 0)
    violations.push({
      rule: 'proposal-invalid',
      detail: `active axes ${bad.join(', ')} are retired, outside the campaign or the baseline`,
    });

  if (violations.length > 0) return { ok: false, violations };

  const promotedId = p.promotedCandidateId;
  const promotedRun = facts.promotions.find((c) => c.pending.candidateId === promotedId)?.run?.candidateId ?? null;
  const { noiseBand, bestPublicLb, predictedBand } = bookkeeping(previous, evidence, constitution, promotedRun);
  const plateauRounds = promotedId !== null || p.activeCategory !== previous.activeCategory ? 0 : facts.plateauRounds;
  const research = researchBookkeeping(previous, evidence, facts, p.standingRecipe, plateauRounds);
  const policy = RollingPolicy.parse({
    revision: previous.revision + 1,
    forRound: evidence.round + 1,
    standingRecipe: p.standingRecipe,
    activeCategory: p.activeCategory,
    activeAxes: p.activeAxes,
    retiredAxes: p.retiredAxes,
    deadEnds: p.deadEnds,
    promotionThreshold: p.promotionThreshold,
    noiseBand,
    anchorSeeds: p.anchorSeeds,
    selectionCriterion: p.selectionCriterion,
    objective: p.objective,
    evidenceRules: p.evidenceRules,
    bestPublicLb,
    plateauRounds,
    predictedBand,
    rationale: p.rationale,
    ...research,
  });
  return { ok: true, policy, changes: diffPolicies(previous, policy), proposal: p };
}
