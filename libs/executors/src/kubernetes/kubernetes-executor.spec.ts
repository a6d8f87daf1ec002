import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually } from '@aevo/testkit';
import { kubeConfigFor } from './client';
import { KubernetesExecutor, kubernetesJobConfigFromEnv, parseLogTimestamp } from './kubernetes-executor';
import { kubernetesJobName } from './names';
import { useFakeKube } from '../../test/kube-fixture';
import type { FakeKubeApiServer as FakeKube } from '../testing/fake-kube-api';

jest.setTimeout(60_000);

const kube = useFakeKube();
const { spec, start } = kube;
let fake: FakeKube;
let home: string;
beforeEach(() => ({ fake, home } = kube.state()));

describe('KubernetesExecutor (against a loopback API server, through @kubernetes/client-node)', () => {
  it(
    'creates a Kueue-labelled Job with GPU limits, deadline, TTL and a pod failure ' +
      'policy; reports running and success with the log tail',
    async () => {
      const { ex, events, finished, started } = start();
      await ex.recover();
      const r = await ex.submit({ campaignId: 'camp1', spec: spec('camp1-r2-c3-train-1') });
      expect(r.accepted).toBe(true);
      const name = kubernetesJobName('camp1-r2-c3-train-1');
      const post = fake.requests.find((q) => q.method === 'POST');
      expect(post?.path).toBe('/apis/batch/v1/namespaces/aevo-jobs/jobs');
      expect(post?.authorization).toBe('Bearer secret-token');
      const body = post!.body as any; // eslint-disable-line @typescript-eslint/no-explicit-any
      expect(body.metadata.name).toBe(name);
      expect(body.metadata.labels).toMatchObject({
        'kueue.x-k8s.io/queue-name': 'aevo-training',
        'kueue.x-k8s.io/priority-class': 'aevo-high',
        'aevo.dev/campaign': 'camp1',
        'aevo.dev/candidate': 'camp1-r2-c3',
        'aevo.dev/job': 'camp1-r2-c3-train-1',
      });
      expect(body.spec).toMatchObject({ backoffLimit: 2, activeDeadlineSeconds: 3600, ttlSecondsAfterFinished: 3600 });
      expect(body.spec.podFailurePolicy.rules).toContainEqual({
        action: 'Ignore',
        onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }],
      });
      const pod = body.spec.template.spec;
      expect(pod.restartPolicy).toBe('Never');
      expect(pod.containers[0]).toMatchObject({
        command: ['python', 'harness/train.py', '--recipe', 'recipe.yaml'],
        workingDir: '/var/lib/aevo/sandboxes/camp1-r2-c3',
        resources: { limits: { 'nvidia.com/gpu': '2', memory: '16384Mi' }, requests: { cpu: '4' } },
      });
      expect(pod.containers[0].env).toContainEqual({ name: 'AEVO_SEED', value: '7' });
      expect(pod.volumes).toEqual([
        { name: 'aevo-home', persistentVolumeClaim: { claimName: 'aevo-home' } },
        { name: 'tmp', emptyDir: {} },
      ]);

      // Suspended by Kueue on creation: queued, nothing started.
      await eventually(() => fake.openWatches() > 0);
      expect(ex.view('camp1-r2-c3-train-1')?.phase).toBe('queued');
      fake.admit(name);
      await started('camp1-r2-c3-train-1');
      expect(events.find((e) => e.type === 'started')).toMatchObject({ handle: `job:aevo-jobs/${name}`, attempt: 1 });
      await eventually(() => fake.openLogStreams() > 0);
      fake.log(name, 'step 1 loss 2.0');
      fake.log(name, 'step 2 loss 1.5');
      fake.advance(90);
      fake.exit(name, 0);
      const out = await finished('camp1-r2-c3-train-1');
      expect(out).toMatchObject({
        status: 'succeeded',
        exitCode: 0,
        gpuCount: 2,
        budgetUnit: 'gpu-seconds',
        logTail: 'step 1 loss 2.0\nstep 2 loss 1.5',
      });
      expect(out.wallSeconds).toBe(90);
      expect(out.gpuSeconds).toBe(180);
      expect(readFileSync(out.logPath!, 'utf8')).toBe('step 1 loss 2.0\nstep 2 loss 1.5\n');
    },
  );

  it(
    'reports a failing exit code (after backoffLimit retries), a diverged ' +
      'run (exit 3, no retry) and an exceeded deadline',
    async () => {
      const { ex, finished, started } = start({ backoffLimit: 0 });
      await ex.recover();
      for (const id of ['fails', 'diverges', 'too-slow']) await ex.submit({ campaignId: 'camp1', spec: spec(id) });
      for (const id of ['fails', 'diverges', 'too-slow']) fake.admit(kubernetesJobName(id));
      for (const id of ['fails', 'diverges', 'too-slow']) await started(id);
      fake.exit(kubernetesJobName('fails'), 7);
      fake.exit(kubernetesJobName('diverges'), 3);
      fake.exceedDeadline(kubernetesJobName('too-slow'));
      expect(await finished('fails')).toMatchObject({ status: 'failed', reason: 'exit-code', exitCode: 7 });
      expect(await finished('diverges')).toMatchObject({ status: 'failed', reason: 'diverged', exitCode: 3 });
      expect(await finished('too-slow')).toMatchObject({ status: 'failed', reason: 'deadline-exceeded' });
    },
  );

  it('treats 409 on re-create as the same job and adopts it, without a second Job', async () => {
    const a = start();
    await a.ex.submit({ campaignId: 'camp1', spec: spec('dup-job') });
    const b = start(); // another instance (or a redelivered request after a restart)
    await b.ex.recover();
    const again = await b.ex.submit({ campaignId: 'camp1', spec: spec('dup-job') });
    expect(again.accepted).toBe(false);
    expect(fake.jobNames()).toEqual([kubernetesJobName('dup-job')]);
    // b already knew it from its list; a third instance that did not list first gets the 409 from the server.
    const c = start();
    const viaConflict = await c.ex.submit({ campaignId: 'camp1', spec: spec('dup-job-2') });
    expect(viaConflict.accepted).toBe(true);
    const d = new KubernetesExecutor({
      kubeConfig: kubeConfigFor(fake.url),
      namespace: 'aevo-jobs',
      image: 'img',
      queueName: 'q',
      pvcClaimName: 'p',
      sandboxRoot: home,
      mountPath: '/m',
      logDir: join(home, 'logs'),
      instance: 'other-install', // lists nothing of the first installation, so it must learn from the 409
    });
    kube.track(d);
    const adopted = await d.submit({ campaignId: 'camp1', spec: spec('dup-job-2') });
    expect(adopted.accepted).toBe(false);
    expect(
      fake.requests
        .filter((q) => q.method === 'POST')
        .map((q) => (q.body as { metadata: { name: string } }).metadata.name),
    ).toEqual([kubernetesJobName('dup-job'), kubernetesJobName('dup-job-2'), kubernetesJobName('dup-job-2')]);
    expect(fake.jobNames()).toHaveLength(2);
  });

  it.each(['event', 'http'] as const)(
    'relists after a 410 Gone during the watch (reported as %s) and misses nothing',
    async (mode) => {
      fake.expiredAs = mode;
      const { ex, finished, started } = start();
      await ex.recover();
      await ex.submit({ campaignId: 'camp1', spec: spec('watched') });
      await eventually(() => fake.openWatches() > 0);
      const before = ex.relists;
      const name = kubernetesJobName('watched');
      fake.expireWatches(); // the watch drops; its resourceVersion is compacted away
      fake.admit(name); // changes happen while no watch is open
      fake.exit(name, 0);
      expect(await finished('watched')).toMatchObject({ status: 'succeeded' });
      await started('watched');
      expect(ex.relists).toBeGreaterThan(before);
      const watchRequests = fake.requests.filter((q) => q.query.watch === 'true');
      expect(watchRequests.length).toBeGreaterThanOrEqual(2);
      expect(watchRequests.every((q) => q.query.labelSelector?.includes('aevo.dev/managed-by=aevo-dispatch'))).toBe(
        true,
      );
    },
  );

  it('shows a Kueue suspension as preempted (not failed), then resumes as a new attempt', async () => {
    const { ex, events, finished, started } = start();
    await ex.recover();
    await ex.submit({ campaignId: 'camp1', spec: spec('preempted-job') });
    const name = kubernetesJobName('preempted-job');
    fake.admit(name);
    await started('preempted-job');
    await eventually(() => fake.openLogStreams() > 0);
    fake.log(name, 'first pod');
    fake.suspend(name);
    await eventually(() => events.some((e) => e.type === 'preempted'));
    expect(ex.view('preempted-job')?.phase).toBe('preempted');
    expect(events.some((e) => e.type === 'finished')).toBe(false);
    fake.admit(name);
    await started('preempted-job', 2);
    await eventually(() => fake.openLogStreams() > 0);
    fake.log(name, 'second pod');
    fake.exit(name, 0);
    const out = await finished('preempted-job');
    expect(out.status).toBe('succeeded');
    expect(
      events
        .filter((e) => e.jobId === 'preempted-job')
        .map((e) => (e.type === 'started' ? `started#${e.attempt}` : e.type)),
    ).toEqual(['started#1', 'preempted', 'started#2', 'finished']);
    expect(out.logTail).toBe('first pod\nsecond pod');
  });

  it('cancels by deleting the Job with background propagation', async () => {
    const { ex, finished, started } = start();
    await ex.recover();
    await ex.submit({ campaignId: 'camp1', spec: spec('to-cancel') });
    const name = kubernetesJobName('to-cancel');
    fake.admit(name);
    await started('to-cancel');
    expect(await ex.cancel('to-cancel', 'operator asked')).toBe('cancelling');
    expect(await finished('to-cancel')).toMatchObject({ status: 'cancelled', message: 'operator asked' });
    const del = fake.requests.find((q) => q.method === 'DELETE');
    expect(del?.path).toBe(`/apis/batch/v1/namespaces/aevo-jobs/jobs/${name}`);
    expect(del?.query.propagationPolicy).toBe('Background');
    expect(fake.job(name)).toBeUndefined();
    expect(await ex.cancel('to-cancel', 'again')).toBe('already-finished');
    expect(await ex.cancel('unknown', 'x')).toBe('not-found');
  });

  it('follows pod logs across a dropped connection without losing or repeating lines', async () => {
    const { ex, finished, started } = start();
    await ex.recover();
    await ex.submit({ campaignId: 'camp1', spec: spec('chatty') });
    const name = kubernetesJobName('chatty');
    fake.admit(name);
    await started('chatty');
    await eventually(() => fake.openLogStreams() > 0);
    for (let i = 1; i <= 3; i++) fake.log(name, `line ${i}`);
    await eventually(() => readFileSync(join(home, 'logs', 'chatty.log'), 'utf8').includes('line 3'));
    fake.dropLogStreams();
    for (let i = 4; i <= 6; i++) fake.log(name, `line ${i}`); // written while disconnected
    await eventually(() => fake.openLogStreams() > 0);
    fake.log(name, 'line 7');
    await eventually(() => readFileSync(join(home, 'logs', 'chatty.log'), 'utf8').includes('line 7'));
    fake.exit(name, 0);
    await finished('chatty');
    expect(readFileSync(join(home, 'logs', 'chatty.log'), 'utf8')).toBe(
      [1, 2, 3, 4, 5, 6, 7].map((i) => `line ${i}\n`).join(''),
    );
    const logRequests = fake.requests.filter((q) => q.path.endsWith('/log'));
    expect(logRequests.some((q) => q.query.sinceTime)).toBe(true);
    expect(logRequests.every((q) => q.query.container === 'job' && q.query.timestamps === 'true')).toBe(true);
  });

  it('recovers after a restart by listing its labelled Jobs: finished, running and queued ones', async () => {
    const a = start();
    await a.ex.recover();
    for (const id of ['ends-while-down', 'runs-on', 'still-queued'])
      await a.ex.submit({ campaignId: 'camp1', spec: spec(id) });
    fake.admit(kubernetesJobName('ends-while-down'));
    fake.admit(kubernetesJobName('runs-on'));
    await a.started('runs-on');
    await a.ex.close();
    fake.log(kubernetesJobName('ends-while-down'), 'done while dispatch was down');
    fake.exit(kubernetesJobName('ends-while-down'), 0);

    const b = start();
    const views = await b.ex.recover();
    expect(Object.fromEntries(views.map((v) => [v.jobId, v.phase]))).toEqual({
      'ends-while-down': 'running',
      'runs-on': 'running',
      'still-queued': 'queued',
    });
    expect(
      fake.requests.some(
        (q) =>
          q.method === 'GET' &&
          q.path === '/apis/batch/v1/namespaces/aevo-jobs/jobs' &&
          q.query.labelSelector?.includes('aevo.dev/managed-by=aevo-dispatch'),
      ),
    ).toBe(true);
    expect(await b.finished('ends-while-down')).toMatchObject({
      status: 'succeeded',
      logTail: 'done while dispatch was down',
    });
    await b.started('runs-on');
    expect(b.ex.view('runs-on')?.phase).toBe('running');
    fake.admit(kubernetesJobName('still-queued'));
    fake.exit(kubernetesJobName('still-queued'), 4, { replacement: 'running' }); // backoffLimit 2: two retries
    fake.exit(kubernetesJobName('still-queued'), 4, { replacement: 'running' });
    fake.exit(kubernetesJobName('still-queued'), 4);
    fake.exit(kubernetesJobName('runs-on'), 0);
    expect(await b.finished('still-queued')).toMatchObject({ status: 'failed', exitCode: 4 });
    expect(await b.finished('runs-on')).toMatchObject({ status: 'succeeded' });
    expect(fake.requests.filter((q) => q.method === 'POST')).toHaveLength(3); // nothing created twice
  });

  it('marks a Job deleted by someone else as lost', async () => {
    const { ex, finished, started } = start();
    await ex.recover();
    await ex.submit({ campaignId: 'camp1', spec: spec('vanishing') });
    fake.admit(kubernetesJobName('vanishing'));
    await started('vanishing');
    fake.deleteJob(kubernetesJobName('vanishing'));
    expect(await finished('vanishing')).toMatchObject({ status: 'failed', reason: 'lost' });
  });

  it('refuses a sandbox outside the shared volume with a clear message and creates nothing', async () => {
    const { ex, finished } = start();
    await ex.submit({ campaignId: 'camp1', spec: spec('outside', { sandboxPath: '/elsewhere/sb' }) });
    const out = await finished('outside');
    expect(out).toMatchObject({ status: 'failed', reason: 'executor-error' });
    expect(out.message).toContain('/elsewhere/sb');
    expect(fake.requests.some((q) => q.method === 'POST')).toBe(false);
  });
});

