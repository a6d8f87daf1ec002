import * as fs from 'node:fs';
import * as path from 'node:path';
import { createEvent, JobRequested, type EventEnvelope, type JobSpec } from '@aevo/contracts';
import type { EventStore, StoredEvent } from '@aevo/eventstore';
import { forkJobSandbox, writeJobSnapshot } from '@aevo/executors';
import { jobStreamId } from '../src/domain/job';

export const CAMPAIGN = 'camp-dispatch';

/** Where a test's jobs run: a snapshot under AEVO_HOME and a sandbox forked from it, whose `out/` jobs may write. */
export interface JobHome {
  home: string;
  sandbox: string;
  snapshotId: string;
  /** The sandbox's one writable directory. */
  out: string;
}

export function prepareJobHome(home: string, sandboxName = 'c0'): JobHome {
  fs.mkdirSync(home, { recursive: true });
  const { snapshotId, snapshotPath } = writeJobSnapshot(home);
  const sandbox = forkJobSandbox(snapshotPath, path.join(home, 'sandboxes', sandboxName));
  const out = path.join(sandbox, 'out');
  fs.mkdirSync(out, { recursive: true });
  return { home, sandbox, snapshotId, out };
}

export function jobSpec(
  jobId: string,
  where: Pick<JobHome, 'sandbox' | 'snapshotId'>,
  script: string,
  over: Partial<JobSpec> = {},
): JobSpec {
  return {
    jobId,
    candidateId: `${CAMPAIGN}-r1-c0`,
    round: 1,
    entrypoint: 'train',
    sandboxPath: where.sandbox,
    argv: ['sh', '-c', script],
    env: {},
    resources: { cpu: 1, memoryMiB: 128, gpu: 0 },
    timeoutSeconds: 120,
    priority: 'normal',
    isolation: { snapshotId: where.snapshotId, outputs: ['out'], inputs: [] },
    ...over,
  };
}

/** JobRequested as the worker records it, in the candidate's stream. */
export function jobRequested(spec: JobSpec): EventEnvelope {
  return createEvent(
    JobRequested,
    { spec },
    { campaignId: CAMPAIGN, streamId: `candidate-${spec.candidateId}`, source: 'worker' },
  );
}

export async function jobEvents(store: EventStore, jobId: string): Promise<StoredEvent[]> {
  return store.readStream(jobStreamId(jobId));
}

export const TERMINAL = new Set(['JobSucceeded', 'JobFailed', 'JobCancelled']);

export async function terminalOf(store: EventStore, jobId: string): Promise<StoredEvent | undefined> {
  return (await jobEvents(store, jobId)).find((e) => TERMINAL.has(e.type));
}
