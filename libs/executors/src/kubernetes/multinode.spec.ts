import type { JobSpec } from '@aevo/contracts';
import type { IsolationPlan } from '../isolation';
import { ANNOTATIONS, buildJobManifest, type KubernetesJobConfig } from './manifest';
import {
  buildRendezvousNetworkPolicy,
  buildRendezvousService,
  jobManifestFor,
  jobNameOf,
  masterAddrOf,
  MULTI_NODE_NAME_MAX,
  toMultiNodeJob,
} from './multinode';
import { isDnsLabel, kubernetesJobName } from './names';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const snap = 'ef'.repeat(32);
const cfg: KubernetesJobConfig = {
  namespace: 'aevo-jobs',
  image: 'registry.example/aevo-substrate:1',
  queueName: 'aevo-training',
  priorityClasses: { high: 'aevo-high' },
  pvcClaimName: 'aevo-home',
  sandboxRoot: '/srv/aevo',
  mountPath: '/var/lib/aevo',
};
const plan: IsolationPlan = {
  home: '/srv/aevo',
  sandbox: '/srv/aevo/sandboxes/c1',
  snapshot: `/srv/aevo/snapshots/${snap}`,
  pinned: ['harness'],
  outputs: ['/srv/aevo/sandboxes/c1/checkpoints'],
  inputs: [],
};
const spec = (resources: JobSpec['resources'], jobId = 'camp1-r2-c1-train-1'): JobSpec => ({
  jobId,
  candidateId: 'camp1-r2-c1',
  round: 2,
  entrypoint: 'train',
  sandboxPath: '/srv/aevo/sandboxes/c1',
  argv: ['python', 'harness/train.py'],
  env: { AEVO_SEED: '7', RANK: 'spoofed' },
  resources,
  timeoutSeconds: 3600,
  priority: 'high',
  isolation: { snapshotId: snap, outputs: ['checkpoints'], inputs: [] },
});
const job = (resources: JobSpec['resources'], jobId?: string) => ({
  campaignId: 'camp1',
  spec: spec(resources, jobId),
});

describe('jobManifestFor, one node', () => {
  it('is byte for byte the Job of before multi-node jobs, with nodes absent or 1', () => {
    const absent = JSON.stringify(jobManifestFor(cfg, job({ cpu: 4, memoryMiB: 16384, gpu: 2 }), plan), null, 1);
    const one = JSON.stringify(jobManifestFor(cfg, job({ cpu: 4, memoryMiB: 16384, gpu: 2, nodes: 1 }), plan), null, 1);
    expect(one).toBe(absent);
    expect(absent).toBe(
      JSON.stringify(buildJobManifest(cfg, job({ cpu: 4, memoryMiB: 16384, gpu: 2 }), plan), null, 1),
    );
    // Recorded from buildJobManifest as it was before `nodes` existed (its code is unchanged by it).
    expect(absent).toMatchSnapshot();
    expect(absent).not.toMatch(/Indexed|subdomain|MASTER_ADDR|aevo\.dev\/nodes/);
    expect(jobNameOf(spec({ cpu: 1, memoryMiB: 1, gpu: 0 }))).toBe(kubernetesJobName('camp1-r2-c1-train-1'));
  });
});

