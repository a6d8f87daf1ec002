import { join, resolve } from 'node:path';
import {
  kubernetesJobConfigFromEnv,
  localExecutorOptionsFromEnv,
  type KubernetesJobConfig,
  type LocalExecutorOptions,
} from '@aevo/executors';

/**
 * The executor named by AEVO_EXECUTOR (`local`, the default, or `kubernetes`) and its settings.
 * local: AEVO_HOME, AEVO_LOCAL_SLOTS, AEVO_LOCAL_GPUS, AEVO_LOCAL_KILL_GRACE_MS, AEVO_CPU_SLOT_WEIGHT, the AEVO_JOB_*
 * limits and AEVO_UNSANDBOXED_JOBS. kubernetes: AEVO_K8S_IMAGE (required), AEVO_K8S_NAMESPACE, AEVO_K8S_QUEUE,
 * AEVO_K8S_PVC, AEVO_K8S_MOUNT_PATH, AEVO_K8S_PRIORITY_{HIGH,NORMAL,LOW}, AEVO_K8S_BACKOFF_LIMIT,
 * AEVO_K8S_TTL_SECONDS; the API server from the in-cluster service account or KUBECONFIG, or AEVO_K8S_API_URL
 * (+ AEVO_K8S_TOKEN) for a plain URL.
 */
export type ExecutorSettings =
  | { kind: 'local'; options: LocalExecutorOptions }
  | {
      kind: 'kubernetes';
      job: KubernetesJobConfig;
      /** A plain API server URL; absent: in-cluster service account or KUBECONFIG. */
      api: { url: string; token: string | undefined } | null;
      logDir: string;
    };

export interface DispatchConfig {
  executor: ExecutorSettings;
}

/** Dispatch's settings from the environment; a bad value is refused with an error naming the variable. */
export function dispatchConfigFromEnv(env: NodeJS.ProcessEnv = process.env): DispatchConfig {
  return { executor: executorSettingsFromEnv(env) };
}

export function executorSettingsFromEnv(env: NodeJS.ProcessEnv): ExecutorSettings {
  const kind = env.AEVO_EXECUTOR || 'local';
  if (kind === 'local') return { kind, options: localExecutorOptionsFromEnv(env) };
  if (kind === 'kubernetes')
    return {
      kind,
      job: kubernetesJobConfigFromEnv(env),
      api: env.AEVO_K8S_API_URL ? { url: env.AEVO_K8S_API_URL, token: env.AEVO_K8S_TOKEN } : null,
      logDir: join(resolve(env.AEVO_HOME || '.aevo'), 'logs'),
    };
  throw new Error(`AEVO_EXECUTOR: expected "local" or "kubernetes", got "${kind}"`);
}
