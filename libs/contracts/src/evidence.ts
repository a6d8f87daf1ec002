import { z } from 'zod';
import { Axis, AxisCategory } from './recipe';
import { FailureMode, ScoreVector } from './manifest';

const NoiseUnits = z.number().nullable().describe('difference to the anchor in units of the noise band (std); null when unknown');

export const CandidateSummary = z
  .object({
    candidateId: z.string(),
    axis: Axis,
    isAnchor: z.boolean(),
    status: z.enum(['completed', 'failed', 'invalidated']),
    diffLines: z.number().int().min(0),
    dev: ScoreVector.nullable(),
    publicLb: z.number().nullable(),
    cost: z.object({ gpuSeconds: z.number().min(0), tokens: z.number().int().min(0) }).strict(),
    failureModes: z.array(FailureMode),
    devVsAnchor: NoiseUnits,
    lbVsAnchor: NoiseUnits,
  })
  .strict();

export const AxisPattern = z
  .object({
    axis: Axis,
    category: AxisCategory,
    candidates: z.number().int().min(0),
    devEffect: z.number().nullable(),
    lbEffect: z.number().nullable(),
    devBeyondNoise: z.boolean(),
    lbBeyondNoise: z.boolean(),
  })
  .strict();

export const Calibration = z
  .object({
    devLbGap: z.number().nullable(),
    rankCorrelation: z.number().min(-1).max(1).nullable(),
    perDomain: z.array(z.object({ domain: z.string(), devGain: z.number(), lbGain: z.number().nullable() }).strict()),
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

export const Surprise = z
  .object({
    candidateId: z.string(),
    metric: z.enum(['dev', 'publicLb']),
    expectedLow: z.number(),
    expectedHigh: z.number(),
    observed: z.number(),
    note: z.string(),
  })
  .strict();

export const RationaleAudit = z
  .object({
    onAxis: z.array(z.object({ candidateId: z.string(), axis: Axis, stayedOnAxis: z.boolean(), offAxisPaths: z.array(z.string()) }).strict()),
    frozenPathChecks: z.array(z.object({ candidateId: z.string(), ok: z.boolean(), violations: z.array(z.string()) }).strict()),
    budget: z
      .object({
        gpuSeconds: z.number().min(0),
        tokens: z.number().int().min(0),
        submissions: z.number().int().min(0),
        gpuSecondsLimit: z.number().min(0).nullable(),
        tokensLimit: z.number().int().min(0).nullable(),
        submissionsLimit: z.number().int().min(0).nullable(),
      })
      .strict(),
  })
  .strict();

/** The fixed five-section record of a round; the schema never changes between rounds. */
export const RoundEvidence = z
  .object({
    campaignId: z.string(),
    round: z.number().int().min(1),
    policyRevision: z.number().int().min(0),
    candidateSummaries: z.array(CandidateSummary),
    crossCandidatePatterns: z.object({ axes: z.array(AxisPattern), interactions: z.array(z.string()) }).strict(),
    calibration: Calibration,
    surprises: z.array(Surprise),
    designRationaleAudit: RationaleAudit,
    /** Optional prose per section from an LLM pass; never changes the numbers. */
    prose: z.record(z.string(), z.string()).nullable(),
  })
  .strict();
export type RoundEvidence = z.infer<typeof RoundEvidence>;
