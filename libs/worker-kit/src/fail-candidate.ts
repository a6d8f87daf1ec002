import { handle } from '@aevo/eventstore';
import type { ResultManifest } from '@aevo/contracts';
import { candidateStreamDecider } from './domain/candidate-stream';
import { buildManifest } from './manifest-builder';
import type { WorkerConfig, WorkerInputs } from './ports';
import { WorkerRuntime, type RuntimePorts } from './runtime';
import { summarise } from './summary';
import { candidateStreamId, type TraceState } from './trace';

/**
 * Ends a candidate that cannot be worked (its inputs do not validate, its sandbox is unusable, its policy is
 * unknown, or it failed on every delivery): through the runtime when it opens (the failure lands at the end of the
 * trace), otherwise by appending WorkerFailed — and a failed manifest when the policy is known — directly.
 * Does nothing to a finished candidate.
 */
export async function failCandidate(
  inputs: { fork: WorkerInputs['fork']; policy: WorkerInputs['policy'] | null },
  config: WorkerConfig,
  ports: RuntimePorts,
  reason: string,
): Promise<void> {
  if (inputs.policy) {
    try {
      const rt = await WorkerRuntime.open({ fork: inputs.fork, policy: inputs.policy }, config, ports);
      if (!rt.finished) await rt.abandon(reason);
      return;
    } catch {
      // fall through: record the failure without a runtime
    }
  }
  const { fork } = inputs;
  const ctx = {
    candidateId: fork.candidateId,
    campaignId: config.campaignId,
    streamId: candidateStreamId(fork.candidateId),
    source: 'worker' as const,
    causationId: config.forkEventId ?? null,
    correlationId: fork.candidateId,
    now: config.now,
  };
  await handle(ports.log.store, ports.log.streamId, candidateStreamDecider(ctx), ({ trace }) =>
    trace.finished
      ? null
      : {
          commands: [
            {
              kind: 'Fail' as const,
              candidateId: fork.candidateId,
              round: fork.round,
              reason,
              manifest: failedManifest(trace),
            },
          ],
        },
  );

  function failedManifest(trace: TraceState): ResultManifest | undefined {
    if (!inputs.policy) return undefined;
    try {
      const summary = summarise(trace.steps);
      summary.failureModes.push({ kind: 'agent-error', detail: reason });
      return buildManifest(
        { fork, policy: inputs.policy },
        config,
        summary,
        { length: trace.steps.length, jobsRequested: trace.jobsRequested.size },
        { status: 'failed', hypothesis: '', reason },
      );
    } catch {
      // the inputs themselves are what does not validate: WorkerFailed alone says so
      return undefined;
    }
  }
}
