import { z } from 'zod';
import { defineEvent } from '../envelope';
import { JobSpec } from './dispatch';

/**
 * A request to dispatch, not one of dispatch's facts: each service that needs an entrypoint run records it in its
 * own stream (worker: candidate, evaluation: request, leaderboard: submission), and dispatch consumes it. Dispatch
 * owns only what follows (JobQueued … the terminal event).
 */
export const JobRequested = defineEvent(
  'JobRequested',
  { owners: ['worker', 'evaluation', 'leaderboard'], description: 'A service asked dispatch to run an entrypoint.' },
  z.object({ spec: JobSpec }).strict(),
);
