import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { createEvent, JobRequested, type EventEnvelope, type JobSpec } from '@aevo/contracts';
import type { EventStore, StoredEvent } from '@aevo/eventstore';
import type { TestNatsNames } from '@aevo/testkit';
import { jobStreamId } from '../src/domain/job';

export const CAMPAIGN = 'camp-dispatch';

export function jobSpec(jobId: string, sandbox: string, script: string, over: Partial<JobSpec> = {}): JobSpec {
  return {
    jobId,
    candidateId: `${CAMPAIGN}-r1-c0`,
    round: 1,
    entrypoint: 'train',
    sandboxPath: sandbox,
    argv: ['sh', '-c', script],
    env: {},
    resources: { cpu: 1, memoryMiB: 128, gpu: 0 },
    timeoutSeconds: 120,
    priority: 'normal',
    ...over,
  };
}

/** JobRequested as the worker records it, in the candidate's stream. */
export function jobRequested(spec: JobSpec): EventEnvelope {
  return createEvent(JobRequested, { spec }, { campaignId: CAMPAIGN, streamId: `candidate-${spec.candidateId}`, source: 'worker' });
}

export async function jobEvents(store: EventStore, jobId: string): Promise<StoredEvent[]> {
  return store.readStream(jobStreamId(jobId));
}

export const TERMINAL = new Set(['JobSucceeded', 'JobFailed', 'JobCancelled']);

export async function terminalOf(store: EventStore, jobId: string): Promise<StoredEvent | undefined> {
  return (await jobEvents(store, jobId)).find((e) => TERMINAL.has(e.type));
}

export async function deleteStream(names: TestNatsNames): Promise<void> {
  const nc = await connect({ servers: names.url });
  await (await jetstreamManager(nc)).streams.delete(names.stream).catch(() => undefined);
  await nc.close();
}
