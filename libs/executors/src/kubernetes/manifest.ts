import { isAbsolute, posix, relative, resolve, sep } from 'node:path';
import { IsolationRefused, JOB_GID, JOB_UID, SANDBOX_BASE_ENV, type IsolationPlan } from '../isolation';
import type { ExecutorJob } from '../types';
import { kubernetesJobName, labelValue } from './names';

export const LABELS = {
  queueName: 'kueue.x-k8s.io/queue-name',
  priorityClass: 'kueue.x-k8s.io/priority-class',
  campaign: 'aevo.dev/campaign',
  candidate: 'aevo.dev/candidate',
  job: 'aevo.dev/job',
  entrypoint: 'aevo.dev/entrypoint',
  managedBy: 'aevo.dev/managed-by',
  /** Separates several aevo installations sharing a namespace. */
  instance: 'aevo.dev/dispatch-instance',
  /** On every job pod: what the NetworkPolicy in deploy/k8s selects to cut the pod off the network. */
  role: 'aevo.dev/role',
} as const;

export const JOB_ROLE = 'job';

/** Exact ids (labels may be shortened to fit 63 chars). */
export const ANNOTATIONS = {
  jobId: 'aevo.dev/job-id',
  campaignId: 'aevo.dev/campaign-id',
  candidateId: 'aevo.dev/candidate-id',
  round: 'aevo.dev/round',
  gpu: 'aevo.dev/gpu',
  timeoutSeconds: 'aevo.dev/timeout-seconds',
  /**
   * Admitted runs that ended in a preemption, `[[start, end], …]` (RFC3339), written by dispatch when it sees the
   * suspension: the Job itself forgets them (Kueue clears startTime), and a restarted dispatch must still charge them.
   */
  runs: 'aevo.dev/runs',
  /** Ranks of a multi-node Job (absent on a one-node Job). */
  nodes: 'aevo.dev/nodes',
} as const;

export const MANAGED_BY = 'aevo-dispatch';
export const CONTAINER_NAME = 'job';
export const VOLUME_NAME = 'aevo-home';
export const TMP_VOLUME_NAME = 'tmp';

export interface KubernetesJobConfig {
  namespace: string;
  /** Image with the substrate's runtime (python, torch, …). */
  image: string;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** Kueue LocalQueue name (label kueue.x-k8s.io/queue-name). */
  queueName: string;
  /** Kueue WorkloadPriorityClass per job priority (label kueue.x-k8s.io/priority-class); unset → no label. */
  priorityClasses?: Partial<Record<'high' | 'normal' | 'low', string>>;
  /**
   * The sandboxes live on a ReadWriteMany PVC: dispatch (and substrate) see it at `sandboxRoot` (AEVO_HOME), a job's
   * pod mounts the same claim at `mountPath`. A sandbox path must lie under `sandboxRoot`; its working directory in the
   * pod is the same relative path under `mountPath`.
   */
  pvcClaimName: string;
  sandboxRoot: string;
  mountPath: string;
  /** Pod retries before the Job fails (disruptions do not count: podFailurePolicy ignores DisruptionTarget). */
  backoffLimit?: number;
  ttlSecondsAfterFinished?: number;
  serviceAccountName?: string;
  instance?: string;
  /** Create Jobs suspended (Kueue's webhook does it anyway for queued Jobs; useful without the webhook). */
  createSuspended?: boolean;
  /** uid and gid the job's container runs as (default 65534, nobody: it owns nothing on the shared volume). */
  runAsUser?: number;
  runAsGroup?: number;
  /**
   * Pod fsGroup; unset by default because the kubelet then chowns the whole shared volume (not just the mounted
   * sub-paths) on volumes that support ownership management. Output directories are made writable by dispatch instead.
   */
  fsGroup?: number;
  /** Size limit of the pod's private /tmp (an emptyDir), e.g. "8Gi"; unset → bounded only by the node. */
  tmpSizeLimit?: string;
  /**
   * Longest a Job may wait suspended or queued in one stretch (before its first admission, or between a preemption and
   * its next admission) before it fails with `queue-timeout` and is deleted; 0 = wait forever. A LocalQueue that does
   * not exist or a deactivated workload otherwise leaves a Job queued for ever. Default DEFAULT_QUEUE_DEADLINE_SECONDS.
   */
  queueDeadlineSeconds?: number;
  /** Port rank 0 of a multi-node Job listens on for the rendezvous (MASTER_PORT). Default 29500, torch's own. */
  masterPort?: number;
  /**
   * Create, with each multi-node Job, a NetworkPolicy owned by it that lets its pods reach each other and the cluster
   * DNS (a namespace whose default denies all traffic otherwise leaves ranks unable to meet). Default false.
   */
  rendezvousNetworkPolicy?: boolean;
}

export const DEFAULT_QUEUE_DEADLINE_SECONDS = 6 * 3600;

export const DEFAULT_BACKOFF_LIMIT = 1;
export const DEFAULT_TTL_SECONDS = 86_400;

