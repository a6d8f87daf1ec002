import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually } from '@aevo/testkit';
import { useFakeKube } from '../../test/kube-fixture';
import type { FakeKubeApiServer as FakeKube } from '../testing/fake-kube-api';
import { kubernetesJobConfigFromEnv } from './kubernetes-executor';
import { jobNameOf } from './multinode';
import { kubernetesJobName } from './names';

jest.setTimeout(60_000);

const kube = useFakeKube();
const { spec, start } = kube;
let fake: FakeKube;
beforeEach(() => ({ fake } = kube.state()));

const multi = (jobId: string, nodes: number) => spec(jobId, { resources: { cpu: 4, memoryMiB: 16384, gpu: 2, nodes } });

describe('KubernetesExecutor, multi-node jobs (loopback API server, through @kubernetes/client-node)', () => {
  it('runs n ranks as one Indexed Job with a headless Service; all succeed; the Service goes at the end', async () => {
    const { ex, finished, started } = start();
    await ex.recover();
    const s = multi('mn-ok', 3);
    await ex.submit({ campaignId: 'camp1', spec: s });
    const name = jobNameOf(s);
    expect(fake.jobNames()).toEqual([name]);
    const job = fake.job(name)!;
    expect(job.spec.suspend).toBe(true); // Kueue's webhook holds it as one workload until admitted
    const svc = fake.service(name)!;
    expect(svc.spec).toMatchObject({ clusterIP: 'None', clusterIPs: ['None'], publishNotReadyAddresses: true });
    expect(svc.metadata.ownerReferences).toEqual([
      { apiVersion: 'batch/v1', kind: 'Job', name, uid: job.metadata.uid, blockOwnerDeletion: false },
    ]);

    await eventually(() => fake.openWatches() > 0);
    fake.admit(name);
    await started('mn-ok');
    const pods = fake.podsOf(name);
    expect(pods).toHaveLength(3);
    for (const [i, pod] of pods.entries()) {
      // What each rank's container sees, as the kubelet resolves the downward API.
      expect(fake.resolvedEnv(pod)).toMatchObject({
        MASTER_ADDR: `${name}-0.${name}`,
        MASTER_PORT: '29500',
        WORLD_SIZE: '3',
        RANK: String(i),
        NODE_RANK: String(i),
        LOCAL_RANK: '0',
        JOB_COMPLETION_INDEX: String(i),
      });
      expect(pod.spec.hostname).toBe(`${name}-${i}`);
      expect(pod.spec.subdomain).toBe(name);
      // The Service selects every rank (so that `<job>-<i>.<service>` resolves for each).
      for (const [k, v] of Object.entries(svc.spec.selector)) expect(pod.metadata.labels[k]).toBe(v);
    }
    await eventually(() => fake.openLogStreams() > 0);
    fake.log(name, 'rank 0: step 1 loss 2.0');
    fake.logRank(name, 1, 'rank 1: step 1 loss 2.1');
    fake.logRank(name, 2, 'rank 2: step 1 loss 1.9');
    fake.advance(60);
    fake.exitIndex(name, 1, 0);
    fake.exitIndex(name, 2, 0);
    expect(ex.view('mn-ok')?.phase).toBe('running'); // one rank still runs
    fake.exitIndex(name, 0, 0);
    const out = await finished('mn-ok');
    expect(out).toMatchObject({ status: 'succeeded', exitCode: 0, gpuCount: 6, wallSeconds: 60, gpuSeconds: 360 });
    expect(readFileSync(out.logPath!, 'utf8')).toBe('rank 0: step 1 loss 2.0\n'); // the job log is rank 0's
    // The other ranks' logs beside it, under the local executor's names.
    expect(readFileSync(out.logPath!.replace(/\.log$/, '.rank1.log'), 'utf8')).toBe('rank 1: step 1 loss 2.1\n');
    expect(readFileSync(out.logPath!.replace(/\.log$/, '.rank2.log'), 'utf8')).toBe('rank 2: step 1 loss 1.9\n');
    expect(fake.job(name)!.status.completedIndexes).toBe('0-2');
    await eventually(() => fake.service(name) === undefined);
  });

  it('fails the whole Job when one rank exits non-zero, naming the rank; the other ranks are stopped', async () => {
    const { ex, finished, started } = start();
    await ex.recover();
    const s = multi('mn-fails', 2);
    await ex.submit({ campaignId: 'camp1', spec: s });
    const name = jobNameOf(s);
    fake.admit(name);
    await started('mn-fails');
    fake.logRank(name, 1, 'Traceback: CUDA error on rank 1');
    fake.exitIndex(name, 1, 1);
    const out = await finished('mn-fails');
    // The failed rank's pod stays (Failed), so its log is kept beside the job log, and the tail is its.
    expect(readFileSync(join(kube.state().home, 'logs', 'mn-fails.rank1.log'), 'utf8')).toBe(
      'Traceback: CUDA error on rank 1\n',
    );
    expect(out.logTail).toBe('Traceback: CUDA error on rank 1');
    expect(out).toMatchObject({ status: 'failed', reason: 'exit-code', exitCode: 1 });
    expect(out.message).toMatch(/^rank 1 of 2 failed: .*exit code 1 matching FailJob rule/);
    expect(fake.job(name)!.status.conditions.map((c: { type: string }) => c.type)).toContain('Failed');
    expect(fake.podsOf(name).map((p) => p.status.phase)).toEqual(['Failed']); // rank 0 was terminated
    await eventually(() => fake.service(name) === undefined);
  });

  it('deletes the Service with the Job on cancel (owned by it), and keeps it for a redelivered submit', async () => {
    const { ex, finished } = start();
    await ex.recover();
    const s = multi('mn-cancel', 2);
    await ex.submit({ campaignId: 'camp1', spec: s });
    const name = jobNameOf(s);
    const b = start(); // another instance, given the same job again: the existing Job and Service are this job's
    expect((await b.ex.submit({ campaignId: 'camp1', spec: s })).accepted).toBe(false);
    expect(fake.serviceNames()).toEqual([name]);
    await ex.cancel('mn-cancel', 'operator');
    expect(await finished('mn-cancel')).toMatchObject({ status: 'cancelled' });
    expect(fake.jobNames()).toEqual([]);
    expect(fake.serviceNames()).toEqual([]);
  });

  it('creates no Service and no Indexed Job for a one-node job', async () => {
    const { ex } = start();
    await ex.recover();
    await ex.submit({
      campaignId: 'camp1',
      spec: spec('one-node', { resources: { cpu: 1, memoryMiB: 512, gpu: 0, nodes: 1 } }),
    });
    expect(fake.jobNames()).toEqual([kubernetesJobName('one-node')]);
    expect(fake.job(kubernetesJobName('one-node'))!.spec.completionMode).toBeUndefined();
    expect(fake.requests.filter((r) => r.path.includes('/services'))).toEqual([]);
  });

  it('a restarted dispatch adopts a multi-node Job: its ranks, GPUs and failed rank', async () => {
    const a = start();
    await a.ex.recover();
    const s = multi('mn-adopt', 2);
    await a.ex.submit({ campaignId: 'camp1', spec: s });
    const name = jobNameOf(s);
    await a.ex.close();
    // As if a dispatch had stopped between creating the Job and its Service.
    await fetch(`${fake.url}/api/v1/namespaces/aevo-jobs/services/${name}`, { method: 'DELETE' });
    const b = start(); // knows nothing of the job but what the Job object says
    await b.ex.recover();
    expect(fake.service(name)!.metadata.ownerReferences[0].uid).toBe(fake.job(name)!.metadata.uid);
    fake.admit(name);
    await b.started('mn-adopt');
    fake.advance(10);
    fake.exitIndex(name, 0, 5);
    const out = await b.finished('mn-adopt');
    expect(out).toMatchObject({ status: 'failed', exitCode: 5, gpuCount: 4, gpuSeconds: 40 });
    expect(out.message).toMatch(/^rank 0 of 2 failed: /);
    await eventually(() => fake.service(name) === undefined);
  });

  it('creates, when configured, a NetworkPolicy owned by the Job opening its pods to each other and DNS', async () => {
    const { ex, finished, started } = start({ rendezvousNetworkPolicy: true });
    await ex.recover();
    const s = multi('mn-netpol', 2);
    await ex.submit({ campaignId: 'camp1', spec: s });
    const name = jobNameOf(s);
    const np = fake.networkPolicy(name)!;
    expect(np.metadata.ownerReferences[0]).toMatchObject({ kind: 'Job', name, uid: fake.job(name)!.metadata.uid });
    expect(np.spec.podSelector).toEqual({ matchLabels: { 'batch.kubernetes.io/job-name': name } });
    // Each pod of the Job is selected (so the policy applies to it), and only the Job's own pods are let in.
    fake.admit(name);
    await started('mn-netpol');
    for (const pod of fake.podsOf(name)) expect(pod.metadata.labels['batch.kubernetes.io/job-name']).toBe(name);
    expect(np.spec.ingress).toEqual([
      { from: [{ podSelector: { matchLabels: { 'batch.kubernetes.io/job-name': name } } }] },
    ]);
    fake.exitIndex(name, 0, 0);
    fake.exitIndex(name, 1, 0);
    expect(await finished('mn-netpol')).toMatchObject({ status: 'succeeded' });
    await eventually(() => fake.networkPolicy(name) === undefined && fake.service(name) === undefined);
  });

  it('reads AEVO_K8S_MASTER_PORT and AEVO_K8S_RENDEZVOUS_NETWORK_POLICY, naming a bad variable', () => {
    const env = { AEVO_K8S_IMAGE: 'img', AEVO_HOME: '/srv/aevo' };
    expect(kubernetesJobConfigFromEnv(env)).not.toHaveProperty('masterPort');
    expect(kubernetesJobConfigFromEnv(env)).not.toHaveProperty('rendezvousNetworkPolicy');
    const on = { ...env, AEVO_K8S_RENDEZVOUS_NETWORK_POLICY: 'true' };
    expect(kubernetesJobConfigFromEnv(on).rendezvousNetworkPolicy).toBe(true);
    expect(() => kubernetesJobConfigFromEnv({ ...env, AEVO_K8S_RENDEZVOUS_NETWORK_POLICY: 'yes' })).toThrow(
      /AEVO_K8S_RENDEZVOUS_NETWORK_POLICY: expected true or false, got "yes"/,
    );
    expect(kubernetesJobConfigFromEnv({ ...env, AEVO_K8S_MASTER_PORT: '23456' }).masterPort).toBe(23456);
    expect(() => kubernetesJobConfigFromEnv({ ...env, AEVO_K8S_MASTER_PORT: '70000' })).toThrow(
      /AEVO_K8S_MASTER_PORT: expected an integer port 1\.\.65535, got 70000/,
    );
  });

  it('refuses a configuration whose master port is no port, naming the field', () => {
    expect(() => start({ masterPort: 70000 })).toThrow(/masterPort: expected an integer port 1\.\.65535, got 70000/);
  });
});
