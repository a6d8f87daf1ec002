// Renders every kustomize overlay under deploy/k8s/overlays with `kubectl kustomize` (what `kubectl apply -k` sends)
// and validates every object:
//  - Kubernetes kinds against kubernetes-models and KEDA's ScaledObject against @kubernetes-models/keda, the schemas
//    published on npm (types, required fields, enums, formats; they do not reject unknown fields);
//  - Kueue (kueue.x-k8s.io) and CloudNativePG (postgresql.cnpg.io) objects, which have no schema package on npm, by
//    the required fields and cross-references their CRDs and controllers insist on, written out below;
//  - what the deployment promises: every Deployment runs non-root on a read-only root file system with all
//    capabilities dropped and RuntimeDefault seccomp, probes /healthz and /readyz on a port named "health", has a
//    ServiceAccount and a PodDisruptionBudget; only dispatch gets an API token and a Role; each ScaledObject targets a
//    Deployment of its overlay.
// The last test feeds deliberately broken objects through the same checks and expects each to be reported.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';

const ROOT = path.resolve(__dirname, '..', '..');
const OVERLAYS_DIR = path.join(ROOT, 'deploy/k8s/overlays');
const OVERLAYS = fs
  .readdirSync(OVERLAYS_DIR)
  .filter((d) => fs.existsSync(path.join(OVERLAYS_DIR, d, 'kustomization.yaml')));

type Obj = {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  [k: string]: unknown;
};
// The manifests are free-form YAML; the checks below read them as loosely typed trees.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

const idOf = (o: Obj): string => `${o.kind ?? '?'}/${o.metadata?.name ?? '?'}`;

