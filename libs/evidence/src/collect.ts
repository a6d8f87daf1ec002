import { RoundEvidence } from '@aevo/contracts';
import { validateInputs, type RoundEvidenceInputs } from './evidence-inputs';
import { roundContext } from './round-context';
import {
  calibration,
  candidateSummaries,
  crossCandidatePatterns,
  designRationaleAudit,
  surprises,
} from './round-sections';

export * from './evidence-inputs';

/** Computes the five-section round evidence. Pure and deterministic: the same inputs give the same record. */
export function collectRoundEvidence(inputs: RoundEvidenceInputs): RoundEvidence {
  validateInputs(inputs);
  const ctx = roundContext(inputs);
  const summaries = candidateSummaries(ctx);
  const evidence: RoundEvidence = {
    campaignId: inputs.campaignId,
    round: inputs.round,
    policyRevision: inputs.policy.revision,
    anchorCandidateId: ctx.anchor?.planned.candidateId ?? null,
    candidateSummaries: summaries,
    crossCandidatePatterns: crossCandidatePatterns(ctx, summaries),
    calibration: calibration(ctx, summaries),
    surprises: surprises(ctx, summaries),
    designRationaleAudit: designRationaleAudit(ctx, summaries),
    prose: null,
  };
  // The record must satisfy its own schema; a failure here is a bug in this function, not bad input.
  return RoundEvidence.parse(evidence);
}
