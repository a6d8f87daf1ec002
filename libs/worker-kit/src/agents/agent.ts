import type { WorkerRuntime } from '../runtime';

/** A worker agent drives one candidate through the runtime's tools until it has submitted a manifest. */
export interface WorkerAgent {
  readonly kind: 'heuristic' | 'claude';
  run(runtime: WorkerRuntime): Promise<void>;
}
