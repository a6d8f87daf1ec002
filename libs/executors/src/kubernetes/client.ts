import type * as K8s from '@kubernetes/client-node';

export type ClientNode = typeof K8s;

let cached: ClientNode | null = null;

/**
 * Loads @kubernetes/client-node 1.x, an ES module, from CommonJS. Node ≥ 20.19 `require`s ES modules natively;
 * the require is taken from the real module system (`process.getBuiltinModule`) so that it also works under
 * jest, whose own module loader cannot load ES modules without experimental flags.
 */
export function loadClientNode(): ClientNode {
  if (cached) return cached;
  const getBuiltin = (process as unknown as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  const req: NodeJS.Require = getBuiltin
    ? (getBuiltin('node:module') as typeof import('node:module')).createRequire(__filename)
    : require;
  cached = req('@kubernetes/client-node') as ClientNode;
  return cached;
}

/** A KubeConfig from the usual places: in-cluster service account, else $KUBECONFIG / ~/.kube/config. */
export function defaultKubeConfig(): K8s.KubeConfig {
  const k8s = loadClientNode();
  const kc = new k8s.KubeConfig();
  kc.loadFromDefault();
  return kc;
}

/** A KubeConfig for one API server URL and bearer token (tests use it with a loopback http server). */
export function kubeConfigFor(server: string, token = 'aevo-test-token'): K8s.KubeConfig {
  const k8s = loadClientNode();
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'aevo', server, skipTLSVerify: true }],
    users: [{ name: 'aevo', token }],
    contexts: [{ name: 'aevo', cluster: 'aevo', user: 'aevo' }],
    currentContext: 'aevo',
  });
  return kc;
}
