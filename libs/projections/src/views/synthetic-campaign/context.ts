import type {
  Axis,
  DecouplingHypothesis,
  EventDefinition,
  PrescribedRun,
  RecipeChange,
  RollingPolicy,
  ServiceName,
} from '@aevo/contracts';
import type { z } from 'zod';

/** Appends one event, built through its contract schema, to the synthetic log. */
export type Emit = <D extends EventDefinition>(
  def: D,
  data: z.input<D['data']>,
  streamId: string,
  source: ServiceName,
) => void;

/** What stays fixed for one synthetic campaign; `rnd` is its one seeded source, drawn in log order. */
export interface SyntheticContext {
  campaignId: string;
  rounds: number;
  seed: number;
  traceSteps: number;
  rnd: () => number;
  ev: Emit;
  campaignStream: string;
  snapshotId: string;
}

export interface UnsealedScore {
  submissionId: string;
  candidateId: string;
  round: number;
  publicScore: number;
  privateScore: number;
}

export interface BestSubmission {
  candidateId: string;
  round: number;
  submissionId: string;
  publicLb: number;
  privateLb: number;
}

/** What the campaign carries from round to round. */
export interface CampaignProgress {
  policy: RollingPolicy;
  /** The toy surface's standing dev and leaderboard level, lifted by each promotion. */
  base: { dev: number; lb: number };
  hypothesis: DecouplingHypothesis | null;
  unsealed: UnsealedScore[];
  best: BestSubmission | null;
  spent: { gpuSeconds: number; llmTokens: number };
}

export interface PlannedCandidate {
  candidateId: string;
  index: number;
  axis: Axis;
  isAnchor: boolean;
  seeds: number[];
  prescribed?: PrescribedRun;
}

export interface SyntheticCheckpoint {
  checkpoint: string;
  step: number;
  seed: number;
  dev: { overall: number; domains: Record<string, number> };
}

/** A candidate that reached a chosen checkpoint, with its leaderboard score on the toy surface. */
export interface CandidateResult {
  candidateId: string;
  axis: Axis;
  isAnchor: boolean;
  dev: number | null;
  lb: number;
  domains: Record<string, number>;
  changes: RecipeChange[];
  checkpoint: string;
}
