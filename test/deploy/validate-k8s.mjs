// Validates Kubernetes objects against the schemas published on npm: kubernetes-models (the Kubernetes OpenAPI
// definitions, compiled to validators) and @kubernetes-models/keda (KEDA's CRDs). Both packages are ES modules only,
// which jest's CommonJS loader cannot import, so test/deploy/render.spec.ts runs this file with node.
//   stdin: a JSON array of objects; stdout: a JSON array, per object { schema, errors } where schema is
//   "kubernetes-models", "keda", or null (no published schema for that apiVersion; the test checks those itself).
// Limits: these validators check types, required fields, enums and formats, but not unknown fields (the schemas
// allow additional properties), so a misspelt optional field passes here.
const KUBERNETES_GROUPS = new Set([
  'v1',
  'apps/v1',
  'batch/v1',
  'policy/v1',
  'networking.k8s.io/v1',
  'rbac.authorization.k8s.io/v1',
  'scheduling.k8s.io/v1',
  'autoscaling/v2',
  'storage.k8s.io/v1',
]);

async function modelFor(apiVersion, kind) {
  if (KUBERNETES_GROUPS.has(apiVersion)) {
    const mod = await import(`kubernetes-models/${apiVersion}`);
    return { schema: 'kubernetes-models', Model: mod[kind] };
  }
  if (apiVersion === 'keda.sh/v1alpha1') {
    const mod = await import('@kubernetes-models/keda/keda.sh/v1alpha1');
    return { schema: 'keda', Model: mod[kind] };
  }
  return null;
}

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const objects = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const results = [];
for (const object of objects) {
  const found =
    typeof object?.apiVersion === 'string' && typeof object?.kind === 'string'
      ? await modelFor(object.apiVersion, object.kind)
      : null;
  if (found === null) {
    results.push({ schema: null, errors: [] });
    continue;
  }
  if (typeof found.Model !== 'function') {
    results.push({
      schema: found.schema,
      errors: [`${object.apiVersion} has no kind ${object.kind} in ${found.schema}`],
    });
    continue;
  }
  try {
    new found.Model(object).validate();
    results.push({ schema: found.schema, errors: [] });
  } catch (err) {
    results.push({ schema: found.schema, errors: String(err?.message ?? err).split(', ') });
  }
}
process.stdout.write(JSON.stringify(results));
