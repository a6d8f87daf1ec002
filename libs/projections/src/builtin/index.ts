import type { AnyProjection } from '../projection';
import { campaignsProjection } from './campaigns';
import { roundsProjection } from './rounds';
import { candidatesProjection } from './candidates';
import { trajectoryProjection } from './trajectory';
import { jobsProjection } from './jobs';
import { eventCountsProjection } from './event-counts';

export { campaignsProjection, roundsProjection, candidatesProjection, trajectoryProjection, jobsProjection, eventCountsProjection };
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
];
