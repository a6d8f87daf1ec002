import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobSpec } from '@aevo/contracts';
import { writeSubstrateFixture } from '@aevo/substrate-kit';
import { eventually } from '@aevo/testkit';
import { SANDBOX_BASE_ENV } from '../isolation';
import { FakeKubeApiServer } from '../testing/fake-kube-api';
import type { ExecutorEvent, JobOutcome } from '../types';
import { kubeConfigFor } from './client';
import { KubernetesExecutor, kubernetesJobConfigFromEnv, parseLogTimestamp } from './kubernetes-executor';
import { kubernetesJobName } from './names';

jest.setTimeout(60_000);

let fake: FakeKubeApiServer;
let home: string;
let sandbox: string;
const executors: KubernetesExecutor[] = [];
/** Any 64-hex id names a snapshot directory; planIsolation reads the substrate there. */
const SNAPSHOT = 'ab'.repeat(32);

beforeEach(async () => {
  fake = new FakeKubeApiServer();
  await fake.start();
  home = realpathSync(mkdtempSync(join(tmpdir(), 'aevo-k8s-exec-')));
  writeSubstrateFixture(join(home, 'snapshots', SNAPSHOT));
  sandbox = join(home, 'sandboxes', 'camp1-r2-c3');
  cpSync(join(home, 'snapshots', SNAPSHOT), sandbox, { recursive: true });
});

afterEach(async () => {
  for (const e of executors.splice(0)) await e.close();
  await fake.stop();
  rmSync(home, { recursive: true, force: true });
});

function spec(jobId: string, over: Partial<JobSpec> = {}): JobSpec {
  return {
    jobId,
    candidateId: 'camp1-r2-c3',
    round: 2,
    entrypoint: 'train',
    sandboxPath: sandbox,
    argv: ['python', 'harness/train.py', '--recipe', 'recipe.yaml'],
    env: { AEVO_SEED: '7' },
    resources: { cpu: 4, memoryMiB: 16384, gpu: 2 },
    timeoutSeconds: 3600,
    priority: 'high',
    isolation: { snapshotId: SNAPSHOT, outputs: ['checkpoints'], inputs: [] },
    ...over,
  };
}

