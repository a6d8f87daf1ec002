import { z } from 'zod';
import { Axis, AxisCategory, RecipeDocument, JsonValue } from './recipe';
import { Sha256 } from './ids';
import { Band } from './evidence';
import {
  CombinationPlan,
  DecouplingHypothesis,
  MoveRecord,
  PendingConfirmation,
  SearchHints,
  StandingLb,
} from './research';

/** The meta-rules, fixed for a campaign (hash pinned in CampaignStarted). The meta agent can only read it. */
export const ConstitutionRules = z
  .object({
    leaderboardAuthoritative: z.literal(true),
    /** Rounds without a public-LB gain above threshold before the active axis category must rotate. */
    plateauRoundsBeforeRotation: z.number().int().min(1),
    deadEndRegistryOnlyGrows: z.literal(true),
    /** Promotion needs an LB gain above the rolling policy's threshold. */
    promotionRequiresLbGain: z.literal(true),
    /** The promotion threshold may never fall below this multiple of the anchor's LB seed std. */
    minThresholdNoiseMultiple: z.number().positive(),
    /** Dev gain beyond this multiple of the dev noise, with LB within noise, flags proxy decoupling. */
    decouplingNoiseMultiple: z.number().positive(),
    /**
     * Stand-in for a seed std that could not be measured (fewer than two anchor seeds) and the floor under a
     * measured one, so that a single lucky seed never makes every difference "beyond noise".
     */
    noiseStdFloor: z.number().positive().default(0.005),
    maxSubmissionsPerRound: z.number().int().min(1).optional(),
  })
  .strict();
export type ConstitutionRules = z.infer<typeof ConstitutionRules>;

export const Constitution = z
  .object({
    name: z.string().min(1),
    version: z.string().min(1),
    /** The frozen system prompt of the meta agent. */
    text: z.string().min(1),
    rules: ConstitutionRules,
  })
  .strict();
export type Constitution = z.infer<typeof Constitution>;

export const DeadEnd = z
  .object({
    id: z.string().min(1),
    /** Human-readable entry of "Don't waste budget on". */
    description: z.string().min(1),
    axis: Axis,
    /** The recipe path and direction that failed, so workers can avoid it mechanically. */
    path: z.string().optional(),
    direction: z.enum(['increase', 'decrease', 'set']).optional(),
    value: JsonValue.optional(),
    round: z.number().int().min(0),
    candidateId: z.string().optional(),
    evidence: z.string().min(1),
  })
  .strict();
export type DeadEnd = z.infer<typeof DeadEnd>;

export const EvidenceRule = z
  .object({
    id: z.string().min(1),
    rule: z.string().min(1),
    since: z.number().int().min(0),
    reason: z.string().min(1),
  })
  .strict();
export type EvidenceRule = z.infer<typeof EvidenceRule>;

export const SelectionCriterion = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('mean') }).strict(),
  z.object({ kind: z.literal('reweighted'), weights: z.record(z.string(), z.number().min(0)) }).strict(),
]);
export type SelectionCriterion = z.infer<typeof SelectionCriterion>;

/** The only artifact the meta agent rewrites: what the next round's forks inherit and how they search. */
export const RollingPolicy = z
  .object({
    revision: z.number().int().min(0),
    /** The round this policy steers (revision r is derived from the evidence of round r). */
    forRound: z.number().int().min(1),
    standingRecipe: RecipeDocument,
    activeCategory: AxisCategory,
    activeAxes: z.array(Axis).min(1),
    retiredAxes: z.array(z.object({ axis: Axis, round: z.number().int().min(0), reason: z.string() }).strict()),
    deadEnds: z.array(DeadEnd),
    promotionThreshold: z.number().min(0),
    /**
     * Seed noise of the standing recipe: stds pooled over every anchor measurement so far, with their degrees of
     * freedom (absent: seeds − 1 for dev, 0 — never measured — for LB).
     */
    noiseBand: z
      .object({
        devStd: z.number().min(0),
        lbStd: z.number().min(0),
        seeds: z.number().int().min(0),
        round: z.number().int().min(0),
        devDf: z.number().int().min(0).optional(),
        lbDf: z.number().int().min(0).optional(),
        /**
         * Noise of an explorer's paired LB difference to its anchor, measured from confirmation pairs (absent: never).
         */
        lbDiffStd: z.number().min(0).optional(),
        lbDiffDf: z.number().int().min(0).optional(),
      })
      .strict(),
    anchorSeeds: z.number().int().min(1),
    selectionCriterion: SelectionCriterion,
    objective: z.enum(['raise-dev-and-lb', 'transfer-to-lb']),
    evidenceRules: z.array(EvidenceRule),
    /** Best public LB seen so far and the rounds since it last improved beyond threshold. */
    bestPublicLb: z.number().nullable(),
    plateauRounds: z.number().int().min(0),
    /**
     * Where the policy expects next round's results (dev overall and public LB of a candidate); the collector
     * lists results outside it as surprises. Absent: the anchor of the round ± the noise band.
     */
    predictedBand: z.object({ dev: Band.nullable(), publicLb: Band.nullable(), basis: z.string() }).strict().optional(),
    rationale: z.string(),
    /** Gains that cleared the bar once and are re-measured on another seed before promotion (absent: none). */
    pendingConfirmations: z.array(PendingConfirmation).optional(),
    /** Decoupling hypotheses, open and decided (absent: none). */
    decouplingHypotheses: z.array(DecouplingHypothesis).optional(),
    /** Move sizes and combinations the workers may use (absent: one knob, usual steps). */
    searchHints: SearchHints.optional(),
    /** The standing recipe's public-LB replicates (absent: none yet). */
    standingLb: StandingLb.optional(),
    /**
     * Dev leads waiting to be trained together (two or more: this round runs them as one prescribed run; absent or
     * null: none).
     */
    combination: CombinationPlan.nullable().optional(),
    /** Single-knob moves of the campaign and their paired dev gains (absent: none recorded). */
    moveLedger: z.array(MoveRecord).optional(),
  })
  .strict();
export type RollingPolicy = z.infer<typeof RollingPolicy>;

export const PolicyRef = z.object({ revision: z.number().int().min(0), sha256: Sha256 }).strict();
