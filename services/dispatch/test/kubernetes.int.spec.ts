import 'reflect-metadata';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CancelJob } from '@aevo/contracts';
import { FakeKubeApiServer, KubernetesExecutor, kubeConfigFor, kubernetesJobName } from '@aevo/executors';
import { eventually, startServiceHarness, type ServiceHarness } from '@aevo/testkit';
import { DispatchModule } from '../src/dispatch.module';
import { jobEvents, jobRequested, jobSpec, terminalOf, prepareJobHome, type JobHome } from './support';

jest.setTimeout(180_000);

/** The service with AEVO_EXECUTOR=kubernetes semantics, against the loopback API server. */
describe('dispatch service with the Kubernetes executor', () => {
  let h: ServiceHarness;
  let fake: FakeKubeApiServer;
  let home: string;
  let c0: JobHome;
  let c1: JobHome;

  beforeAll(async () => {
    fake = new FakeKubeApiServer();
    await fake.start();
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'dispatch-k8s-'));
    c0 = prepareJobHome(home, 'c0');
    c1 = prepareJobHome(home, 'c1');
    const executor = new KubernetesExecutor({
      kubeConfig: kubeConfigFor(fake.url),
      namespace: 'aevo-jobs',
      image: 'aevo-substrate:test',
      queueName: 'aevo-training',
      pvcClaimName: 'aevo-home',
      sandboxRoot: home,
      mountPath: '/var/lib/aevo',
      logDir: path.join(home, 'logs'),
      reconnectMs: 50,
    });
    h = await startServiceHarness(DispatchModule.forRoot({ executor }), {
      service: 'dispatch',
      server: { nakDelayMs: 200, maxNakDelayMs: 2000 },
    });
  });

  afterAll(async () => {
    await h?.close();
    await fake?.stop();
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  const types = async (jobId: string) => (await jobEvents(h.store, jobId)).map((e) => e.type);

  it('queues, starts, records a Kueue preemption as JobPreempted, resumes and succeeds with GPU-seconds', async () => {
    const spec = jobSpec('k8s-train', c0, 'x', { resources: { cpu: 2, memoryMiB: 512, gpu: 2 } });
    await h.append(jobRequested(spec));
    const name = kubernetesJobName('k8s-train');
    await eventually(() => fake.job(name));
    expect(await types('k8s-train')).toEqual(['JobQueued']);
    fake.admit(name);
    await eventually(async () => (await types('k8s-train')).includes('JobStarted'));
    fake.advance(30); // the fake cluster's clock moves only when told: a 30 s first run
    fake.suspend(name);
    await eventually(async () => (await types('k8s-train')).includes('JobPreempted'));
    fake.admit(name);
    await eventually(async () => (await types('k8s-train')).filter((t) => t === 'JobStarted').length === 2);
    await eventually(() => fake.openLogStreams() > 0);
    fake.log(name, 'epoch 1 done');
    fake.advance(60);
    fake.exit(name, 0);
    const done = await eventually(() => terminalOf(h.store, 'k8s-train'));
    expect(done.type).toBe('JobSucceeded');
    expect(done.data).toMatchObject({
      executor: 'kubernetes',
      gpuCount: 2,
      budgetUnit: 'gpu-seconds',
      logTail: 'epoch 1 done',
    });
    expect((done.data as { gpuSeconds: number }).gpuSeconds).toBe(2 * (30 + 60)); // both admitted runs
    const events = await jobEvents(h.store, 'k8s-train');
    expect(events.map((x) => x.type)).toEqual([
      'JobQueued',
      'JobStarted',
      'JobPreempted',
      'JobStarted',
      'JobSucceeded',
    ]);
    expect(events.filter((x) => x.type === 'JobStarted').map((x) => (x.data as { attempt: number }).attempt)).toEqual([
      1, 2,
    ]);
  });

  it('cancels through CancelJob: the Job is deleted with background propagation', async () => {
    const spec = jobSpec('k8s-cancel', c1, 'x');
    await h.append(jobRequested(spec));
    const name = kubernetesJobName('k8s-cancel');
    await eventually(() => fake.job(name));
    fake.admit(name);
    await eventually(async () => (await types('k8s-cancel')).includes('JobStarted'));
    const reply = await h.send(CancelJob, {
      campaignId: 'camp-dispatch',
      jobId: 'k8s-cancel',
      reason: 'budget exhausted',
    });
    expect(reply).toMatchObject({ ok: true, result: { status: 'cancelling' } });
    const done = await eventually(() => terminalOf(h.store, 'k8s-cancel'));
    expect(done).toMatchObject({ type: 'JobCancelled', data: { reason: 'budget exhausted' } });
    expect(fake.requests.find((q) => q.method === 'DELETE')?.query.propagationPolicy).toBe('Background');
    expect(fake.job(name)).toBeUndefined();
  });
});