function start(over: Partial<ConstructorParameters<typeof KubernetesExecutor>[0]> = {}) {
  const errors: Array<{ err: unknown; context: string }> = [];
  const ex = new KubernetesExecutor({
    kubeConfig: kubeConfigFor(fake.url, 'secret-token'),
    namespace: 'aevo-jobs',
    image: 'registry.example/aevo-substrate:1',
    queueName: 'aevo-training',
    priorityClasses: { high: 'aevo-high' },
    pvcClaimName: 'aevo-home',
    sandboxRoot: home,
    mountPath: '/var/lib/aevo',
    backoffLimit: 2,
    ttlSecondsAfterFinished: 3600,
    logDir: join(home, 'logs'),
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
}

describe('KubernetesExecutor (against a loopback API server, through @kubernetes/client-node)', () => {
  it('creates a Kueue-labelled Job with GPU limits, deadline, TTL and a pod failure policy; reports running and success with the log tail', async () => {
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
  });

  it('reports a failing exit code (after backoffLimit retries), a diverged run (exit 3, no retry) and an exceeded deadline', async () => {
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
  });

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
    executors.push(d);
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

type Mount = { name: string; mountPath: string; subPath?: string; readOnly?: boolean };
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const postedJobs = (): any[] => fake.requests.filter((q) => q.method === 'POST').map((q) => q.body);

describe('KubernetesExecutor job sandbox (what the API server is sent)', () => {
  it('runs the pod as nobody, without privileges, token, service links or a writable root filesystem', async () => {
    const { ex } = start();
    await ex.submit({ campaignId: 'camp1', spec: spec('locked-down', { env: { AEVO_SEED: '7', AEVO_SIZE: 'tiny' } }) });
    const [body] = postedJobs();
    expect(body.metadata.labels['aevo.dev/role']).toBe('job');
    const pod = body.spec.template.spec;
    expect(body.spec.template.metadata.labels['aevo.dev/role']).toBe('job'); // what the NetworkPolicy selects
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.enableServiceLinks).toBe(false);
    expect(pod.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 65534,
      runAsGroup: 65534,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(pod.containers).toHaveLength(1);
    const c = pod.containers[0];
    expect(c.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 65534,
      runAsGroup: 65534,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    // The clean base, what the spec names, the job id: nothing else, and nothing from config maps or secrets.
    expect(Object.fromEntries(c.env.map((e: { name: string; value: string }) => [e.name, e.value]))).toEqual({
      ...SANDBOX_BASE_ENV,
      AEVO_SEED: '7',
      AEVO_SIZE: 'tiny',
      AEVO_JOB_ID: 'locked-down',
    });
    expect(c.env.every((e: object) => Object.keys(e).sort().join() === 'name,value')).toBe(true); // no valueFrom
    expect(c.envFrom).toBeUndefined();
    expect(JSON.stringify(body)).not.toMatch(/secret/i);
    expect(c.volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp', readOnly: false });
    expect(pod.volumes.map((v: { name: string }) => v.name)).toEqual(['aevo-home', 'tmp']);
  });

  it("mounts sub-paths only: the sandbox and the snapshot's pinned paths read-only, the outputs writable, the inputs read-only", async () => {
    mkdirSync(join(home, 'leaderboard', 'hidden'), { recursive: true });
    writeFileSync(join(home, 'leaderboard', 'hidden', 'prompts.csv'), 'id,prompt\n');
    const { ex, finished } = start();
    await ex.submit({
      campaignId: 'camp1',
      spec: spec('mounted', {
        entrypoint: 'predict',
        isolation: {
          snapshotId: SNAPSHOT,
          outputs: ['out/predictions', join(home, 'runs', 'mounted')],
          inputs: [join(home, 'leaderboard', 'hidden', 'prompts.csv')],
        },
      }),
    });
    const [body] = postedJobs();
    expect(body).toBeDefined();
    const c = body.spec.template.spec.containers[0];
    const sb = '/var/lib/aevo/sandboxes/camp1-r2-c3';
    expect(c.workingDir).toBe(sb);
    const shared = (c.volumeMounts as Mount[]).filter((m) => m.name === 'aevo-home');
    // Never the whole volume: every mount of the shared claim names a sub-path.
    expect(shared.every((m) => typeof m.subPath === 'string' && m.subPath.length > 0)).toBe(true);
    expect(shared.some((m) => m.mountPath === '/var/lib/aevo')).toBe(false);
    const snap = `snapshots/${SNAPSHOT}`;
    expect([...shared].sort((a, b) => a.mountPath.localeCompare(b.mountPath))).toEqual(
      [
        { name: 'aevo-home', mountPath: sb, subPath: 'sandboxes/camp1-r2-c3', readOnly: true },
        // Pinned (non-editable) paths of the fixture, from the snapshot: the editable recipe.yaml and pipeline/ are not.
        { name: 'aevo-home', mountPath: `${sb}/README.md`, subPath: `${snap}/README.md`, readOnly: true },
        { name: 'aevo-home', mountPath: `${sb}/base`, subPath: `${snap}/base`, readOnly: true },
        { name: 'aevo-home', mountPath: `${sb}/harness`, subPath: `${snap}/harness`, readOnly: true },
        { name: 'aevo-home', mountPath: `${sb}/substrate.yaml`, subPath: `${snap}/substrate.yaml`, readOnly: true },
        {
          name: 'aevo-home',
          mountPath: `${sb}/out/predictions`,
          subPath: 'sandboxes/camp1-r2-c3/out/predictions',
          readOnly: false,
        },
        { name: 'aevo-home', mountPath: '/var/lib/aevo/runs/mounted', subPath: 'runs/mounted', readOnly: false },
        {
          name: 'aevo-home',
          mountPath: '/var/lib/aevo/leaderboard/hidden/prompts.csv',
          subPath: 'leaderboard/hidden/prompts.csv',
          readOnly: true,
        },
      ].sort((a, b) => a.mountPath.localeCompare(b.mountPath)),
    );
    expect(
      shared
        .filter((m) => !m.readOnly)
        .map((m) => m.subPath)
        .sort(),
    ).toEqual(['runs/mounted', 'sandboxes/camp1-r2-c3/out/predictions']);
    // Parents before what they hold, so the pinned paths and outputs land on top of the sandbox.
    const at = (p: string) => shared.findIndex((m) => m.mountPath === p);
    expect(at(sb)).toBeLessThan(Math.min(at(`${sb}/harness`), at(`${sb}/out/predictions`)));
    // The outputs exist before the Job does, writable by the job's uid (owned by it, or open to it).
    for (const dir of [join(sandbox, 'out', 'predictions'), join(home, 'runs', 'mounted')]) {
      const st = statSync(dir);
      expect(st.isDirectory()).toBe(true);
      expect(st.uid === 65534 || (st.mode & 0o777) === 0o777).toBe(true);
    }
    fake.admit(kubernetesJobName('mounted'));
    fake.exit(kubernetesJobName('mounted'), 0);
    expect(await finished('mounted')).toMatchObject({ status: 'succeeded' });
  });

  it('takes the uid, gid, fsGroup and /tmp size from its configuration', async () => {
    const { ex } = start({ runAsUser: 1001, runAsGroup: 1002, fsGroup: 1003, tmpSizeLimit: '2Gi' });
    await ex.submit({ campaignId: 'camp1', spec: spec('configured') });
    const pod = postedJobs()[0].spec.template.spec;
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 1001,
      runAsGroup: 1002,
      fsGroup: 1003,
      fsGroupChangePolicy: 'OnRootMismatch',
    });
    expect(pod.containers[0].securityContext).toMatchObject({ runAsUser: 1001, runAsGroup: 1002 });
    expect(pod.volumes).toContainEqual({ name: 'tmp', emptyDir: { sizeLimit: '2Gi' } });
    const st = statSync(join(sandbox, 'checkpoints'));
    expect(st.uid === 1001 || (st.mode & 0o777) === 0o777).toBe(true);
  });

  const elsewhere = () => realpathSync(mkdtempSync(join(tmpdir(), 'aevo-k8s-elsewhere-')));
  it.each([
    [
      'an output under a pinned path',
      () => ({ isolation: { snapshotId: SNAPSHOT, outputs: ['harness/out'], inputs: [] } }),
      'isolation.outputs.0',
      'harness/out',
    ],
    [
      'an unknown snapshot',
      () => ({ isolation: { snapshotId: 'cd'.repeat(32), outputs: ['checkpoints'], inputs: [] } }),
      'isolation.snapshotId',
      'cd'.repeat(32),
    ],
    ['a sandbox outside AEVO_HOME', () => ({ sandboxPath: elsewhere() }), 'sandboxPath', 'aevo-k8s-elsewhere-'],
    [
      'an output in a private directory of AEVO_HOME',
      () => ({ isolation: { snapshotId: SNAPSHOT, outputs: [join(home, 'logs', 'x')], inputs: [] } }),
      'isolation.outputs.0',
      'logs',
    ],
    [
      'a missing input',
      () => ({ isolation: { snapshotId: SNAPSHOT, outputs: ['checkpoints'], inputs: [join(home, 'nope.csv')] } }),
      'isolation.inputs.0',
      'nope.csv',
    ],
  ])('refuses %s: no Job, a failed outcome naming the field', async (_what, over, field, mentions) => {
    const { ex, finished, errors } = start();
    const s = spec('refused', over());
    const r = await ex.submit({ campaignId: 'camp1', spec: s });
    expect(r.accepted).toBe(true);
    const out = await finished('refused');
    expect(out).toMatchObject({ status: 'failed', reason: 'executor-error', exitCode: null });
    expect(out.message).toContain(field);
    expect(out.message).toContain(mentions);
    expect(fake.requests.some((q) => q.method === 'POST')).toBe(false);
    expect(fake.jobNames()).toEqual([]);
    expect(existsSync(join(sandbox, 'checkpoints'))).toBe(false); // nothing prepared for a refused job
    expect(errors).toEqual([]);
    if (s.sandboxPath !== sandbox) rmSync(s.sandboxPath, { recursive: true, force: true });
  });
});

/** Replaces the test's fake API server by one with options (the old one is stopped). */
async function useFake(opts: ConstructorParameters<typeof FakeKubeApiServer>[0]) {
  await fake.stop();
  fake = new FakeKubeApiServer(opts);
  await fake.start();
}

describe('KubernetesExecutor accounting, queue deadline, retries and logs (issue 20)', () => {
  it('charges GPU time for every admitted run of a Job preempted twice (each resume resets startTime)', async () => {
    const { ex, events, finished, started } = start({ now: () => fake.nowMs() });
    await ex.recover();
    await ex.submit({ campaignId: 'camp1', spec: spec('preempted-twice') }); // 2 GPUs
    const name = kubernetesJobName('preempted-twice');
    fake.advance(30); // queued: not charged
    fake.admit(name);
    await started('preempted-twice', 1);
    fake.advance(600);
    fake.suspend(name); // Kueue preempts: startTime cleared, pods deleted
    await eventually(() => events.filter((e) => e.type === 'preempted').length === 1);
    expect(fake.job(name)?.status.startTime).toBeUndefined();
    fake.advance(120); // suspended: not charged
    fake.resume(name);
    await started('preempted-twice', 2);
    fake.advance(1200);
    fake.suspend(name);
    await eventually(() => events.filter((e) => e.type === 'preempted').length === 2);
    // Each preemption is written into the Job, since the Job itself forgets the run (for a restarted dispatch).
    await eventually(() => JSON.parse(fake.job(name)?.metadata.annotations['aevo.dev/runs'] ?? '[]').length === 2);
    expect(JSON.parse(fake.job(name)!.metadata.annotations['aevo.dev/runs'])).toEqual([
      ['2030-01-01T00:00:30Z', '2030-01-01T00:10:30Z'],
      ['2030-01-01T00:12:30Z', '2030-01-01T00:32:30Z'],
    ]);
    fake.advance(45);
    fake.resume(name);
    await started('preempted-twice', 3);
    fake.advance(300);
    fake.exit(name, 0);
    const out = await finished('preempted-twice');
    expect(fake.runSeconds(name)).toEqual([600, 1200, 300]);
    expect(out).toMatchObject({ status: 'succeeded', wallSeconds: 2100, gpuSeconds: 4200, gpuCount: 2 });
    // The Job itself only remembers its last run.
    const job = fake.job(name)!;
    expect((Date.parse(job.status.completionTime) - Date.parse(job.status.startTime)) / 1000).toBe(300);
    expect(out.startedAt).toBe('2030-01-01T00:00:30Z'); // the first run's start
  });

  it('charges a preemption it missed between two looks (a newer startTime) until the resumption, as a new attempt', async () => {
    const { ex, events, finished, started } = start({ now: () => fake.nowMs() });
    await ex.recover();
    await ex.submit({
      campaignId: 'camp1',
      spec: spec('missed-preemption', { resources: { cpu: 1, memoryMiB: 1024, gpu: 1 } }),
    });
    const name = kubernetesJobName('missed-preemption');
    fake.admit(name);
    await started('missed-preemption');
    fake.advance(600);
    fake.expireWatches(); // no watch, and the history is compacted: the executor relists and sees only the end state
    fake.suspend(name);
    fake.advance(100);
    fake.resume(name);
    await started('missed-preemption', 2);
    fake.advance(300);
    fake.exit(name, 0);
    const out = await finished('missed-preemption');
    expect(out).toMatchObject({ status: 'succeeded', wallSeconds: 1000 }); // 600 + the 100 s it cannot see + 300
    expect(events.filter((e) => e.jobId === 'missed-preemption').map((e) => e.type)).toEqual([
      'started',
      'preempted',
      'started',
      'finished',
    ]);
  });

  it('still charges a run that ended in a preemption before dispatch restarted (read back from the Job)', async () => {
    const a = start({ now: () => fake.nowMs() });
    await a.ex.recover();
    await a.ex.submit({
      campaignId: 'camp1',
      spec: spec('restarted-between-runs', { resources: { cpu: 1, memoryMiB: 1024, gpu: 1 } }),
    });
    const name = kubernetesJobName('restarted-between-runs');
    fake.admit(name);
    await a.started('restarted-between-runs');
    fake.advance(600);
    fake.suspend(name);
    await eventually(() => fake.job(name)?.metadata.annotations['aevo.dev/runs'] !== undefined);
    await a.ex.close();
    fake.advance(60);
    fake.resume(name); // while no dispatch runs
    const b = start({ now: () => fake.nowMs() });
    await b.ex.recover();
    await b.started('restarted-between-runs');
    expect(b.events.find((e) => e.type === 'started')).toMatchObject({ attempt: 2 });
    fake.advance(300);
    fake.exit(name, 0);
    expect(await b.finished('restarted-between-runs')).toMatchObject({
      status: 'succeeded',
      wallSeconds: 900,
      gpuSeconds: 900,
      startedAt: '2030-01-01T00:00:00Z',
    });
    expect(fake.requests.filter((q) => q.method === 'PATCH')).toHaveLength(1);
  });

  it('fails a Job left suspended past its queue deadline (its LocalQueue does not exist) as queue-timeout, and deletes it', async () => {
    await useFake({ localQueues: ['aevo-training'] });
    const { ex, finished } = start({
      now: () => fake.nowMs(),
      queueName: 'aevo-missing',
      queueDeadlineSeconds: 3600,
      queueCheckMs: 25,
    });
    await ex.recover();
    await ex.submit({ campaignId: 'camp1', spec: spec('never-admitted') });
    const name = kubernetesJobName('never-admitted');
    expect(() => fake.admit(name)).toThrow(/LocalQueue aevo-jobs\/aevo-missing does not exist/);
    fake.advance(3500);
    await new Promise((r) => setTimeout(r, 200)); // several checks: within the deadline nothing happens
    expect(ex.view('never-admitted')?.phase).toBe('queued');
    fake.advance(200);
    const out = await finished('never-admitted');
    expect(out).toMatchObject({
      status: 'failed',
      reason: 'queue-timeout',
      exitCode: null,
      wallSeconds: 0,
      gpuSeconds: 0,
    });
    expect(out.message).toContain('aevo-missing');
    expect(out.message).toContain('3700 s');
    expect(fake.job(name)).toBeUndefined();
    expect(fake.requests.find((q) => q.method === 'DELETE')?.query.propagationPolicy).toBe('Background');
  });

  it('measures the wait after a preemption from the suspension and still charges the run before it', async () => {
    const { ex, finished, started } = start({ now: () => fake.nowMs(), queueDeadlineSeconds: 600, queueCheckMs: 25 });
    await ex.recover();
    await ex.submit({
      campaignId: 'camp1',
      spec: spec('evicted-for-good', { resources: { cpu: 1, memoryMiB: 1024, gpu: 1 } }),
    });
    const name = kubernetesJobName('evicted-for-good');
    fake.advance(500); // queued 500 s, within the deadline
    fake.admit(name);
    await started('evicted-for-good');
    fake.advance(4000); // a long run: not queue time
    fake.suspend(name);
    await eventually(() => ex.view('evicted-for-good')?.phase === 'preempted');
    fake.advance(601);
    const out = await finished('evicted-for-good');
    expect(out).toMatchObject({ status: 'failed', reason: 'queue-timeout', wallSeconds: 4000, gpuSeconds: 4000 });
    expect(out.message).toContain('suspended after a preemption');
  });

  it('retries under backoffLimit: a failed pod is replaced (Pending, then Running) and a later pod succeeds', async () => {
    const { ex, events, finished, started } = start({ now: () => fake.nowMs(), backoffLimit: 2 });
    await ex.recover();
    await ex.submit({ campaignId: 'camp1', spec: spec('flaky') });
    const name = kubernetesJobName('flaky');
    fake.admit(name, { pending: true });
    await started('flaky');
    expect(fake.podsOf(name).map((p) => p.status.phase)).toEqual(['Pending']);
    fake.startPod(name);
    await eventually(() => fake.openLogStreams() > 0);
    fake.log(name, 'first pod');
    fake.advance(10);
    fake.exit(name, 1, { replacement: 'later' }); // counted: failed 1 ≤ backoffLimit 2; the controller backs off first
    expect(fake.job(name)?.status).toMatchObject({ failed: 1, active: 0, ready: 0 });
    const failedPod = fake.podsOf(name)[0].metadata.name;
    await new Promise((r) => setTimeout(r, 400)); // many reconnect intervals with only the failed pod
    expect(ex.view('flaky')?.phase).toBe('running'); // admitted, between two tries
    const logReads = fake.requests.filter((q) => q.path.endsWith(`/pods/${failedPod}/log`));
    expect(logReads.length).toBeLessThanOrEqual(2); // followed, then read to its end once: not polled again
    fake.replacePod(name);
    expect(fake.job(name)?.status).toMatchObject({ failed: 1, active: 1, ready: 0 });
    expect(fake.podsOf(name).map((p) => p.status.phase)).toEqual(['Failed', 'Pending']);
    await new Promise((r) => setTimeout(r, 150));
    expect(fake.requests.filter((q) => q.path.endsWith(`/pods/${fake.podsOf(name)[1].metadata.name}/log`))).toEqual([]); // Pending: no log yet
    fake.advance(10);
    fake.startPod(name);
    await eventually(() => fake.openLogStreams() > 0);
    fake.log(name, 'second pod');
    fake.advance(10);
    fake.exit(name, 0);
    const out = await finished('flaky');
    expect(out).toMatchObject({ status: 'succeeded', exitCode: 0, wallSeconds: 30 });
    expect(readFileSync(out.logPath!, 'utf8')).toBe('first pod\nsecond pod\n');
    expect(events.filter((e) => e.jobId === 'flaky').map((e) => e.type)).toEqual(['started', 'finished']); // one admitted run
  });

  it('fails after backoffLimit: the pod beyond the limit ends the Job (FailureTarget, then Failed BackoffLimitExceeded)', async () => {
    const { ex, finished, started } = start({ backoffLimit: 1 });
    await ex.recover();
    await ex.submit({ campaignId: 'camp1', spec: spec('always-fails') });
    const name = kubernetesJobName('always-fails');
    fake.admit(name);
    await started('always-fails');
    fake.exit(name, 5, { replacement: 'running' });
    await new Promise((r) => setTimeout(r, 150));
    expect(ex.view('always-fails')?.phase).toBe('running'); // an interim failure is not the end
    fake.exit(name, 6);
    const out = await finished('always-fails');
    expect(out).toMatchObject({ status: 'failed', reason: 'exit-code', exitCode: 6 });
    expect(out.message).toContain('BackoffLimitExceeded');
    expect(fake.job(name)?.status.conditions.map((c: { type: string }) => c.type)).toEqual([
      'Suspended',
      'FailureTarget',
      'Failed',
    ]);
    expect(fake.job(name)?.status.failed).toBe(2);
  });

  it('keeps log lines that share a timestamp, across a reconnect that re-sends them', async () => {
    const { ex, finished, started } = start();
    await ex.recover();
    await ex.submit({ campaignId: 'camp1', spec: spec('bursty') });
    const name = kubernetesJobName('bursty');
    fake.admit(name);
    await started('bursty');
    await eventually(() => fake.openLogStreams() > 0);
    const logFile = join(home, 'logs', 'bursty.log');
    fake.write(name, 'epoch 1\nloss 0.5\nloss 0.5\n'); // one write: one timestamp for three lines, two of them equal
    await eventually(() => existsSync(logFile) && readFileSync(logFile, 'utf8').split('\n').length === 4);
    fake.dropLogStreams(); // the reconnect asks from the same second: all three come again…
    fake.write(name, 'loss 0.5\n', { sameTimestampAsPrevious: true }); // …and the rest of the burst, same stamp, same text
    await eventually(() => fake.openLogStreams() > 0);
    fake.write(name, 'loss 0.5\nepoch 2\n'); // new lines, one equal in text to an old one
    fake.log(name, 'done');
    await eventually(() => readFileSync(logFile, 'utf8').includes('done'));
    fake.exit(name, 0);
    await finished('bursty');
    expect(readFileSync(logFile, 'utf8')).toBe('epoch 1\nloss 0.5\nloss 0.5\nloss 0.5\nloss 0.5\nepoch 2\ndone\n');
    expect(fake.requests.filter((q) => q.path.endsWith('/log') && q.query.sinceTime).length).toBeGreaterThan(0);
  });

  it('refuses an environment variable name the API server would reject, naming it, before any Job exists', async () => {
    const { ex, finished } = start();
    await ex.submit({
      campaignId: 'camp1',
      spec: spec('bad-env', { env: { AEVO_SEED: '7', '1BAD': 'x', 'HAS SPACE': 'y' } }),
    });
    const out = await finished('bad-env');
    expect(out).toMatchObject({ status: 'failed', reason: 'executor-error' });
    expect(out.message).toContain('env.1BAD');
    expect(out.message).toContain('env.HAS SPACE');
    expect(fake.requests.some((q) => q.method === 'POST')).toBe(false);
  });

  it.each([
    ['queueName', { queueName: 'Aevo_Training' }],
    ['priorityClasses.high', { priorityClasses: { high: 'High Priority' } }],
    ['namespace', { namespace: 'aevo.jobs' }],
    ['pvcClaimName', { pvcClaimName: '-home' }],
    ['tmpSizeLimit', { tmpSizeLimit: '8 gigs' }],
  ] as const)('refuses a configuration whose %s no API server accepts', (field, over) => {
    expect(() => start(over as never)).toThrow(new RegExp(`${field.replace('.', '\\.')}: "`));
  });

  it('resumes its watch from the last BOOKMARK after a server-side watch timeout, without a relist', async () => {
    const { ex, finished } = start({ watchTimeoutSeconds: 1 });
    await ex.recover();
    await ex.submit({ campaignId: 'camp1', spec: spec('bookmarked') });
    await eventually(() => fake.openWatches() > 0);
    const first = fake.requests.filter((q) => q.query.watch === 'true');
    expect(first[0].query).toMatchObject({ allowWatchBookmarks: 'true' });
    expect(Number(first[0].query.timeoutSeconds)).toBeGreaterThanOrEqual(1);
    const relists = ex.relists;
    const seen = fake.resourceVersion();
    fake.unrelatedWrites(5); // other objects change: no event for this watch
    fake.bookmark();
    fake.compactThrough(seen); // the last event's version is compacted; the bookmark's is not
    const watchesBefore = fake.requests.filter((q) => q.query.watch === 'true').length;
    await eventually(() => fake.requests.filter((q) => q.query.watch === 'true').length > watchesBefore, 10_000); // the server ended it
    const rewatch = fake.requests.filter((q) => q.query.watch === 'true')[watchesBefore];
    expect(Number(rewatch.query.resourceVersion)).toBeGreaterThan(seen);
    fake.admit(kubernetesJobName('bookmarked'));
    fake.exit(kubernetesJobName('bookmarked'), 0);
    expect(await finished('bookmarked')).toMatchObject({ status: 'succeeded' });
    expect(ex.relists).toBe(relists); // no 410, no relist
  });
});

describe("FakeKubeApiServer create validation (official batch/v1 schema + the API server's field rules)", () => {
  const post = async (body: unknown, query = '') => {
    const res = await fetch(`${fake.url}/apis/batch/v1/namespaces/aevo-jobs/jobs${query}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { code: res.status, body: (await res.json()) as any, warning: res.headers.get('warning') }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };
  const job = (over: Record<string, unknown> = {}, container: Record<string, unknown> = {}) => ({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'j1', labels: { 'kueue.x-k8s.io/queue-name': 'aevo-training' } },
    spec: {
      template: { spec: { restartPolicy: 'Never', containers: [{ name: 'job', image: 'img', ...container }] } },
      ...over,
    },
  });

  it('accepts a valid Job, defaults backoffLimit to 6 and suspends it for Kueue', async () => {
    const r = await post(job());
    expect(r.code).toBe(201);
    expect(r.body.spec).toMatchObject({ backoffLimit: 6, suspend: true });
  });

  it('answers 422 with a cause per field for a missing required field and a bad env name', async () => {
    const r = await post(job({}, { env: [{ name: '1BAD', value: 'x' }] }));
    expect(r.code).toBe(422);
    expect(r.body.details.causes).toContainEqual(
      expect.objectContaining({ field: 'spec.template.spec.containers[0].env[0].name' }),
    );
    const missing = await post({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'j2' },
      spec: { template: { spec: { restartPolicy: 'Never' } } },
    });
    expect(missing.code).toBe(422);
    expect(missing.body.details.causes).toContainEqual(
      expect.objectContaining({ field: 'spec.template.spec.containers', reason: 'FieldValueRequired' }),
    );
  });

  it('answers 400 for a wrong type (the schema), and refuses restartPolicy Always and a bad label', async () => {
    expect((await post(job({ backoffLimit: 'two' }))).code).toBe(400);
    const always = await post({
      ...job(),
      spec: { template: { spec: { restartPolicy: 'Always', containers: [{ name: 'job', image: 'i' }] } } },
    });
    expect(always.code).toBe(422);
    expect(always.body.message).toContain('restartPolicy');
    const label = await post({
      ...job(),
      metadata: { name: 'j3', labels: { 'kueue.x-k8s.io/queue-name': 'Not A Label!' } },
    });
    expect(label.code).toBe(422);
  });

  it('checks env var names by the rule of the cluster version it plays (strict before 1.34, relaxed from 1.34)', async () => {
    expect((await post(job({}, { env: [{ name: '1BAD', value: 'x' }] }))).code).toBe(422);
    await useFake({ relaxedEnvVarNames: true });
    expect((await post(job({}, { env: [{ name: '1BAD', value: 'x' }] }))).code).toBe(201);
    const eq = await post({ ...job({}, { env: [{ name: 'A=B', value: 'x' }] }), metadata: { name: 'j5' } });
    expect(eq.code).toBe(422);
  });

  it('drops unknown fields with a warning, or refuses them under fieldValidation=Strict', async () => {
    const r = await post(job({ suspended: true }));
    expect(r.code).toBe(201);
    expect(r.warning).toContain('unknown field \\"spec.suspended\\"');
    expect(r.body.spec.suspended).toBeUndefined();
    const strict = await post({ ...job({ suspended: true }), metadata: { name: 'j4' } }, '?fieldValidation=Strict');
    expect(strict.code).toBe(400);
    expect(strict.body.message).toContain('unknown field "spec.suspended"');
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
