import {
  DomainError,
  type Axis,
  type ConstitutionRules,
  type IssueDetail,
  type PrescribedRun,
  type ResultManifest,
  type RollingPolicy,
} from '@aevo/contracts';
import type { AxisPathPatterns } from './axis-paths';

export interface PlannedCandidateInput {
  candidateId: string;
  index: number;
  axis: Axis;
  isAnchor: boolean;
  seeds: number[];
  prescribed?: PrescribedRun;
}
export interface SubmissionInput {
  submissionId: string;
  candidateId: string;
}
export interface ScoreInput {
  submissionId: string;
  candidateId: string;
  publicScore: number;
  publicDomains: Record<string, number> | null;
}
export interface RejectionInput {
  submissionId: string;
  candidateId: string;
  reason: string;
  message: string;
}
export interface ViolationInput {
  candidateId: string;
  path: string;
  kind: string;
  detail: string;
}
export interface BudgetLimits {
  gpuSeconds: number;
  llmTokens: number;
  submissionsPerRound: number;
}

/** Everything one round's evidence is computed from; the collector service folds it from the log. */
export interface RoundEvidenceInputs {
  campaignId: string;
  round: number;
  /** The policy in force during the round (its noise band and predicted band). */
  policy: RollingPolicy;
  rules: Pick<ConstitutionRules, 'decouplingNoiseMultiple' | 'noiseStdFloor'>;
  planned: PlannedCandidateInput[];
  manifests: ResultManifest[];
  submissions: SubmissionInput[];
  scores: ScoreInput[];
  rejections: RejectionInput[];
  violations: ViolationInput[];
  budgets: BudgetLimits | null;
  /** Campaign use before this round. */
  previousUse: { gpuSeconds: number; tokens: number };
  recipeFile?: string;
  axisPatterns?: AxisPathPatterns;
}

export function validateInputs(i: RoundEvidenceInputs): void {
  const issues: IssueDetail[] = [];
  if (!Number.isInteger(i.round) || i.round < 1)
    issues.push({ path: 'round', message: `expected a round ≥ 1, got ${i.round}` });
  if (!(i.rules.decouplingNoiseMultiple > 0))
    issues.push({ path: 'rules.decouplingNoiseMultiple', message: 'expected a positive number' });
  if (!(i.rules.noiseStdFloor > 0)) issues.push({ path: 'rules.noiseStdFloor', message: 'expected a positive number' });
  const planned = new Set<string>();
  i.planned.forEach((p, k) => {
    if (planned.has(p.candidateId))
      issues.push({ path: `planned.${k}.candidateId`, message: `candidate ${p.candidateId} is planned twice` });
    planned.add(p.candidateId);
  });
  i.manifests.forEach((m, k) => {
    if (m.round !== i.round)
      issues.push({
        path: `manifests.${k}.round`,
        message: `manifest of ${m.candidateId} is for round ${m.round}, not ${i.round}`,
      });
    if (m.campaignId !== i.campaignId)
      issues.push({
        path: `manifests.${k}.campaignId`,
        message: `manifest of ${m.candidateId} belongs to campaign ${m.campaignId}, not ${i.campaignId}`,
      });
    if (!planned.has(m.candidateId))
      issues.push({
        path: `manifests.${k}.candidateId`,
        message: `${m.candidateId} is not a planned candidate of round ${i.round}`,
      });
  });
  i.scores.forEach((s, k) => {
    if (!(s.publicScore >= 0 && s.publicScore <= 1))
      issues.push({ path: `scores.${k}.publicScore`, message: `expected a score in [0, 1], got ${s.publicScore}` });
  });
  if (issues.length > 0)
    throw new DomainError('INVALID_EVIDENCE_INPUTS', `round ${i.round} evidence inputs are inconsistent`, issues);
}