describe('jobManifestFor, several nodes', () => {
  const m: Json = jobManifestFor(cfg, job({ cpu: 4, memoryMiB: 16384, gpu: 2, nodes: 4 }), plan);
  const name = jobNameOf(spec({ cpu: 4, memoryMiB: 16384, gpu: 2, nodes: 4 }));

  it('is an Indexed Job of n pods at once, no retries, failed by any non-zero exit', () => {
    expect(m.spec).toMatchObject({ completionMode: 'Indexed', completions: 4, parallelism: 4, backoffLimit: 0 });
    expect(m.spec.podFailurePolicy.rules).toEqual([
      { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] },
      { action: 'FailJob', onExitCodes: { containerName: 'job', operator: 'NotIn', values: [0] } },
    ]);
    expect(m.spec.template.spec.restartPolicy).toBe('Never'); // what podFailurePolicy requires
  });

  it('keeps the Kueue labels, the isolation and the per-node resources; charges the GPUs of every node', () => {
    const one: Json = buildJobManifest(cfg, job({ cpu: 4, memoryMiB: 16384, gpu: 2 }), plan);
    expect(m.metadata.labels).toEqual(one.metadata.labels);
    expect(m.metadata.labels['kueue.x-k8s.io/queue-name']).toBe('aevo-training');
    expect(m.spec.suspend).toBe(one.spec.suspend);
    expect(m.spec.template.metadata).toEqual(one.spec.template.metadata);
    const [c, c1] = [m.spec.template.spec.containers[0], one.spec.template.spec.containers[0]];
    expect(c.resources).toEqual({
      requests: { cpu: '4', memory: '16384Mi' },
      limits: { memory: '16384Mi', 'nvidia.com/gpu': '2' },
    });
    expect(c.securityContext).toEqual(c1.securityContext);
    expect(c.volumeMounts).toEqual(c1.volumeMounts);
    expect(m.spec.template.spec.automountServiceAccountToken).toBe(false);
    expect(m.metadata.annotations[ANNOTATIONS.gpu]).toBe('8');
    expect(m.metadata.annotations[ANNOTATIONS.nodes]).toBe('4');
  });

  it("gives the rendezvous environment: rank 0's name, the port, the world; RANK from the completion index", () => {
    expect(m.metadata.name).toBe(name);
    expect(m.spec.template.spec.subdomain).toBe(name);
    const env: Json[] = m.spec.template.spec.containers[0].env;
    const value = (n: string) => env.filter((e) => e.name === n);
    expect(value('MASTER_ADDR')).toEqual([{ name: 'MASTER_ADDR', value: `${name}-0.${name}` }]);
    expect(value('MASTER_PORT')).toEqual([{ name: 'MASTER_PORT', value: '29500' }]);
    expect(value('WORLD_SIZE')).toEqual([{ name: 'WORLD_SIZE', value: '4' }]);
    expect(value('LOCAL_RANK')).toEqual([{ name: 'LOCAL_RANK', value: '0' }]);
    const fromIndex = {
      valueFrom: { fieldRef: { fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" } },
    };
    // The spec's own RANK cannot override the one the pod's index gives.
    expect(value('RANK')).toEqual([{ name: 'RANK', ...fromIndex }]);
    expect(value('NODE_RANK')).toEqual([{ name: 'NODE_RANK', ...fromIndex }]);
    expect(value('AEVO_SEED')).toEqual([{ name: 'AEVO_SEED', value: '7' }]);
    expect(JSON.stringify(m)).not.toMatch(/\bsh\b|bash/);
  });

  it('keeps every pod hostname (<job>-<index>) a DNS label, even for the longest job ids', () => {
    const long = spec({ cpu: 1, memoryMiB: 1, gpu: 0, nodes: 64 }, `${'x'.repeat(120)}-train-1`);
    const n = jobNameOf(long);
    expect(n.length).toBeLessThanOrEqual(MULTI_NODE_NAME_MAX);
    expect(isDnsLabel(`${n}-63`)).toBe(true);
    expect(isDnsLabel(masterAddrOf(n).split('.')[0])).toBe(true);
    expect(() => toMultiNodeJob(cfg, long, buildJobManifest(cfg, { campaignId: 'c', spec: long }, plan))).not.toThrow();
  });

  it('takes the master port from the configuration', () => {
    const p: Json = jobManifestFor(
      { ...cfg, masterPort: 23456 },
      job({ cpu: 1, memoryMiB: 1, gpu: 0, nodes: 2 }),
      plan,
    );
    const env: Json[] = p.spec.template.spec.containers[0].env;
    expect(env).toContainEqual({ name: 'MASTER_PORT', value: '23456' });
  });
});

describe('buildRendezvousNetworkPolicy', () => {
  it("lets only the Job's own pods in and out to each other, plus DNS to the cluster resolver", () => {
    const np: Json = buildRendezvousNetworkPolicy(cfg, { metadata: { name: 'aevo-x-1', uid: 'u-1' } });
    const same = [{ podSelector: { matchLabels: { 'batch.kubernetes.io/job-name': 'aevo-x-1' } } }];
    expect(np.metadata).toMatchObject({
      name: 'aevo-x-1',
      namespace: 'aevo-jobs',
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: 'aevo-x-1', uid: 'u-1' }],
    });
    expect(np.spec.podSelector).toEqual(same[0].podSelector);
    expect(np.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(np.spec.ingress).toEqual([{ from: same }]);
    expect(np.spec.egress[0]).toEqual({ to: same });
    expect(np.spec.egress[1].ports).toEqual([
      { protocol: 'UDP', port: 53 },
      { protocol: 'TCP', port: 53 },
    ]);
    expect(np.spec.egress).toHaveLength(2);
  });
});

describe('buildRendezvousService', () => {
  it("is headless, publishes not-ready pods, selects the Job's pods and is owned by the Job", () => {
    const svc: Json = buildRendezvousService(cfg, {
      metadata: { name: 'aevo-x-1', uid: 'u-1', labels: { 'aevo.dev/job': 'x-1' } },
    });
    expect(svc).toMatchObject({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: 'aevo-x-1',
        namespace: 'aevo-jobs',
        labels: { 'aevo.dev/managed-by': 'aevo-dispatch', 'aevo.dev/job': 'x-1' },
        ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: 'aevo-x-1', uid: 'u-1' }],
      },
      spec: {
        clusterIP: 'None',
        publishNotReadyAddresses: true,
        selector: { 'batch.kubernetes.io/job-name': 'aevo-x-1' },
      },
    });
  });
});
