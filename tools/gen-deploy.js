#!/usr/bin/env node
// Generates the per-service Kubernetes objects and the NATS Helm authorization from the declarations the services
// themselves use, so that a consumer renamed or added in code cannot leave a manifest behind:
//   - which durable consumers each service reads: declaredDurables() (libs/messaging/src/auth/permissions.ts, the
//     ACCESS declaration that test/nats-auth.int.spec.ts checks against every @OnEvent in the services), named by
//     consumerName() (`<service>__<Type>`, libs/messaging/src/subjects.ts);
//   - the NATS users and their subject permissions: deploy/nats/permissions.json (tools/nats-auth-config.js writes it
//     from the same declaration).
//
//   node tools/gen-deploy.js           rewrite the generated files (listed in OUTPUTS)
//   node tools/gen-deploy.js --check   exit 1, naming each stale file, when any differs from what would be written
//
// Needs libs/messaging built (npx nx run @aevo/messaging:build). test/deploy/gen-deploy.spec.ts runs --check and
// compares the KEDA triggers with declaredDurables() read from the TypeScript sources.
'use strict';
const fs = require('fs');
const path = require('path');
const YAML = require('yaml');

const root = path.resolve(__dirname, '..');

const {
  SERVICES,
  HEALTH_PORT,
  METRICS_PORT,
  NAMESPACE,
  NATS_CREDENTIALS_SECRET,
  NATS_PASSWORDS_SECRET,
  NATS_MONITOR,
  labelsOf,
} = require('./deploy-services');

function deployment(service, s) {
  const name = `aevo-${service}`;
  // Where the service's record is: PostgreSQL beside it (control cluster), or the store gateway over NATS (a
  // compute cluster: no database connection, and no outbox relay to run — the control cluster relays its appends).
  const remote = s.store === 'remote';
  const storeEnv = remote
    ? [{ name: 'AEVO_EVENT_STORE', value: 'remote' }]
    : [{ name: 'AEVO_DATABASE_URL', valueFrom: { secretKeyRef: { name: 'aevo-postgres-app', key: 'uri' } } }];
  const relays = !remote && s.relay !== false;
  const env = [
    ...(s.command ? [] : [{ name: 'AEVO_EXECUTOR', value: 'kubernetes' }]),
    { name: 'AEVO_HEALTH_PORT', value: String(HEALTH_PORT) },
    ...(s.metrics === false ? [] : [{ name: 'AEVO_METRICS_PORT', value: String(METRICS_PORT) }]),
    ...storeEnv,
    { name: 'AEVO_NATS_CREDENTIALS_FILE', value: `/var/run/aevo/nats/${service}.json` },
    ...(relays ? [{ name: 'AEVO_NATS_RELAY_CREDENTIALS_FILE', value: '/var/run/aevo/nats/relay.json' }] : []),
    ...(s.http
      ? [
          { name: 'AEVO_API_HOST', value: '0.0.0.0' },
          { name: 'AEVO_API_PORT', value: String(s.http) },
        ]
      : []),
  ];
  const ports = [
    { name: 'health', containerPort: HEALTH_PORT },
    ...(s.metrics === false ? [] : [{ name: 'metrics', containerPort: METRICS_PORT }]),
    ...(s.http ? [{ name: 'http', containerPort: s.http }] : []),
  ];
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NAMESPACE, labels: labelsOf(service) },
    spec: {
      replicas: s.replicas,
      revisionHistoryLimit: 5,
      selector: { matchLabels: { 'app.kubernetes.io/name': name } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: {
          labels: labelsOf(service),
          ...(s.metrics === false
            ? {}
            : {
                annotations: {
                  'prometheus.io/scrape': 'true',
                  'prometheus.io/port': String(METRICS_PORT),
                  'prometheus.io/path': '/metrics',
                },
              }),
        },
        spec: {
          serviceAccountName: name,
          automountServiceAccountToken: s.kubernetesApi === true,
          // Replicas share durable consumers and leave mid-message safely (redelivery), so a short grace suffices.
          terminationGracePeriodSeconds: 30,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 10001,
            runAsGroup: 10001,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          topologySpreadConstraints: [
            {
              maxSkew: 1,
              topologyKey: 'kubernetes.io/hostname',
              whenUnsatisfiable: 'ScheduleAnyway',
              labelSelector: { matchLabels: { 'app.kubernetes.io/name': name } },
            },
          ],
          containers: [
            {
              name: service,
              image: `aevo-${s.image ?? service}:latest`,
              imagePullPolicy: 'IfNotPresent',
              ...(s.command ? { command: s.command } : {}),
              envFrom: [
                { configMapRef: { name: 'aevo-config' } },
                { secretRef: { name: 'aevo-secrets', optional: true } },
              ],
              env,
              ports,
              startupProbe: { httpGet: { path: '/healthz', port: 'health' }, periodSeconds: 2, failureThreshold: 60 },
              livenessProbe: {
                httpGet: { path: '/healthz', port: 'health' },
                periodSeconds: 10,
                timeoutSeconds: 2,
                failureThreshold: 3,
              },
              readinessProbe: {
                httpGet: { path: '/readyz', port: 'health' },
                periodSeconds: 5,
                timeoutSeconds: 2,
                failureThreshold: 2,
              },
              resources: { requests: { cpu: s.cpu, memory: s.memory }, limits: { memory: s.memoryLimit } },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                privileged: false,
                capabilities: { drop: ['ALL'] },
              },
              volumeMounts: [
                ...(s.home === false ? [] : [{ name: 'aevo-home', mountPath: '/var/lib/aevo' }]),
                { name: 'tmp', mountPath: '/tmp' },
                { name: 'nats-credentials', mountPath: '/var/run/aevo/nats', readOnly: true },
              ],
            },
          ],
          volumes: [
            ...(s.home === false ? [] : [{ name: 'aevo-home', persistentVolumeClaim: { claimName: 'aevo-home' } }]),
            { name: 'tmp', emptyDir: { sizeLimit: '1Gi' } },
            // Only this service's NATS user and, where it embeds the outbox relay (beside PostgreSQL), the relay's.
            {
              name: 'nats-credentials',
              secret: {
                secretName: NATS_CREDENTIALS_SECRET,
                defaultMode: 0o400,
                items: [
                  { key: `${service}.json`, path: `${service}.json` },
                  ...(relays ? [{ key: 'relay.json', path: 'relay.json' }] : []),
                ],
              },
            },
          ],
        },
      },
    },
  };
}

