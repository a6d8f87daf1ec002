'use strict';
// The deployment table tools/gen-deploy.js renders: where each service runs, how big it is and how it scales, and the
// ports, namespace and secrets every generated object shares.

/**
 * Where each service runs and how big it is. `cluster` follows the "Across clusters" topology: control (PostgreSQL,
 * the relay, NATS hub, orchestrator, substrate, leaderboard, collector, meta-policy, api) and compute (worker,
 * dispatch, evaluation next to the GPUs and Kueue). `scale` turns on a KEDA ScaledObject with one nats-jetstream
 * trigger per durable consumer in `on` (each must be one the
 * service declares), `lag` messages pending per replica; `why` says what that lag means. `store: 'remote'`: the
 * service reaches the record only through the store gateway over NATS (no database URL, no embedded relay). A process
 * that is not a service: `image` (whose image holds it), `command`, `metrics: false`, `home: false` (no AEVO_HOME).
 */
const SERVICES = {
  orchestrator: { cluster: 'control', replicas: 2, cpu: '200m', memory: '256Mi', memoryLimit: '1Gi' },
  substrate: { cluster: 'control', replicas: 2, cpu: '200m', memory: '256Mi', memoryLimit: '2Gi' },
  leaderboard: { cluster: 'control', replicas: 1, cpu: '200m', memory: '256Mi', memoryLimit: '2Gi', egress443: true },
  collector: {
    cluster: 'control',
    replicas: 1,
    cpu: '100m',
    memory: '256Mi',
    memoryLimit: '1Gi',
    egress443: true,
    scale: {
      on: 'every consumer',
      min: 1,
      max: 4,
      lag: 20,
      why:
        'evidence to record per round (manifests, submissions, scores): one replica keeps up unless many campaigns ' +
        'run at once',
    },
  },
  'meta-policy': { cluster: 'control', replicas: 1, cpu: '100m', memory: '256Mi', memoryLimit: '1Gi', egress443: true },
  api: { cluster: 'control', replicas: 1, cpu: '100m', memory: '256Mi', memoryLimit: '1Gi', http: 3000 },
  // The event store port over NATS for the compute clusters (libs/eventstore/src/store-gateway-main.ts), beside the
  // record; a queue group, so two replicas share the requests and one may be restarted. Its code ships in every
  // service image (libs/eventstore); the orchestrator's is used.
  'store-gateway': {
    cluster: 'control',
    replicas: 2,
    cpu: '100m',
    memory: '128Mi',
    memoryLimit: '512Mi',
    image: 'orchestrator',
    command: ['node', 'libs/eventstore/dist/store-gateway-main.js'],
    metrics: false,
    home: false,
    relay: false,
  },
  worker: {
    cluster: 'compute',
    store: 'remote',
    replicas: 2,
    cpu: '250m',
    memory: '512Mi',
    memoryLimit: '2Gi',
    scale: {
      on: ['CandidateForked'],
      min: 1,
      max: 32,
      lag: 2,
      why:
        'forked candidates waiting for a worker (CandidateForked): a worker drives one candidate at a time, so 2 ' +
        'waiting per replica adds one',
    },
  },
  dispatch: {
    cluster: 'compute',
    store: 'remote',
    replicas: 1,
    cpu: '100m',
    memory: '256Mi',
    memoryLimit: '1Gi',
    egress443: true,
    kubernetesApi: true,
    // One replica owns the Job watch; a second only duplicates reports (the decider ignores them), so it may add one
    // while submissions back up, and never goes to zero (the watch turns finished Jobs into events).
    scale: {
      on: ['JobRequested'],
      min: 1,
      max: 2,
      lag: 50,
      why:
        'JobRequested not yet handed to Kueue: submission is an API call, so only a large backlog (an API server ' +
        'slowing down) adds the second replica',
    },
  },
  evaluation: {
    cluster: 'compute',
    store: 'remote',
    replicas: 1,
    cpu: '200m',
    memory: '512Mi',
    memoryLimit: '2Gi',
    scale: {
      on: ['EvaluationRequested', 'JobSucceeded', 'JobFailed', 'JobCancelled'],
      min: 1,
      max: 8,
      lag: 5,
      why:
        'evaluations to verify and score (EvaluationRequested, finished Jobs): each verifies a sandbox before it ' +
        'scores',
    },
  },
};

const HEALTH_PORT = 8081;
const METRICS_PORT = 9464;
const NAMESPACE = 'aevo';
const NATS_CREDENTIALS_SECRET = 'aevo-nats-credentials';
const NATS_PASSWORDS_SECRET = 'aevo-nats-passwords';
const NATS_MONITOR = {
  // KEDA's operator reads /jsz on the NATS servers that hold the consumers. With a clustered server it asks the
  // consumer's leader at `<server_name>.<this host>`, so this is the chart's headless Service, under which every pod
  // (server_name = pod name) resolves. A compute cluster's consumers live in its own JetStream domain, on its own
  // (leaf) servers: the same Service name in that cluster.
  control: 'aevo-nats-headless.aevo.svc.cluster.local:8222',
  compute: 'aevo-nats-headless.aevo.svc.cluster.local:8222',
};

const labelsOf = (service) => ({
  'app.kubernetes.io/name': `aevo-${service}`,
  'app.kubernetes.io/component': service,
  'app.kubernetes.io/part-of': 'aevo',
});

module.exports = {
  SERVICES,
  HEALTH_PORT,
  METRICS_PORT,
  NAMESPACE,
  NATS_CREDENTIALS_SECRET,
  NATS_PASSWORDS_SECRET,
  NATS_MONITOR,
  labelsOf,
};
