import { cpSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobSpec } from '@aevo/contracts';
import { writeSubstrateFixture } from '@aevo/substrate-kit';
import { eventually } from '@aevo/testkit';
import { FakeKubeApiServer } from '../src/testing/fake-kube-api';
import type { ExecutorEvent, JobOutcome } from '../src/types';
import { kubeConfigFor } from '../src/kubernetes/client';
import { KubernetesExecutor } from '../src/kubernetes/kubernetes-executor';

/** Any 64-hex id names a snapshot directory; planIsolation reads the substrate there. */
export const SNAPSHOT = 'ab'.repeat(32);

export interface KubeTestState {
  fake: FakeKubeApiServer;
  home: string;
  sandbox: string;
}

/**
 * The Kubernetes executor specs' set-up: before each test a loopback API server and an AEVO_HOME with a snapshot and
 * a sandbox; after it, every executor started is closed, the server stopped and the home removed.
 */
export function useFakeKube() {
  let state = {} as KubeTestState;
  const executors: KubernetesExecutor[] = [];

  beforeEach(async () => {
    const fake = new FakeKubeApiServer();
    await fake.start();
    const home = realpathSync(mkdtempSync(join(tmpdir(), 'aevo-k8s-exec-')));
    writeSubstrateFixture(join(home, 'snapshots', SNAPSHOT));
    const sandbox = join(home, 'sandboxes', 'camp1-r2-c3');
    cpSync(join(home, 'snapshots', SNAPSHOT), sandbox, { recursive: true });
    state = { fake, home, sandbox };
  });

  afterEach(async () => {
    for (const e of executors.splice(0)) await e.close();
    await state.fake.stop();
    rmSync(state.home, { recursive: true, force: true });
  });

  const spec = (jobId: string, over: Partial<JobSpec> = {}): JobSpec => ({
    jobId,
    candidateId: 'camp1-r2-c3',
    round: 2,
    entrypoint: 'train',
    sandboxPath: state.sandbox,
    argv: ['python', 'harness/train.py', '--recipe', 'recipe.yaml'],
    env: { AEVO_SEED: '7' },
    resources: { cpu: 4, memoryMiB: 16384, gpu: 2 },
    timeoutSeconds: 3600,
    priority: 'high',
    isolation: { snapshotId: SNAPSHOT, outputs: ['checkpoints'], inputs: [] },
    ...over,
  });

  const start = (over: Partial<ConstructorParameters<typeof KubernetesExecutor>[0]> = {}) => {
    const errors: Array<{ err: unknown; context: string }> = [];
    const ex = new KubernetesExecutor({
      kubeConfig: kubeConfigFor(state.fake.url, 'secret-token'),
      namespace: 'aevo-jobs',
      image: 'registry.example/aevo-substrate:1',
      queueName: 'aevo-training',
      priorityClasses: { high: 'aevo-high' },
      pvcClaimName: 'aevo-home',
      sandboxRoot: state.home,
      mountPath: '/var/lib/aevo',
      backoffLimit: 2,
      ttlSecondsAfterFinished: 3600,
      logDir: join(state.home, 'logs'),
      reconnectMs: 50,
      onError: (err, context) => errors.push({ err, context }),
      ...over,
    });
    executors.push(ex);
    const events: ExecutorEvent[] = [];
    ex.on((e) => {
      events.push(e);
    });
    const finished = (jobId: string) =>
      eventually(() => {
        const f = events.find((e) => e.type === 'finished' && e.jobId === jobId);
        return f?.type === 'finished' ? f.outcome : undefined;
      }) as Promise<JobOutcome>;
    const started = (jobId: string, n = 1) =>
      eventually(() => events.filter((e) => e.type === 'started' && e.jobId === jobId).length >= n);
    return { ex, events, finished, started, errors };
  };

  /** Replaces the test's fake API server by one with options (the old one is stopped). */
  const replaceFake = async (opts: ConstructorParameters<typeof FakeKubeApiServer>[0]) => {
    await state.fake.stop();
    state = { ...state, fake: new FakeKubeApiServer(opts) };
    await state.fake.start();
  };

  /** For an executor a test constructs itself: closed after the test like the others. */
  const track = (ex: KubernetesExecutor) => void executors.push(ex);

  return { state: () => state, spec, start, replaceFake, track };
}