function workloadObjects(service, s) {
  const name = `aevo-${service}`;
  const objects = [
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name, namespace: NAMESPACE, labels: labelsOf(service) },
      automountServiceAccountToken: s.kubernetesApi === true,
    },
    deployment(service, s),
    {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name, namespace: NAMESPACE, labels: labelsOf(service) },
      // A single replica may be evicted (work waits in its durable consumers); two or more keep one serving.
      spec: {
        ...(s.replicas > 1 || s.scale ? { minAvailable: 1 } : { maxUnavailable: 1 }),
        selector: { matchLabels: { 'app.kubernetes.io/name': name } },
      },
    },
  ];
  if (s.http)
    objects.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace: NAMESPACE, labels: labelsOf(service) },
      spec: { selector: { 'app.kubernetes.io/name': name }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
    });
  return objects;
}

function scaledObject(service, s, durables, cluster) {
  const declared = durables.filter((d) => d.service === service);
  if (declared.length === 0)
    throw new Error(`gen-deploy: ${service} has scale settings but consumes no events in the ACCESS declaration`);
  // Control events (an abort, an exhausted budget) are rare and cheap: only the consumers that carry the work scale.
  const undeclared =
    s.scale.on === 'every consumer' ? [] : s.scale.on.filter((t) => !declared.some((d) => d.type === t));
  if (undeclared.length)
    throw new Error(
      `gen-deploy: SERVICES.${service}.scale.on names ${undeclared.join(', ')}, which ${service} does not consume ` +
        `(ACCESS.consumes.${service}: ${declared.map((d) => d.type).join(', ')})`,
    );
  const mine = s.scale.on === 'every consumer' ? declared : declared.filter((d) => s.scale.on.includes(d.type));
  return {
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'ScaledObject',
    metadata: {
      name: `aevo-${service}`,
      namespace: NAMESPACE,
      labels: labelsOf(service),
      annotations: { 'aevo.dev/scales-on': s.scale.why },
    },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: `aevo-${service}` },
      minReplicaCount: s.scale.min,
      maxReplicaCount: s.scale.max,
      pollingInterval: 15,
      cooldownPeriod: 300,
      // One trigger per durable consumer: KEDA takes the largest replica count any of them asks for.
      triggers: mine.map((d) => ({
        type: 'nats-jetstream',
        name: d.durable.replace(/_/g, '-').toLowerCase(),
        metadata: {
          natsServerMonitoringEndpoint: NATS_MONITOR[cluster],
          account: '$G',
          stream: STREAM,
          consumer: d.durable,
          lagThreshold: String(s.scale.lag),
          activationLagThreshold: '0',
        },
      })),
    },
  };
}

const STREAM = 'AEVO_EVENTS';

const header = (what) =>
  `# Generated by tools/gen-deploy.js from ${what}; do not edit (node tools/gen-deploy.js rewrites it, --check fails ` +
  `when stale).\n`;

const docs = (objects) => objects.map((o) => YAML.stringify(o, { lineWidth: 0 })).join('---\n');

/** NATS config `password` values read from the environment (the chart passes `<< ... >>` through unquoted). */
const passwordEnv = (user) => `AEVO_NATS_PASSWORD_${user.toUpperCase().replace(/-/g, '_')}`;

