import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually } from '@aevo/testkit';
import { kubernetesJobName } from './names';
import { useFakeKube } from '../../test/kube-fixture';
import type { FakeKubeApiServer as FakeKube } from '../testing/fake-kube-api';

jest.setTimeout(60_000);

const kube = useFakeKube();
const { spec, start } = kube;
let fake: FakeKube;
let home: string;
beforeEach(() => ({ fake, home } = kube.state()));

/** Replaces the test's fake API server by one with options (the old one is stopped). */
async function useFake(opts: ConstructorParameters<typeof FakeKube>[0]) {
  await kube.replaceFake(opts);
  fake = kube.state().fake;
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

  it(
    'charges a preemption it missed between two looks (a newer ' + 'startTime) until the resumption, as a new attempt',
    async () => {
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
    },
  );

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

  it(
    'fails a Job left suspended past its queue deadline (its LocalQueue ' +
      'does not exist) as queue-timeout, and deletes it',
    async () => {
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
    },
  );

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

  it(
    'retries under backoffLimit: a failed pod is replaced ' + '(Pending, then Running) and a later pod succeeds',
    async () => {
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
      // counted: failed 1 ≤ backoffLimit 2; the controller backs off first
      fake.exit(name, 1, { replacement: 'later' });
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
      expect(fake.requests.filter((q) => q.path.endsWith(`/pods/${fake.podsOf(name)[1].metadata.name}/log`))).toEqual(
        [],
      ); // Pending: no log yet
      fake.advance(10);
      fake.startPod(name);
      await eventually(() => fake.openLogStreams() > 0);
      fake.log(name, 'second pod');
      fake.advance(10);
      fake.exit(name, 0);
      const out = await finished('flaky');
      expect(out).toMatchObject({ status: 'succeeded', exitCode: 0, wallSeconds: 30 });
      expect(readFileSync(out.logPath!, 'utf8')).toBe('first pod\nsecond pod\n');
      // one admitted run
      expect(events.filter((e) => e.jobId === 'flaky').map((e) => e.type)).toEqual(['started', 'finished']);
    },
  );

  it(
    'fails after backoffLimit: the pod beyond the limit ends the Job ' +
      '(FailureTarget, then Failed BackoffLimitExceeded)',
    async () => {
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
    },
  );

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
    // …and the rest of the burst, same stamp, same text
    fake.write(name, 'loss 0.5\n', { sameTimestampAsPrevious: true });
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
    // the server ended it
    await eventually(() => fake.requests.filter((q) => q.query.watch === 'true').length > watchesBefore, 10_000);
    const rewatch = fake.requests.filter((q) => q.query.watch === 'true')[watchesBefore];
    expect(Number(rewatch.query.resourceVersion)).toBeGreaterThan(seen);
    fake.admit(kubernetesJobName('bookmarked'));
    fake.exit(kubernetesJobName('bookmarked'), 0);
    expect(await finished('bookmarked')).toMatchObject({ status: 'succeeded' });
    expect(ex.relists).toBe(relists); // no 410, no relist
  });
});
