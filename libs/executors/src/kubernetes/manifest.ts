import { isAbsolute, posix, relative, resolve, sep } from 'node:path';
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
} as const;

/** Exact ids (labels may be shortened to fit 63 chars). */
export const ANNOTATIONS = {
  jobId: 'aevo.dev/job-id',
  campaignId: 'aevo.dev/campaign-id',
  candidateId: 'aevo.dev/candidate-id',
  round: 'aevo.dev/round',
  gpu: 'aevo.dev/gpu',
  timeoutSeconds: 'aevo.dev/timeout-seconds',
} as const;

export const MANAGED_BY = 'aevo-dispatch';
export const CONTAINER_NAME = 'job';
export const VOLUME_NAME = 'aevo-home';

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
}

export const DEFAULT_BACKOFF_LIMIT = 1;
export const DEFAULT_TTL_SECONDS = 86_400;

/** Where the sandbox is inside the pod; throws when it is not on the shared volume. */
export function podWorkingDir(cfg: Pick<KubernetesJobConfig, 'sandboxRoot' | 'mountPath'>, sandboxPath: string): string {
  const root = resolve(cfg.sandboxRoot);
  const abs = resolve(root, sandboxPath);
  const rel = relative(root, abs);
  if (rel.startsWith('..') || isAbsolute(rel))
    throw new Error(`sandboxPath ${sandboxPath} is not under the shared volume root ${root} (AEVO_HOME), so no pod can reach it`);
  return posix.join(cfg.mountPath, ...rel.split(sep).filter(Boolean));
}

/** Label selector of every Job this dispatch installation manages. */
export function managedSelector(cfg: Pick<KubernetesJobConfig, 'instance'>): string {
  return `${LABELS.managedBy}=${MANAGED_BY},${LABELS.instance}=${labelValue(cfg.instance ?? 'default')}`;
}

/** The batch/v1 Job for a job spec (plain JSON, as the API server takes it). */
export function buildJobManifest(cfg: KubernetesJobConfig, job: ExecutorJob): Record<string, unknown> {
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
  };
  const priorityClass = cfg.priorityClasses?.[spec.priority];
  if (priorityClass) labels[LABELS.priorityClass] = priorityClass;
  const memory = `${spec.resources.memoryMiB}Mi`;
  const limits: Record<string, string> = { memory };
  if (spec.resources.gpu > 0) limits['nvidia.com/gpu'] = String(spec.resources.gpu);
  // As on the local executor: no bytecode caches written into the sandbox unless the spec says otherwise.
  const env = [
    ...('PYTHONDONTWRITEBYTECODE' in spec.env ? [] : [{ name: 'PYTHONDONTWRITEBYTECODE', value: '1' }]),
    ...Object.entries(spec.env).map(([name, value]) => ({ name, value })),
    { name: 'AEVO_JOB_ID', value: spec.jobId },
  ];
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
        metadata: { labels: { [LABELS.managedBy]: MANAGED_BY, [LABELS.job]: labels[LABELS.job], [LABELS.candidate]: labels[LABELS.candidate] } },
        spec: {
          restartPolicy: 'Never', // required by podFailurePolicy; retries are new pods, counted by backoffLimit
          ...(cfg.serviceAccountName ? { serviceAccountName: cfg.serviceAccountName } : {}),
          containers: [
            {
              name: CONTAINER_NAME,
              image: cfg.image,
              ...(cfg.imagePullPolicy ? { imagePullPolicy: cfg.imagePullPolicy } : {}),
              command: spec.argv,
              workingDir: podWorkingDir(cfg, spec.sandboxPath),
              env,
              resources: { requests: { cpu: String(spec.resources.cpu), memory }, limits },
              volumeMounts: [{ name: VOLUME_NAME, mountPath: cfg.mountPath }],
            },
          ],
          volumes: [{ name: VOLUME_NAME, persistentVolumeClaim: { claimName: cfg.pvcClaimName } }],
        },
      },
    },
  };
}
