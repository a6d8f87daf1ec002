import { z } from 'zod';
import { Axis, AxisCategory, RecipeChange } from './recipe';
import { FailureMode, ScoreVector } from './manifest';
import { PrescribedRun } from './research';

const NoiseUnits = z
  .number()
  .nullable()
  .describe('difference to the anchor in units of the noise band (std); null when unknown');
const Delta = z
  .number()
  .nullable()
  .describe('raw difference to the anchor (candidate − anchor); null when either side is unknown');

export const SubmissionOutcome = z
  .object({
    submissionId: z.string().nullable(),
    status: z.enum(['scored', 'rejected', 'pending', 'not-submitted']),
    detail: z.string().nullable(),
  })
  .strict();

export const CandidateSummary = z
  .object({
    candidateId: z.string(),
    /** Position in the round's plan (RoundStarted.candidates[].index). */
    index: z.number().int().min(0),
    axis: Axis,
    isAnchor: z.boolean(),
    /** 'missing': no manifest arrived before the collection deadline. */
    status: z.enum(['completed', 'failed', 'invalidated', 'missing']),
    seeds: z.array(z.number().int()),
    diffLines: z.number().int().min(0),
    recipeChanges: z.array(RecipeChange),
    filesChanged: z.array(z.string()),
    chosenCheckpoint: z.string().nullable(),
    dev: ScoreVector.nullable(),
    publicLb: z.number().nullable(),
    publicLbDomains: z.record(z.string(), z.number()).nullable(),
    submission: SubmissionOutcome,
    cost: z.object({ gpuSeconds: z.number().min(0), tokens: z.number().int().min(0) }).strict(),
    failureModes: z.array(FailureMode),
    devDelta: Delta,
    lbDelta: Delta,
    devVsAnchor: NoiseUnits,
    lbVsAnchor: NoiseUnits,
    /** The plan's prescribed change (confirmation run or decoupling probe); absent for anchors and explorers. */
    prescribed: PrescribedRun.optional(),
  })
  .strict();
export type CandidateSummary = z.infer<typeof CandidateSummary>;

export const AxisPattern = z
  .object({
    axis: Axis,
    category: AxisCategory,
    candidates: z.number().int().min(0),
    candidateIds: z.array(z.string()),
    /** Mean raw difference to the anchor over the axis's candidates that have the score. */
    devEffect: z.number().nullable(),
    lbEffect: z.number().nullable(),
    devBeyondNoise: z.boolean(),
    lbBeyondNoise: z.boolean(),
  })
  .strict();
export type AxisPattern = z.infer<typeof AxisPattern>;

export const Interaction = z
  .object({
    axes: z.array(Axis).min(1),
    kind: z.enum(['complementary-lb-gains', 'shared-recipe-path', 'dev-lb-conflict']),
    candidateIds: z.array(z.string()),
    note: z.string(),
  })
  .strict();
export type Interaction = z.infer<typeof Interaction>;

export const NoiseEstimate = z
  .object({
    devStd: z.number().min(0),
    /** 'pooled': this round's anchor seeds pooled with the policy's band (degrees of freedom add up). */
    devSource: z.enum(['anchor-seeds', 'pooled', 'policy', 'floor']),
    /** Degrees of freedom behind devStd (0: not measured). */
    devDf: z.number().int().min(0),
    lbStd: z.number().min(0),
    /**
     * 'anchor-seeds'/'pooled': from several public-LB scores of the anchor (one per seed); 'dev-proxy': LB seed
     * noise never measured, the dev std stands in for it.
     */
    lbSource: z.enum(['anchor-seeds', 'pooled', 'policy', 'dev-proxy', 'floor', 'anchor-replicates']),
    lbDf: z.number().int().min(0),
    /**
     * Noise of a paired LB difference (explorer − its round's anchor), what promotions are judged against:
     * 'confirmation-pairs': from the two measurements of each confirmed-or-not gain (df = pairs so far);
     * 'replicates': √2 × the LB replicate std (an unpaired bound); 'dev-proxy'/'floor': stand-ins with df 0.
     * Absent in evidence recorded before paired designs.
     */
    lbDiffStd: z.number().min(0).optional(),
    lbDiffDf: z.number().int().min(0).optional(),
    lbDiffSource: z.enum(['confirmation-pairs', 'replicates', 'dev-proxy', 'floor']).optional(),
    /** This round's anchor LB scores, each a replicate of the standing recipe (the policy keeps them all). */
    lbReplicatesAdded: z
      .array(
        z
          .object({
            round: z.number().int().min(1),
            candidateId: z.string(),
            recipeSha256: z.string(),
            score: z.number(),
          })
          .strict(),
      )
      .optional(),
    /** Anchor seeds measured this round (0 or 1: not measured this round). */
    seeds: z.number().int().min(0),
    /** Floor applied to both stds before any "beyond noise" test (constitution noiseStdFloor). */
    floor: z.number().min(0),
    /**
     * A difference is "beyond noise" when it exceeds multiple × max(std, floor) (constitution decouplingNoiseMultiple).
     */
    multiple: z.number().positive(),
    /** Per-domain dev std used for per-domain tests: measured across anchor seeds, floored at floor·√(domains). */
    domainDevStd: z.record(z.string(), z.number().min(0)),
  })
  .strict();
