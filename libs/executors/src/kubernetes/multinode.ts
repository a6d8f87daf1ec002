import { jobNodes, MAX_JOB_NODES, type JobSpec } from '@aevo/contracts';
import { DEFAULT_MASTER_PORT, sharedRendezvousEnv } from '../rendezvous';
import type { IsolationPlan } from '../isolation';
import type { ExecutorJob } from '../types';
import {
  ANNOTATIONS,
  buildJobManifest,
  CONTAINER_NAME,
  LABELS,
  MANAGED_BY,
  type KubernetesJobConfig,
} from './manifest';
import { isDnsLabel, kubernetesJobName, labelValue } from './names';

/** Set by the Job controller on every pod of an Indexed Job (annotation, and label since Kubernetes 1.28). */
export const COMPLETION_INDEX = 'batch.kubernetes.io/job-completion-index';
/** Set by the Job controller on every pod of a Job: what the headless Service selects. */
export const JOB_NAME_LABEL = 'batch.kubernetes.io/job-name';

/**
 * Longest name of a multi-node Job: its pods' hostnames are `<job>-<index>` (DNS labels, ≤ 63), and the index of
 * rank MAX_JOB_NODES - 1 takes at most two digits and a dash.
 */
export const MULTI_NODE_NAME_MAX = 63 - 1 - String(MAX_JOB_NODES - 1).length;

/** The batch/v1 Job name of a job: unchanged for one node; shortened to leave room for the index for several. */
export function jobNameOf(spec: Pick<JobSpec, 'jobId' | 'resources'>): string {
  return jobNodes(spec.resources) > 1
    ? kubernetesJobName(spec.jobId, MULTI_NODE_NAME_MAX)
    : kubernetesJobName(spec.jobId);
}

/**
 * The headless Service of a multi-node Job: named as the Job (a Service is another kind, so the names do not clash),
 * which is a DNS-1035 label because Job names start with `aevo-`.
 */
export const rendezvousServiceName = (jobName: string): string => jobName;

/** Rank 0's stable DNS name: `<hostname>.<subdomain>`, the hostname of an Indexed Job's pod being `<job>-<index>`. */
export const masterAddrOf = (jobName: string): string => `${jobName}-0.${rendezvousServiceName(jobName)}`;

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * Turns the one-pod Job that buildJobManifest made into a multi-node one: an Indexed Job of `nodes` pods that run at
 * once (Kueue admits it as one workload with a pod set of that count), no retries (a rank cannot rejoin a broken
 * rendezvous), every non-zero exit fails the Job at once (podFailurePolicy FailJob, which needs restartPolicy Never,
 * as every aevo pod has), pods addressable through the headless Service (`subdomain`) and the rendezvous environment.
 * RANK and NODE_RANK come from the pod's completion index through the downward API: no shell in the pod.
 */
export function toMultiNodeJob(
  cfg: Pick<KubernetesJobConfig, 'masterPort'>,
  spec: JobSpec,
  manifest: Json,
): Record<string, unknown> {
  const nodes = jobNodes(spec.resources);
  const name = jobNameOf(spec);
  if (!isDnsLabel(name) || name.length > MULTI_NODE_NAME_MAX)
    throw new Error(`multi-node Job name ${name} leaves no room for the pods' index (at most ${MULTI_NODE_NAME_MAX})`);
  const m = structuredClone(manifest);
  m.metadata.name = name;
  // The whole Job's GPUs: what its runs are charged (a restarted dispatch reads this annotation back).
  m.metadata.annotations[ANNOTATIONS.gpu] = String(spec.resources.gpu * nodes);
  m.metadata.annotations[ANNOTATIONS.nodes] = String(nodes);
  const s = m.spec;
  s.completionMode = 'Indexed';
  s.completions = nodes;
  s.parallelism = nodes;
  s.backoffLimit = 0;
  s.podFailurePolicy = {
    rules: [
      // Preemption, eviction, node drain: not the job's fault (Kueue suspends and resumes the whole Job).
      { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] },
      // Any rank ending with a non-zero code ends the Job: the others would wait on the rendezvous until the deadline.
      { action: 'FailJob', onExitCodes: { containerName: CONTAINER_NAME, operator: 'NotIn', values: [0] } },
    ],
  };
  const pod = s.template.spec;
  pod.subdomain = rendezvousServiceName(name);
  const container = pod.containers[0];
  const rdv = sharedRendezvousEnv({
    masterAddr: masterAddrOf(name),
    masterPort: cfg.masterPort ?? DEFAULT_MASTER_PORT,
    worldSize: nodes,
  });
  const rankFrom = { valueFrom: { fieldRef: { fieldPath: `metadata.annotations['${COMPLETION_INDEX}']` } } };
  const ours = new Set([...Object.keys(rdv), 'RANK', 'NODE_RANK']);
  container.env = [
    ...container.env.filter((e: { name: string }) => !ours.has(e.name)),
    ...Object.entries(rdv).map(([k, value]) => ({ name: k, value })),
    { name: 'RANK', ...rankFrom },
    { name: 'NODE_RANK', ...rankFrom },
  ];
  container.ports = [{ name: 'rendezvous', containerPort: cfg.masterPort ?? DEFAULT_MASTER_PORT, protocol: 'TCP' }];
  return m;
}

