import { defaultKubeConfig, KubernetesExecutor, kubeConfigFor, LocalExecutor, type Executor } from '@aevo/executors';
import type { ExecutorSettings } from '../config';

/** The executor the settings name (see ExecutorSettings in config.ts). */
export function createExecutor(
  settings: ExecutorSettings,
  onError?: (err: unknown, context: string) => void,
): Executor {
  if (settings.kind === 'local') return new LocalExecutor({ ...settings.options, onError });
  return new KubernetesExecutor({
    ...settings.job,
    kubeConfig: settings.api ? kubeConfigFor(settings.api.url, settings.api.token) : defaultKubeConfig(),
    logDir: settings.logDir,
    onError,
  });
}