function render(overlay: string): Obj[] {
  const text = execFileSync('kubectl', ['kustomize', path.join(OVERLAYS_DIR, overlay)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null);
}

/** Schema validation of `objects` by the npm packages (validate-k8s.mjs, run by node: the packages are ES modules). */
function schemaErrors(objects: Obj[]): Array<{ schema: string | null; errors: string[] }> {
  const out = execFileSync(process.execPath, [path.join(__dirname, 'validate-k8s.mjs')], {
    cwd: ROOT,
    input: JSON.stringify(objects),
    encoding: 'utf8',
  });
  return JSON.parse(out) as Array<{ schema: string | null; errors: string[] }>;
}

const isQuantity = (v: unknown): boolean =>
  (typeof v === 'number' && v >= 0) || (typeof v === 'string' && /^\d+(\.\d+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/.test(v));
const isDns1123 = (v: unknown): boolean =>
  typeof v === 'string' && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(v) && v.length <= 63;

/**
 * Kueue v1beta1 and CloudNativePG v1 objects: required fields and references, from their CRDs' required lists
 * (kueue: ClusterQueue spec.resourceGroups[].coveredResources/flavors, flavors[].resources[].name/nominalQuota,
 * LocalQueue spec.clusterQueue, WorkloadPriorityClass value; CNPG Cluster spec.instances and spec.storage).
 */
function crdErrors(o: Obj, all: Obj[]): string[] {
  const errors: string[] = [];
  const spec = (o as Any).spec;
  const need = (cond: boolean, what: string) => {
    if (!cond) errors.push(`${idOf(o)}: ${what}`);
  };
  need(isDns1123(o.metadata?.name), 'metadata.name must be a DNS-1123 label');
  switch (`${o.apiVersion} ${o.kind}`) {
    case 'kueue.x-k8s.io/v1beta1 ResourceFlavor':
      need(spec === undefined || typeof spec === 'object', 'spec must be an object');
      need(o.metadata?.namespace === undefined, 'ResourceFlavor is cluster-scoped: no metadata.namespace');
      break;
    case 'kueue.x-k8s.io/v1beta1 ClusterQueue': {
      need(o.metadata?.namespace === undefined, 'ClusterQueue is cluster-scoped: no metadata.namespace');
      need(
        Array.isArray(spec?.resourceGroups) && spec.resourceGroups.length > 0,
        'spec.resourceGroups must be a non-empty array',
      );
      for (const [i, g] of (spec?.resourceGroups ?? []).entries()) {
        need(
          Array.isArray(g.coveredResources) && g.coveredResources.length > 0,
          `spec.resourceGroups[${i}].coveredResources must be a non-empty array`,
        );
        need(
          Array.isArray(g.flavors) && g.flavors.length > 0,
          `spec.resourceGroups[${i}].flavors must be a non-empty array`,
        );
        for (const [j, f] of (g.flavors ?? []).entries()) {
          need(
            all.some((x) => x.kind === 'ResourceFlavor' && x.metadata?.name === f.name),
            `spec.resourceGroups[${i}].flavors[${j}].name "${f.name}" is no ResourceFlavor of this overlay`,
          );
          const names = (f.resources ?? []).map((r: Any) => r.name);
          need(
            JSON.stringify([...names].sort()) === JSON.stringify([...(g.coveredResources ?? [])].sort()),
            `spec.resourceGroups[${i}].flavors[${j}].resources must cover exactly coveredResources`,
          );
          for (const [k, r] of (f.resources ?? []).entries())
            need(
              isQuantity(r.nominalQuota),
              `spec.resourceGroups[${i}].flavors[${j}].resources[${k}].nominalQuota must be a quantity`,
            );
        }
      }
      break;
    }
    case 'kueue.x-k8s.io/v1beta1 LocalQueue':
      need(typeof o.metadata?.namespace === 'string', 'LocalQueue is namespaced: metadata.namespace is required');
      need(isDns1123(spec?.clusterQueue), 'spec.clusterQueue must name a ClusterQueue');
      need(
        all.some((x) => x.kind === 'ClusterQueue' && x.metadata?.name === spec?.clusterQueue),
        `spec.clusterQueue "${spec?.clusterQueue}" is no ClusterQueue of this overlay`,
      );
      break;
    case 'kueue.x-k8s.io/v1beta1 WorkloadPriorityClass':
      need(Number.isInteger((o as Any).value), 'value must be an integer');
      break;
    case 'postgresql.cnpg.io/v1 Cluster':
      need(Number.isInteger(spec?.instances) && spec.instances >= 1, 'spec.instances must be an integer ≥ 1');
      need(isQuantity(spec?.storage?.size), 'spec.storage.size must be a quantity');
      need(
        spec?.bootstrap?.initdb === undefined || typeof spec.bootstrap.initdb.database === 'string',
        'spec.bootstrap.initdb.database must be a string',
      );
      break;
    default:
      errors.push(`${idOf(o)}: no schema for ${o.apiVersion} ${o.kind} (neither on npm nor checked here)`);
  }
  return errors;
}

/** What the deployment promises about its workloads, across the objects of one overlay. */
function policyErrors(objects: Obj[]): string[] {
  const errors: string[] = [];
  const named = (kind: string, name: unknown) => objects.some((o) => o.kind === kind && o.metadata?.name === name);
  for (const d of objects.filter((o) => o.kind === 'Deployment') as Any[]) {
    const id = idOf(d);
    const pod = d.spec?.template?.spec ?? {};
    const psc = pod.securityContext ?? {};
    if (psc.runAsNonRoot !== true) errors.push(`${id}: pod securityContext.runAsNonRoot must be true`);
    if (psc.seccompProfile?.type !== 'RuntimeDefault') errors.push(`${id}: pod seccompProfile must be RuntimeDefault`);
    if (!named('ServiceAccount', pod.serviceAccountName))
      errors.push(`${id}: serviceAccountName "${pod.serviceAccountName}" is no ServiceAccount of this overlay`);
    const isDispatch = d.metadata.name === 'aevo-dispatch';
    if (pod.automountServiceAccountToken !== isDispatch)
      errors.push(`${id}: automountServiceAccountToken must be ${isDispatch} (only dispatch calls the API server)`);
    const selector = d.spec?.selector?.matchLabels ?? {};
    const covered = objects.some(
      (p) =>
        p.kind === 'PodDisruptionBudget' &&
        Object.entries(((p as Any).spec?.selector?.matchLabels ?? {}) as Record<string, string>).every(
          ([k, v]) => selector[k] === v,
        ),
    );
    if (!covered) errors.push(`${id}: no PodDisruptionBudget selects it`);
    for (const c of (pod.containers ?? []) as Any[]) {
      const sc = c.securityContext ?? {};
      if (sc.readOnlyRootFilesystem !== true) errors.push(`${id}/${c.name}: readOnlyRootFilesystem must be true`);
      if (sc.allowPrivilegeEscalation !== false) errors.push(`${id}/${c.name}: allowPrivilegeEscalation must be false`);
      if (!(sc.capabilities?.drop ?? []).includes('ALL')) errors.push(`${id}/${c.name}: capabilities must drop ALL`);
      if (!c.resources?.requests?.cpu || !c.resources?.requests?.memory || !c.resources?.limits?.memory)
        errors.push(`${id}/${c.name}: cpu and memory requests and a memory limit are required`);
      if (!(c.ports ?? []).some((p: Any) => p.name === 'health'))
        errors.push(`${id}/${c.name}: no container port named "health"`);
      for (const [probe, pathWanted] of [
        ['livenessProbe', '/healthz'],
        ['readinessProbe', '/readyz'],
      ] as const) {
        const g = c[probe]?.httpGet;
        if (g?.path !== pathWanted || g?.port !== 'health')
          errors.push(`${id}/${c.name}: ${probe} must GET ${pathWanted} on port "health"`);
      }
      const env = new Map<string, Any>((c.env ?? []).map((e: Any) => [e.name, e.value]));
      const healthPort = (c.ports ?? []).find((p: Any) => p.name === 'health')?.containerPort;
      if (env.get('AEVO_HEALTH_PORT') !== String(healthPort))
        errors.push(`${id}/${c.name}: AEVO_HEALTH_PORT must be the "health" port ${healthPort}`);
    }
  }
  for (const b of objects.filter((o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding') as Any[])
    for (const s of b.subjects ?? [])
      if (s.kind === 'ServiceAccount' && s.name !== 'aevo-dispatch')
        errors.push(`${idOf(b)}: binds ${s.name}; only aevo-dispatch may hold a Role`);
  for (const s of objects.filter((o) => o.kind === 'ScaledObject') as Any[])
    if (!named(s.spec?.scaleTargetRef?.kind ?? 'Deployment', s.spec?.scaleTargetRef?.name))
      errors.push(`${idOf(s)}: scaleTargetRef ${s.spec?.scaleTargetRef?.name} is not in this overlay`);
  return errors;
}

function allErrors(objects: Obj[]): string[] {
  const errors: string[] = [];
  const schema = schemaErrors(objects);
  objects.forEach((o, i) => {
    if (schema[i].schema === null) errors.push(...crdErrors(o, objects));
    else errors.push(...schema[i].errors.map((e) => `${idOf(o)} (${schema[i].schema}): ${e}`));
  });
  errors.push(...policyErrors(objects));
  return errors;
}

describe('deploy/k8s overlays render and validate', () => {
  const rendered = new Map<string, Obj[]>();
  beforeAll(() => {
    for (const overlay of OVERLAYS) rendered.set(overlay, render(overlay));
  });

  it('has the control and compute overlays', () => {
    expect(OVERLAYS.sort()).toEqual(['compute', 'control']);
  });

  it.each(OVERLAYS)('%s: every object is valid and every workload keeps the promises', (overlay) => {
    const objects = rendered.get(overlay)!;
    expect(objects.length).toBeGreaterThan(10);
    const kinds = new Set(objects.map((o) => o.kind));
    for (const k of [
      'Deployment',
      'ServiceAccount',
      'PodDisruptionBudget',
      'NetworkPolicy',
      'ScaledObject',
      'ConfigMap',
    ])
      expect(kinds).toContain(k);
    expect(allErrors(objects)).toEqual([]);
  });

  it('splits the services by cluster role, each service in exactly one overlay', () => {
    const deployments = (overlay: string) =>
      rendered
        .get(overlay)!
        .filter((o) => o.kind === 'Deployment')
        .map((o) => o.metadata!.name)
        .sort();
    expect(deployments('control')).toEqual([
      'aevo-api',
      'aevo-collector',
      'aevo-leaderboard',
      'aevo-meta-policy',
      'aevo-orchestrator',
      'aevo-store-gateway',
      'aevo-substrate',
    ]);
    expect(deployments('compute')).toEqual(['aevo-dispatch', 'aevo-evaluation', 'aevo-worker']);
    const compute = rendered.get('compute')!;
    for (const kind of ['ClusterQueue', 'LocalQueue', 'ResourceFlavor', 'Role', 'RoleBinding'])
      expect(compute.some((o) => o.kind === kind)).toBe(true);
    expect(compute.find((o) => o.kind === 'NetworkPolicy' && o.metadata?.name === 'aevo-jobs-deny-all')).toBeDefined();
    expect(rendered.get('control')!.some((o) => o.kind === 'Cluster' && o.apiVersion === 'postgresql.cnpg.io/v1')).toBe(
      true,
    );
  });

  it('a compute cluster reaches the record only through the store gateway, the control cluster holds it', () => {
    const containers = (overlay: string) =>
      rendered
        .get(overlay)!
        .filter((o) => o.kind === 'Deployment')
        .map((d) => [d.metadata!.name, (d as Any).spec.template.spec.containers[0]] as [string, Any]);
    const envOf = (c: Any) => new Map<string, Any>((c.env ?? []).map((e: Any) => [e.name, e]));
    for (const [name, c] of containers('compute')) {
      const env = envOf(c);
      expect([name, env.get('AEVO_EVENT_STORE')?.value]).toEqual([name, 'remote']);
      // No database and no outbox relay: neither variable nor the relay's credentials.
      expect([name, env.has('AEVO_DATABASE_URL'), env.has('AEVO_NATS_RELAY_CREDENTIALS_FILE')]).toEqual([
        name,
        false,
        false,
      ]);
    }
    for (const [name, c] of containers('control')) {
      const env = envOf(c);
      expect([name, env.get('AEVO_DATABASE_URL')?.valueFrom?.secretKeyRef?.name]).toEqual([name, 'aevo-postgres-app']);
      expect([name, env.has('AEVO_EVENT_STORE')]).toEqual([name, false]);
    }
    const gateway = containers('control').find(([n]) => n === 'aevo-store-gateway')![1];
    expect(gateway.command).toEqual(['node', 'libs/eventstore/dist/store-gateway-main.js']);
    expect(gateway.image).toMatch(/\/aevo\/orchestrator:/);
    expect(envOf(gateway).get('AEVO_NATS_CREDENTIALS_FILE')?.value).toBe('/var/run/aevo/nats/store-gateway.json');
    // PostgreSQL egress is a control-cluster policy; the shared default allows only DNS and NATS.
    const egressPorts = (overlay: string) =>
      rendered
        .get(overlay)!
        .filter((o) => o.kind === 'NetworkPolicy')
        .flatMap((p) => ((p as Any).spec.egress ?? []).flatMap((e: Any) => (e.ports ?? []).map((x: Any) => x.port)));
    expect(egressPorts('control')).toContain(5432);
    expect(egressPorts('compute')).not.toContain(5432);
  });

  it('reports broken objects: a schema violation, a broken Kueue reference, a workload without its promises', () => {
    const good = rendered.get('compute')!;
    const deployment = structuredClone(
      good.find((o) => o.kind === 'Deployment' && o.metadata?.name === 'aevo-worker')!,
    ) as Any;
    deployment.spec.template.spec.containers[0].ports[0].containerPort = 'eight-thousand'; // not an integer
    deployment.spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem = false;
    delete deployment.spec.template.spec.containers[0].readinessProbe;
    const scaled = structuredClone(good.find((o) => o.kind === 'ScaledObject')!) as Any;
    delete scaled.spec.scaleTargetRef; // required by KEDA's CRD
    const localQueue = structuredClone(good.find((o) => o.kind === 'LocalQueue')!) as Any;
    localQueue.spec.clusterQueue = 'no-such-queue';
    const broken = [
      ...good.filter(
        (o) =>
          o !== good.find((x) => x.kind === 'Deployment' && x.metadata?.name === 'aevo-worker') &&
          o.kind !== 'ScaledObject' &&
          o.kind !== 'LocalQueue',
      ),
      deployment,
      scaled,
      localQueue,
    ];
    const errors = allErrors(broken).join('\n');
    expect(errors).toMatch(/Deployment\/aevo-worker \(kubernetes-models\): .*containerPort must be integer/);
    expect(errors).toMatch(/ScaledObject\/aevo-\S+ \(keda\): .*scaleTargetRef/);
    expect(errors).toContain(
      'LocalQueue/aevo-training: spec.clusterQueue "no-such-queue" is no ClusterQueue of this overlay',
    );
    expect(errors).toContain('Deployment/aevo-worker/worker: readOnlyRootFilesystem must be true');
    expect(errors).toContain('Deployment/aevo-worker/worker: readinessProbe must GET /readyz on port "health"');
    expect(allErrors([{ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } }])).toEqual([
      'Widget/w: no schema for example.com/v1 Widget (neither on npm nor checked here)',
    ]);
  });
});
