import { DEFAULT_QUEUE_DEADLINE_SECONDS, type KubernetesJobConfig } from './manifest';
import { kubernetesConfigErrors } from './validate';

/** Kubernetes executor settings from the environment; throws naming the missing variable. */
export function kubernetesJobConfigFromEnv(env: NodeJS.ProcessEnv = process.env): KubernetesJobConfig {
  const need = (name: string): string => {
    const v = env[name];
    if (!v) throw new Error(`${name} is required when AEVO_EXECUTOR=kubernetes`);
    return v;
  };
  const prio = (name: string) => env[name] || undefined;
  const int = (name: string, dflt: number) => {
    const raw = env[name];
    if (!raw) return dflt;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${name}: expected a non-negative integer, got "${raw}"`);
    return n;
  };
  const id = (name: string): number | undefined => {
    const raw = env[name];
    if (!raw) return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n <= 0)
      throw new Error(`${name}: expected a positive integer (jobs never run as root), got "${raw}"`);
    return n;
  };
  const flag = (name: string): boolean => {
    const raw = (env[name] ?? '').toLowerCase();
    if (raw === 'true' || raw === '1') return true;
    if (raw === 'false' || raw === '0') return false;
    throw new Error(`${name}: expected true or false, got "${env[name]}"`);
  };
  const home = env.AEVO_HOME || '.aevo';
  const cfg: KubernetesJobConfig = {
    namespace: env.AEVO_K8S_NAMESPACE || 'aevo-jobs',
    image: need('AEVO_K8S_IMAGE'),
    queueName: env.AEVO_K8S_QUEUE || 'aevo-training',
    priorityClasses: {
      high: prio('AEVO_K8S_PRIORITY_HIGH'),
      normal: prio('AEVO_K8S_PRIORITY_NORMAL'),
      low: prio('AEVO_K8S_PRIORITY_LOW'),
    },
    pvcClaimName: env.AEVO_K8S_PVC || 'aevo-home',
    sandboxRoot: home,
    mountPath: env.AEVO_K8S_MOUNT_PATH || '/var/lib/aevo',
    backoffLimit: int('AEVO_K8S_BACKOFF_LIMIT', 1),
    ttlSecondsAfterFinished: int('AEVO_K8S_TTL_SECONDS', 86_400),
    serviceAccountName: env.AEVO_K8S_JOB_SERVICE_ACCOUNT || undefined,
    instance: env.AEVO_K8S_INSTANCE || 'default',
    runAsUser: id('AEVO_K8S_JOB_UID'),
    runAsGroup: id('AEVO_K8S_JOB_GID'),
    fsGroup: id('AEVO_K8S_JOB_FS_GROUP'),
    tmpSizeLimit: env.AEVO_K8S_JOB_TMP_SIZE_LIMIT || undefined,
    queueDeadlineSeconds: int('AEVO_K8S_QUEUE_DEADLINE_SECONDS', DEFAULT_QUEUE_DEADLINE_SECONDS),
    // Rank 0's rendezvous port in multi-node Jobs; unset → torch's default, 29500.
    ...(env.AEVO_K8S_MASTER_PORT ? { masterPort: int('AEVO_K8S_MASTER_PORT', 0) } : {}),
    // A NetworkPolicy per multi-node Job opening its pods to each other and to the cluster DNS; unset → none.
    ...(env.AEVO_K8S_RENDEZVOUS_NETWORK_POLICY
      ? { rendezvousNetworkPolicy: flag('AEVO_K8S_RENDEZVOUS_NETWORK_POLICY') }
      : {}),
  };
  const errors = kubernetesConfigErrors(cfg);
  if (errors.length) throw new Error(errors.map((e) => `${ENV_OF_FIELD[e.field] ?? e.field}: ${e.message}`).join('; '));
  return cfg;
}

/** The variable each configuration field is read from (for error messages). */
const ENV_OF_FIELD: Record<string, string> = {
  namespace: 'AEVO_K8S_NAMESPACE',
  image: 'AEVO_K8S_IMAGE',
  queueName: 'AEVO_K8S_QUEUE',
  'priorityClasses.high': 'AEVO_K8S_PRIORITY_HIGH',
  'priorityClasses.normal': 'AEVO_K8S_PRIORITY_NORMAL',
  'priorityClasses.low': 'AEVO_K8S_PRIORITY_LOW',
  pvcClaimName: 'AEVO_K8S_PVC',
  serviceAccountName: 'AEVO_K8S_JOB_SERVICE_ACCOUNT',
  tmpSizeLimit: 'AEVO_K8S_JOB_TMP_SIZE_LIMIT',
  queueDeadlineSeconds: 'AEVO_K8S_QUEUE_DEADLINE_SECONDS',
  masterPort: 'AEVO_K8S_MASTER_PORT',
};
