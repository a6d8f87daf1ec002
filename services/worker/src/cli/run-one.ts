import * as fs from 'node:fs';
import { PostgresEventStore } from '@aevo/eventstore';
import {
  EventStoreCandidateLog,
  HeuristicAgent,
  candidateStreamId,
  runCandidate,
  type ForkData,
  type RuntimeHooks,
} from '@aevo/worker-kit';
import type { RollingPolicy } from '@aevo/contracts';
import { LocalPorts } from '../app/candidate-ports';
import { workerSettingsFromEnv } from '../config';

/**
 * Runs one candidate with the heuristic worker in this process, jobs on the local executor under AEVO_HOME:
 *   node dist/cli/run-one.js <inputs.json>     inputs: { campaignId, fork, policy, size? }
 * Resumes from the candidate's trace when it exists (run it again after a crash). With AEVO_WORKER_STEP_GATE=ipc
 * and an IPC channel, it reports every append to its parent and waits for a reply before going on — so a test can
 * SIGKILL it exactly at trace step k.
 */
async function main(): Promise<void> {
  const file = process.argv[2];
  if (!file) throw new Error('usage: run-one <inputs.json>');
  const { campaignId, fork, policy, size } = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    campaignId: string;
    fork: ForkData;
    policy: RollingPolicy;
    size?: string;
  };
  const settings = workerSettingsFromEnv();
  const store = await PostgresEventStore.open({
    connectionString: process.env.AEVO_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    schema: process.env.AEVO_DB_SCHEMA ?? 'aevo',
    poolSize: 2,
  });
  const ports = new LocalPorts(settings);
  let hooks: RuntimeHooks = {};
  if (process.env.AEVO_WORKER_STEP_GATE === 'ipc' && process.send) {
    const waiting: Array<() => void> = [];
    process.on('message', () => waiting.shift()?.());
    hooks = {
      afterAppend: ({ traceEvents, version, lastEvent }) =>
        new Promise<void>((resolve) => {
          waiting.push(resolve);
          process.send!({ traceEvents, version, type: lastEvent.type });
        }),
    };
  }
  try {
    const out = await runCandidate(
      { fork, policy },
      {
        campaignId,
        workerId: settings.workerId,
        agentKind: 'heuristic',
        size: size ?? 'tiny',
        device: settings.device,
        maxWaitSeconds: settings.maxWaitSeconds,
      },
      {
        log: new EventStoreCandidateLog(store, candidateStreamId(fork.candidateId)),
        jobs: ports.jobs(campaignId),
        evaluator: ports.evaluator(campaignId, size ?? 'tiny'),
      },
      new HeuristicAgent(),
      { hooks },
    );
    process.stdout.write(
      JSON.stringify({ outcome: out.kind, status: 'manifest' in out && out.manifest ? out.manifest.status : null }) +
        '\n',
    );
  } finally {
    await ports.close();
    await store.close();
  }
  if (process.connected) process.disconnect();
}

main().catch((err) => {
  process.stderr.write(`run-one: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