function natsAuthorization(permissions) {
  return {
    users: permissions.users.map((u) => ({
      user: u.user,
      password: `<< $${passwordEnv(u.user)} >>`,
      permissions: {
        publish: u.publish.deny.length ? { allow: u.publish.allow, deny: u.publish.deny } : { allow: u.publish.allow },
        subscribe: u.subscribe.deny.length
          ? { allow: u.subscribe.allow, deny: u.subscribe.deny }
          : { allow: u.subscribe.allow },
        ...(u.allowResponses ? { allow_responses: true } : {}),
      },
    })),
  };
}

function natsPasswordEnv(permissions) {
  return Object.fromEntries(
    permissions.users.map((u) => [
      passwordEnv(u.user),
      { valueFrom: { secretKeyRef: { name: NATS_PASSWORDS_SECRET, key: u.user } } },
    ]),
  );
}

function loadDeclaration() {
  const auth = path.join(root, 'libs/messaging/dist/auth/index.js');
  if (!fs.existsSync(auth))
    throw new Error(
      'gen-deploy: libs/messaging/dist/auth/index.js is missing: build it first (npx nx run @aevo/messaging:build)',
    );
  const { declaredDurables } = require(auth);
  const permissions = JSON.parse(fs.readFileSync(path.join(root, 'deploy/nats/permissions.json'), 'utf8'));
  if (permissions.stream !== STREAM)
    throw new Error(
      `gen-deploy: deploy/nats/permissions.json is for stream ${permissions.stream}, the manifests for ${STREAM}`,
    );
  return { durables: declaredDurables(), permissions };
}

/** Every generated file: path (relative to the repository root) → text. */
function render({ durables, permissions }) {
  const out = {};
  for (const cluster of ['control', 'compute']) {
    const names = Object.keys(SERVICES).filter((n) => SERVICES[n].cluster === cluster);
    out[`deploy/k8s/base/${cluster}/services.yaml`] =
      header('its SERVICES table') +
      `# ${cluster} cluster: ${names.join(', ')}. Probes on port "health" (${HEALTH_PORT}: /healthz, /readyz), ` +
      `metrics on "metrics" (${METRICS_PORT}).\n` +
      docs(names.flatMap((n) => workloadObjects(n, SERVICES[n])));
    const scaled = names.filter((n) => SERVICES[n].scale);
    out[`deploy/k8s/overlays/${cluster}/scaled-objects.yaml`] =
      header('declaredDurables() in libs/messaging/src/auth/permissions.ts (the consumers the services bind)') +
      scaled
        .map(
          (n) =>
            `# aevo-${n}: ${SERVICES[n].scale.min}..${SERVICES[n].scale.max} replicas on ${SERVICES[n].scale.why}.\n`,
        )
        .join('') +
      docs(scaled.map((n) => scaledObject(n, SERVICES[n], durables, cluster)));
  }
  const auth = { authorization: natsAuthorization(permissions) };
  const env = natsPasswordEnv(permissions);
  out['deploy/helm/nats-auth-values.yaml'] =
    header('deploy/nats/permissions.json (one NATS user per service, least-privilege subjects)') +
    `# Layered on nats-values.yaml or nats-leaf-values.yaml: helm install ... -f deploy/helm/nats-values.yaml -f ` +
    `deploy/helm/nats-auth-values.yaml\n` +
    `# Passwords come from the Secret ${NATS_PASSWORDS_SECRET} (one key per user; see deploy/README.md), never from ` +
    `these values.\n` +
    YAML.stringify({ config: { merge: auth }, container: { env } }, { lineWidth: 0 });
  return out;
}

function main() {
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => a !== '--check');
  if (unknown.length) {
    console.error(`gen-deploy: unknown argument ${unknown[0]}; usage: node tools/gen-deploy.js [--check]`);
    process.exit(2);
  }
  let files;
  try {
    files = render(loadDeclaration());
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  }
  if (args.includes('--check')) {
    const stale = Object.entries(files).filter(
      ([p, text]) => !fs.existsSync(path.join(root, p)) || fs.readFileSync(path.join(root, p), 'utf8') !== text,
    );
    if (stale.length) {
      console.error(
        `gen-deploy: stale generated files: ${stale.map(([p]) => p).join(', ')}; run node tools/gen-deploy.js and ` +
          `commit them`,
      );
      process.exit(1);
    }
    console.log(`gen-deploy: ${Object.keys(files).length} generated files are up to date`);
    return;
  }
  for (const [p, text] of Object.entries(files)) {
    const abs = path.join(root, p);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    const changed = !fs.existsSync(abs) || fs.readFileSync(abs, 'utf8') !== text;
    if (changed) fs.writeFileSync(abs, text);
    console.log(`${p} ${changed ? 'written' : 'unchanged'}`);
  }
}

module.exports = { SERVICES, HEALTH_PORT, METRICS_PORT, render, loadDeclaration };
if (require.main === module) main();