export type NoiseEstimate = z.infer<typeof NoiseEstimate>;

export const DomainCalibration = z
  .object({
    domain: z.string(),
    /** The non-anchor scored candidate with the largest dev gain in this domain (null when none). */
    candidateId: z.string().nullable(),
    devGain: z.number(),
    lbGain: z.number().nullable(),
    devBeyondNoise: z.boolean(),
    lbBeyondNoise: z.boolean().nullable(),
  })
  .strict();
export type DomainCalibration = z.infer<typeof DomainCalibration>;

export const Calibration = z
  .object({
    noise: NoiseEstimate,
    /** Mean (dev overall − public LB) over the round's scored candidates. */
    devLbGap: z.number().nullable(),
    anchorDevLbGap: z.number().nullable(),
    scoredCandidates: z.number().int().min(0),
    /** Spearman rank correlation of dev and public LB across scored candidates (null below 3 or without variance). */
    rankCorrelation: z.number().min(-1).max(1).nullable(),
    perDomain: z.array(DomainCalibration),
    /**
     * What the candidates were compared with: the anchor's dev, and its public LB (or the policy's best when the anchor
     * has none).
     */
    reference: z
      .object({
        dev: z.number().nullable(),
        publicLb: z.number().nullable(),
        publicLbSource: z.enum(['anchor', 'standing-replicates', 'policy-best', 'none']),
      })
      .strict(),
    proxyDecoupling: z
      .object({
        flagged: z.boolean(),
        candidates: z.array(z.string()),
        domains: z.array(z.string()),
        reason: z.string(),
      })
      .strict(),
  })
  .strict();
export type Calibration = z.infer<typeof Calibration>;

export const Band = z.object({ low: z.number(), high: z.number() }).strict();
export type Band = z.infer<typeof Band>;

export const Surprise = z
  .object({
    candidateId: z.string(),
    metric: z.enum(['dev', 'publicLb']),
    expectedLow: z.number(),
    expectedHigh: z.number(),
    observed: z.number(),
    direction: z.enum(['above', 'below']),
    note: z.string(),
  })
  .strict();
export type Surprise = z.infer<typeof Surprise>;

export const RationaleAudit = z
  .object({
    onAxis: z.array(
      z
        .object({ candidateId: z.string(), axis: Axis, stayedOnAxis: z.boolean(), offAxisPaths: z.array(z.string()) })
        .strict(),
    ),
    frozenPathChecks: z.array(
      z.object({ candidateId: z.string(), ok: z.boolean(), violations: z.array(z.string()) }).strict(),
    ),
    budget: z
      .object({
        gpuSeconds: z.number().min(0),
        tokens: z.number().int().min(0),
        submissions: z.number().int().min(0),
        /** Use by this and every earlier round of the campaign. */
        campaignGpuSeconds: z.number().min(0),
        campaignTokens: z.number().int().min(0),
        gpuSecondsLimit: z.number().min(0).nullable(),
        tokensLimit: z.number().int().min(0).nullable(),
        submissionsLimit: z.number().int().min(0).nullable(),
        overBudget: z.array(z.enum(['gpuSeconds', 'tokens', 'submissions'])),
      })
      .strict(),
  })
  .strict();
export type RationaleAudit = z.infer<typeof RationaleAudit>;

export const EVIDENCE_SECTIONS = [
  'candidateSummaries',
  'crossCandidatePatterns',
  'calibration',
  'surprises',
  'designRationaleAudit',
] as const;
export type EvidenceSection = (typeof EVIDENCE_SECTIONS)[number];

/** Prose per section from an optional LLM pass; it never changes the numbers. */
export const EvidenceProse = z
  .object({
    candidateSummaries: z.string(),
    crossCandidatePatterns: z.string(),
    calibration: z.string(),
    surprises: z.string(),
    designRationaleAudit: z.string(),
  })
  .partial()
  .strict();
export type EvidenceProse = z.infer<typeof EvidenceProse>;

/** The fixed five-section record of a round; the schema never changes between rounds. */
export const RoundEvidence = z
  .object({
    campaignId: z.string(),
    round: z.number().int().min(1),
    policyRevision: z.number().int().min(0),
    anchorCandidateId: z.string().nullable(),
    candidateSummaries: z.array(CandidateSummary),
    crossCandidatePatterns: z.object({ axes: z.array(AxisPattern), interactions: z.array(Interaction) }).strict(),
    calibration: Calibration,
    surprises: z.array(Surprise),
    designRationaleAudit: RationaleAudit,
    prose: EvidenceProse.nullable(),
  })
  .strict();
export type RoundEvidence = z.infer<typeof RoundEvidence>;
