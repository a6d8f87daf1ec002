import { join, resolve } from 'node:path';
import {
  defaultKubeConfig,
  KubernetesExecutor,
  kubeConfigFor,
  kubernetesJobConfigFromEnv,
  LocalExecutor,
  localExecutorOptionsFromEnv,
  type Executor,
} from '@aevo/executors';

/**
 * The executor named by AEVO_EXECUTOR (`local`, the default, or `kubernetes`), configured from the environment.
 * local: AEVO_HOME, AEVO_LOCAL_SLOTS, AEVO_LOCAL_GPUS, AEVO_LOCAL_KILL_GRACE_MS, AEVO_CPU_SLOT_WEIGHT.
 * kubernetes: AEVO_K8S_IMAGE (required), AEVO_K8S_NAMESPACE, AEVO_K8S_QUEUE, AEVO_K8S_PVC, AEVO_K8S_MOUNT_PATH,
 * AEVO_K8S_PRIORITY_{HIGH,NORMAL,LOW}, AEVO_K8S_BACKOFF_LIMIT, AEVO_K8S_TTL_SECONDS; the API server from the
 * in-cluster service account or KUBECONFIG, or AEVO_K8S_API_URL (+ AEVO_K8S_TOKEN) for a plain URL.
 */
export function executorFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  onError?: (err: unknown, context: string) => void,
): Executor {
  const kind = env.AEVO_EXECUTOR || 'local';
  if (kind === 'local') return new LocalExecutor({ ...localExecutorOptionsFromEnv(env), onError });
  if (kind === 'kubernetes') {
    const home = resolve(env.AEVO_HOME || '.aevo');
    return new KubernetesExecutor({
      ...kubernetesJobConfigFromEnv(env),
      kubeConfig: env.AEVO_K8S_API_URL ? kubeConfigFor(env.AEVO_K8S_API_URL, env.AEVO_K8S_TOKEN) : defaultKubeConfig(),
      logDir: join(home, 'logs'),
      onError,
    });
  }
  throw new Error(`AEVO_EXECUTOR: expected "local" or "kubernetes", got "${kind}"`);
}