/** Where the sandbox is inside the pod; throws when it is not on the shared volume. */
export function podWorkingDir(
  cfg: Pick<KubernetesJobConfig, 'sandboxRoot' | 'mountPath'>,
  sandboxPath: string,
): string {
  const root = resolve(cfg.sandboxRoot);
  const abs = resolve(root, sandboxPath);
  const rel = relative(root, abs);
  if (rel.startsWith('..') || isAbsolute(rel))
    throw new Error(
      `sandboxPath ${sandboxPath} is not under the shared volume root ${root} (AEVO_HOME), so no pod can reach it`,
    );
  return posix.join(cfg.mountPath, ...rel.split(sep).filter(Boolean));
}

/** The uid and gid job containers run as. */
export function jobIds(cfg: Pick<KubernetesJobConfig, 'runAsUser' | 'runAsGroup'>): { uid: number; gid: number } {
  return { uid: cfg.runAsUser ?? JOB_UID, gid: cfg.runAsGroup ?? JOB_GID };
}

export interface PodVolumeMount {
  name: string;
  mountPath: string;
  subPath?: string;
  readOnly: boolean;
}

/**
 * The shared volume mounted piece by piece (subPath only, never whole), from an isolation plan: the sandbox read-only,
 * each pinned path from the snapshot read-only over the sandbox's copy, each output writable, each input read-only —
 * each at the path the job's argv names (AEVO_HOME seen at `mountPath`). Nothing else of AEVO_HOME is in the pod.
 * Listed shallowest first (as container runtimes order them anyway), so nested mounts cover the sandbox.
 */
export function podMounts(
  cfg: Pick<KubernetesJobConfig, 'sandboxRoot' | 'mountPath'>,
  sandboxPath: string,
  plan: IsolationPlan,
): { workingDir: string; volumeMounts: PodVolumeMount[] } {
  // The argv was rendered with the spec's sandbox path, so the sandbox appears where that path maps to, even if the
  // real directory differs (a symlink inside AEVO_HOME); everything else maps by its real path under AEVO_HOME.
  const workingDir = podWorkingDir(cfg, sandboxPath);
  const subPath = (hostPath: string, field: string): string => {
    const rel = relative(plan.home, hostPath);
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel))
      throw new IsolationRefused(
        `job isolation refused: ${field}: ${hostPath} is not inside AEVO_HOME (${plan.home}), so no pod can mount it`,
        [{ path: field, message: `${hostPath} is not inside AEVO_HOME (${plan.home})` }],
      );
    return rel.split(sep).join('/');
  };
  const podPath = (hostPath: string, field: string): string => {
    const inSandbox = relative(plan.sandbox, hostPath);
    if (inSandbox === '') return workingDir;
    if (!inSandbox.startsWith('..') && !isAbsolute(inSandbox)) return posix.join(workingDir, ...inSandbox.split(sep));
    return posix.join(cfg.mountPath, subPath(hostPath, field));
  };
  const byPath = new Map<string, PodVolumeMount>();
  const add = (m: Omit<PodVolumeMount, 'name'>) => {
    byPath.delete(m.mountPath); // one mount per path (the API rejects duplicates); the later, as with bwrap, wins
    byPath.set(m.mountPath, { name: VOLUME_NAME, ...m });
  };
  add({ mountPath: workingDir, subPath: subPath(plan.sandbox, 'sandboxPath'), readOnly: true });
  for (const p of plan.pinned)
    add({
      mountPath: posix.join(workingDir, ...p.split('/')),
      subPath: posix.join(subPath(plan.snapshot, 'isolation.snapshotId'), p),
      readOnly: true,
    });
  plan.outputs.forEach((out, i) =>
    add({
      mountPath: podPath(out, `isolation.outputs.${i}`),
      subPath: subPath(out, `isolation.outputs.${i}`),
      readOnly: false,
    }),
  );
  plan.inputs.forEach((inp, i) => {
    // An input inside the sandbox is already visible read-only there (and must not cover a pinned path with the
    // sandbox's own copy).
    const rel = relative(plan.sandbox, inp);
    if (rel === '' || (!rel.startsWith('..') && !isAbsolute(rel))) return;
    add({
      mountPath: podPath(inp, `isolation.inputs.${i}`),
      subPath: subPath(inp, `isolation.inputs.${i}`),
      readOnly: true,
    });
  });
  const depth = (m: PodVolumeMount) => m.mountPath.split('/').length;
  return { workingDir, volumeMounts: [...byPath.values()].sort((a, b) => depth(a) - depth(b)) };
}

/**
 * The job's environment: the clean sandbox base, what the spec names, and its id. Nothing from the image's config maps
 * or secrets.
 */
export function jobEnv(spec: ExecutorJob['spec']): Array<{ name: string; value: string }> {
  const env: Record<string, string> = { ...SANDBOX_BASE_ENV, ...spec.env, AEVO_JOB_ID: spec.jobId };
  return Object.entries(env).map(([name, value]) => ({ name, value }));
}

