import { DomainError, ManifestSubmitted, WorkerFailed, describeIssues, type ResultManifest } from '@aevo/contracts';
import { buildManifest, type Submission } from '../manifest-builder';
import type { CandidateEvent } from '../trace';
import type { ToolHost } from './host';
import { fail, okOut, type StepOutcome } from './outcome';

/** submit_manifest (and the runtime's finalize): the result manifest assembled from the trace and validated. */
export function submitManifest(host: ToolHost, k: number, sub: Submission): StepOutcome {
  if (host.trace.finished) return fail('FINISHED', 'the candidate is already finished');
  let manifest: ResultManifest;
  try {
    manifest = buildManifest(
      host.inputs,
      host.config,
      host.summary(),
      { length: k + 1, jobsRequested: host.trace.jobsRequested.size },
      sub,
    );
  } catch (err) {
    if (err instanceof DomainError)
      return fail(err.code, `${err.message}: ${describeIssues(err.issues)}`, { issues: err.issues });
    throw err;
  }
  const round = host.inputs.fork.round;
  const events: CandidateEvent[] = [];
  if (manifest.status === 'failed')
    events.push({
      type: WorkerFailed.type,
      data: { candidateId: host.candidateId, round, reason: sub.reason, step: k },
    });
  events.push({ type: ManifestSubmitted.type, data: { candidateId: host.candidateId, round, manifest } });
  return okOut({ manifest }, events);
}
