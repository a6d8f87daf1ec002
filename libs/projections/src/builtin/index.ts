import type { AnyProjection } from '../projection';
import { campaignsProjection } from './campaigns';
import { roundsProjection } from './rounds';
import { candidatesProjection } from './candidates';
import { trajectoryProjection } from './trajectory';
import { jobsProjection } from './jobs';
import { eventCountsProjection } from './event-counts';
import { roundEvidenceProjection } from '@aevo/evidence';
import { policyHistoryProjection } from '@aevo/policy-engine';

/**
 * The round evidence carries measured GPU-seconds (wall time of jobs) and each policy revision names the hash of
 * that evidence, so a disturbed re-run legitimately differs there: both replay byte for byte from the same log
 * (the audit checks that), but they are not compared across runs.
 */
const roundEvidence: AnyProjection = { ...roundEvidenceProjection, deterministic: false } as AnyProjection;
const policyHistory: AnyProjection = { ...policyHistoryProjection, deterministic: false } as AnyProjection;

export {
  campaignsProjection,
  roundsProjection,
  candidatesProjection,
  trajectoryProjection,
  jobsProjection,
  eventCountsProjection,
};
export { DETERMINISTIC_EVENT_TYPES } from './event-counts';
export { roundKey } from './rounds';

/**
 * Projections every replay and audit rebuilds. To add one (policy history, round evidence, …): put it in
 * `libs/projections/src/builtin/<name>.ts` following the rules of `Projection`, give it a spec, and append it here.
 */
export const BUILTIN_PROJECTIONS: readonly AnyProjection[] = [
  campaignsProjection,
  roundsProjection,
  candidatesProjection,
  trajectoryProjection,
  jobsProjection,
  eventCountsProjection,
  roundEvidence,
  policyHistory,
];