/**
 * The headless Service that gives each pod of a multi-node Job its DNS name (`<job>-<index>.<service>`), before the
 * pods are ready (a rendezvous happens before any readiness). Owned by the Job, so the garbage collector deletes it
 * with the Job (dispatch deletes it too when the job ends).
 */
export function buildRendezvousService(
  cfg: Pick<KubernetesJobConfig, 'namespace' | 'instance' | 'masterPort'>,
  job: { metadata: { name: string; uid: string; labels?: Record<string, string> } },
): Record<string, unknown> {
  const name = job.metadata.name;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: ownedMetadata(cfg, job),
    spec: {
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      selector: { [JOB_NAME_LABEL]: name },
      ports: [
        {
          name: 'rendezvous',
          port: cfg.masterPort ?? DEFAULT_MASTER_PORT,
          targetPort: cfg.masterPort ?? DEFAULT_MASTER_PORT,
          protocol: 'TCP',
        },
      ],
    },
  };
}

/** The Job for a job spec: buildJobManifest's, byte for byte, for one node; an Indexed Job for several. */
export function jobManifestFor(
  cfg: KubernetesJobConfig,
  job: ExecutorJob,
  plan: IsolationPlan,
): Record<string, unknown> {
  const manifest = buildJobManifest(cfg, job, plan);
  return jobNodes(job.spec.resources) > 1 ? toMultiNodeJob(cfg, job.spec, manifest) : manifest;
}

/**
 * Opt-in (`rendezvousNetworkPolicy`): a NetworkPolicy, owned by the multi-node Job and named as it, that opens what
 * the namespace's deny-all policy closes only as far as a rendezvous needs: traffic between the pods of this one
 * Job, and DNS to the cluster's resolver (to find `<job>-0.<service>`). NetworkPolicies add up, so nothing else opens;
 * DNS is a channel out through the resolver, which is why a cluster operator turns this on.
 */
export function buildRendezvousNetworkPolicy(
  cfg: Pick<KubernetesJobConfig, 'namespace' | 'instance'>,
  job: { metadata: { name: string; uid: string; labels?: Record<string, string> } },
): Record<string, unknown> {
  const name = job.metadata.name;
  const samejob = [{ podSelector: { matchLabels: { [JOB_NAME_LABEL]: name } } }];
  const dns = {
    namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
    podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
  };
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: ownedMetadata(cfg, job),
    spec: {
      podSelector: { matchLabels: { [JOB_NAME_LABEL]: name } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [{ from: samejob }],
      egress: [
        { to: samejob },
        {
          to: [dns],
          ports: [
            { protocol: 'UDP', port: 53 },
            { protocol: 'TCP', port: 53 },
          ],
        },
      ],
    },
  };
}

/** Metadata of an object that lives and dies with a multi-node Job: its name, dispatch's labels, owned by the Job. */
function ownedMetadata(
  cfg: Pick<KubernetesJobConfig, 'namespace' | 'instance'>,
  job: { metadata: { name: string; uid: string; labels?: Record<string, string> } },
): Record<string, unknown> {
  const name = job.metadata.name;
  return {
    name: rendezvousServiceName(name),
    namespace: cfg.namespace,
    labels: {
      [LABELS.managedBy]: MANAGED_BY,
      [LABELS.instance]: labelValue(cfg.instance ?? 'default'),
      ...(job.metadata.labels?.[LABELS.job] ? { [LABELS.job]: job.metadata.labels[LABELS.job] } : {}),
    },
    ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name, uid: job.metadata.uid, blockOwnerDeletion: false }],
  };
}

/**
 * A NetworkPolicy as @kubernetes/client-node's typed API takes it: it serialises by its models' property names, and
 * an ingress rule's `from` is `_from` there (a plain `from` would be dropped, opening ingress to every pod).
 */
export function networkPolicyForClient(np: Record<string, unknown>): Record<string, unknown> {
  const spec = np.spec as { ingress?: Array<Record<string, unknown>> };
  const ingress = spec.ingress?.map(({ from, ...rule }) => ({ ...rule, _from: from }));
  return { ...np, spec: { ...spec, ...(ingress ? { ingress } : {}) } };
}