/** Label selector of every Job this dispatch installation manages. */
export function managedSelector(cfg: Pick<KubernetesJobConfig, 'instance'>): string {
  return `${LABELS.managedBy}=${MANAGED_BY},${LABELS.instance}=${labelValue(cfg.instance ?? 'default')}`;
}

/**
 * The batch/v1 Job for a job spec (plain JSON, as the API server takes it), enclosed by its isolation plan: non-root,
 * no capabilities, no privilege escalation, read-only root filesystem, RuntimeDefault seccomp, no service-account
 * token, no service environment variables, a private /tmp, and only the plan's sub-paths of the shared volume.
 */
export function buildJobManifest(
  cfg: KubernetesJobConfig,
  job: ExecutorJob,
  plan: IsolationPlan,
): Record<string, unknown> {
  const { spec, campaignId } = job;
  const name = kubernetesJobName(spec.jobId);
  const labels: Record<string, string> = {
    [LABELS.queueName]: cfg.queueName,
    [LABELS.campaign]: labelValue(campaignId),
    [LABELS.candidate]: labelValue(spec.candidateId),
    [LABELS.job]: labelValue(spec.jobId),
    [LABELS.entrypoint]: spec.entrypoint,
    [LABELS.managedBy]: MANAGED_BY,
    [LABELS.instance]: labelValue(cfg.instance ?? 'default'),
    [LABELS.role]: JOB_ROLE,
  };
  const priorityClass = cfg.priorityClasses?.[spec.priority];
  if (priorityClass) labels[LABELS.priorityClass] = priorityClass;
  const memory = `${spec.resources.memoryMiB}Mi`;
  const limits: Record<string, string> = { memory };
  if (spec.resources.gpu > 0) limits['nvidia.com/gpu'] = String(spec.resources.gpu);
  const { workingDir, volumeMounts } = podMounts(cfg, spec.sandboxPath, plan);
  const { uid, gid } = jobIds(cfg);
  const seccompProfile = { type: 'RuntimeDefault' };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name,
      namespace: cfg.namespace,
      labels,
      annotations: {
        [ANNOTATIONS.jobId]: spec.jobId,
        [ANNOTATIONS.campaignId]: campaignId,
        [ANNOTATIONS.candidateId]: spec.candidateId,
        [ANNOTATIONS.round]: String(spec.round),
        [ANNOTATIONS.gpu]: String(spec.resources.gpu),
        [ANNOTATIONS.timeoutSeconds]: String(spec.timeoutSeconds),
      },
    },
    spec: {
      ...(cfg.createSuspended ? { suspend: true } : {}),
      backoffLimit: cfg.backoffLimit ?? DEFAULT_BACKOFF_LIMIT,
      activeDeadlineSeconds: spec.timeoutSeconds,
      ttlSecondsAfterFinished: cfg.ttlSecondsAfterFinished ?? DEFAULT_TTL_SECONDS,
      podFailurePolicy: {
        rules: [
          // Preemption, eviction, node drain: not the job's fault, does not count against backoffLimit.
          { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] },
          // A diverged run (substrate contract: exit 3) will diverge again: fail at once, no retry.
          { action: 'FailJob', onExitCodes: { containerName: CONTAINER_NAME, operator: 'In', values: [3] } },
        ],
      },
      template: {
        metadata: {
          labels: {
            [LABELS.managedBy]: MANAGED_BY,
            [LABELS.job]: labels[LABELS.job],
            [LABELS.candidate]: labels[LABELS.candidate],
            [LABELS.role]: JOB_ROLE,
          },
        },
        spec: {
          restartPolicy: 'Never', // required by podFailurePolicy; retries are new pods, counted by backoffLimit
          ...(cfg.serviceAccountName ? { serviceAccountName: cfg.serviceAccountName } : {}),
          // Candidate code must not reach the API server as anyone, nor learn the cluster's services from env.
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: uid,
            runAsGroup: gid,
            ...(cfg.fsGroup !== undefined ? { fsGroup: cfg.fsGroup, fsGroupChangePolicy: 'OnRootMismatch' } : {}),
            seccompProfile,
          },
          containers: [
            {
              name: CONTAINER_NAME,
              image: cfg.image,
              ...(cfg.imagePullPolicy ? { imagePullPolicy: cfg.imagePullPolicy } : {}),
              command: spec.argv,
              workingDir,
              env: jobEnv(spec),
              resources: { requests: { cpu: String(spec.resources.cpu), memory }, limits },
              securityContext: {
                runAsNonRoot: true,
                runAsUser: uid,
                runAsGroup: gid,
                privileged: false,
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ['ALL'] },
                seccompProfile,
              },
              volumeMounts: [...volumeMounts, { name: TMP_VOLUME_NAME, mountPath: '/tmp', readOnly: false }],
            },
          ],
          volumes: [
            { name: VOLUME_NAME, persistentVolumeClaim: { claimName: cfg.pvcClaimName } },
            { name: TMP_VOLUME_NAME, emptyDir: cfg.tmpSizeLimit ? { sizeLimit: cfg.tmpSizeLimit } : {} },
          ],
        },
      },
    },
  };
}