describe('kubernetesJobConfigFromEnv', () => {
  it('names the variable of a bad name and reads the queue deadline', () => {
    expect(() => kubernetesJobConfigFromEnv({ AEVO_K8S_IMAGE: 'img', AEVO_K8S_QUEUE: 'Bad_Queue' })).toThrow(
      /AEVO_K8S_QUEUE: "Bad_Queue"/,
    );
    expect(() => kubernetesJobConfigFromEnv({ AEVO_K8S_IMAGE: 'img', AEVO_K8S_PRIORITY_LOW: 'low prio' })).toThrow(
      /AEVO_K8S_PRIORITY_LOW/,
    );
    expect(
      kubernetesJobConfigFromEnv({ AEVO_K8S_IMAGE: 'img', AEVO_K8S_QUEUE_DEADLINE_SECONDS: '900' })
        .queueDeadlineSeconds,
    ).toBe(900);
    expect(kubernetesJobConfigFromEnv({ AEVO_K8S_IMAGE: 'img' }).queueDeadlineSeconds).toBe(6 * 3600);
  });
});

describe('parseLogTimestamp', () => {
  it('orders RFC3339Nano timestamps whose fractions have different lengths', () => {
    const a = parseLogTimestamp('2030-01-01T00:00:01.5Z')!;
    const b = parseLogTimestamp('2030-01-01T00:00:01.123456789Z')!;
    expect(a > b).toBe(true);
    expect(parseLogTimestamp('not a time')).toBeNull();
  });
});
