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
  /**
   * This dispatcher's name, recorded in the JobQueued it decides (one per compute cluster): AEVO_DISPATCHER, else the
   * cluster's JetStream domain (AEVO_JS_DOMAIN); null (unset) on a single cluster. Every compute cluster reads every
   * JobRequested from its own domain; the first JobQueued wins and only its dispatcher runs, reconciles and cancels
   * the job.
   */
  dispatcher: string | null;
}

const DISPATCHER_NAME = /^[A-Za-z0-9_-]{1,32}$/;

/** Dispatch's settings from the environment; a bad value is refused with an error naming the variable. */
export function dispatchConfigFromEnv(env: NodeJS.ProcessEnv = process.env): DispatchConfig {
  return { executor: executorSettingsFromEnv(env), dispatcher: dispatcherFromEnv(env) };
}

export function dispatcherFromEnv(env: NodeJS.ProcessEnv = process.env): string | null {
  const [variable, raw] = env.AEVO_DISPATCHER
    ? ['AEVO_DISPATCHER', env.AEVO_DISPATCHER]
    : ['AEVO_JS_DOMAIN', env.AEVO_JS_DOMAIN ?? ''];
  const name = raw.trim();
  if (name === '') return null;
  if (!DISPATCHER_NAME.test(name))
    throw new Error(
      `${variable}="${name}": a dispatcher name must be letters, digits, "_" or "-", at most 32 characters`,
    );
  return name;
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
