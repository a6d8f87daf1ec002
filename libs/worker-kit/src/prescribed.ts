import type { PrescribedRun } from '@aevo/contracts';

/** The submit_manifest tool's limit on a hypothesis. */
const MAX_HYPOTHESIS = 4000;

/** A prescribed run's hypothesis (confirmation run or decoupling probe) as the manifest takes it. */
export function prescribedHypothesis(p: PrescribedRun): string {
  return p.hypothesis.length <= MAX_HYPOTHESIS ? p.hypothesis : `${p.hypothesis.slice(0, MAX_HYPOTHESIS - 1)}…`;
}
