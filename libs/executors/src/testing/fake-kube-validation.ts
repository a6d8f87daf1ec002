import { dirname, join } from 'node:path';
import { loadClientNode } from '../kubernetes/client';
import { isDns1123Label, isDns1123Subdomain, isEnvVarName, isLabelValueString } from '../kubernetes/validate';
import type { Cause, Json } from './fake-kube-json';

// What the fake API server checks a created Job against: the OpenAPI schema, unknown fields, the name rules.

export interface SchemaError {
  field: string;
  keyword: string;
  message: string;
}

export type Validator = ((data: unknown) => boolean) & {
  errors?: Array<{ instancePath: string; keyword: string; params: Json; message?: string }> | null;
};
let jobValidator: Validator | null = null;

/**
 * The official OpenAPI schema of batch/v1 Job, as `kubernetes-models` compiles it (one validator per definition,
 * `io.k8s.api.batch.v1.Job` → `_schemas/IoK8sApiBatchV1Job.js`). That package is an ES module exported for `import`
 * only, so the file is required by path through Node's own loader (Node ≥ 20.19 requires ES modules; jest's does not).
 */
export function loadJobValidator(): Validator {
  if (jobValidator) return jobValidator;
  const getBuiltin = (process as unknown as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  const req: NodeJS.Require = getBuiltin
    ? (getBuiltin('node:module') as typeof import('node:module')).createRequire(__filename)
    : require;
  const root = dirname(req.resolve('kubernetes-models/package.json'));
  jobValidator = (req(join(root, '_schemas', 'IoK8sApiBatchV1Job.js')) as { validate: Validator }).validate;
  return jobValidator;
}

export const fieldPath = (instancePath: string) =>
  instancePath
    .split('/')
    .filter(Boolean)
    .map((seg) => (/^\d+$/.test(seg) ? `[${seg}]` : `.${seg.replace(/~1/g, '/').replace(/~0/g, '~')}`))
    .join('')
    .replace(/^\./, '');

export function schemaErrors(body: Json): SchemaError[] {
  const validate = loadJobValidator();
  if (validate(body)) return [];
  return (validate.errors ?? []).map((e) => {
    const base = fieldPath(e.instancePath);
    if (e.keyword === 'required')
      return {
        field: base ? `${base}.${e.params.missingProperty}` : String(e.params.missingProperty),
        keyword: 'required',
        message: 'Required value',
      };
    return {
      field: base || '(root)',
      keyword: e.keyword,
      message: e.message ?? `${e.keyword} ${JSON.stringify(e.params)}`,
    };
  });
}

/**
 * Removes, and returns the paths of, fields that the batch/v1 Job type does not have, walking client-node's models
 * (generated from the same OpenAPI definitions: `attributeTypeMap` lists each type's JSON fields). The API server's
 * default (`fieldValidation=Warn`) drops them with a warning.
 */
export function stripUnknownFields(value: unknown, type: string, path: string): string[] {
  if (value == null || typeof value !== 'object') return [];
  const arrayOf = /^Array<(.+)>$/.exec(type);
  if (arrayOf)
    return Array.isArray(value) ? value.flatMap((v, i) => stripUnknownFields(v, arrayOf[1], `${path}[${i}]`)) : [];
  const mapOf = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (mapOf) return Object.entries(value as Json).flatMap(([k, v]) => stripUnknownFields(v, mapOf[1], `${path}[${k}]`));
  const model = (
    loadClientNode() as unknown as Record<string, { attributeTypeMap?: Array<{ baseName: string; type: string }> }>
  )[type];
  if (!model?.attributeTypeMap) return []; // a scalar, IntOrString, Date or free-form object
  const fields = new Map(model.attributeTypeMap.map((a) => [a.baseName, a.type]));
  const unknown: string[] = [];
  for (const [k, v] of Object.entries(value as Json)) {
    const sub = path ? `${path}.${k}` : k;
    const t = fields.get(k);
    if (t === undefined) {
      unknown.push(sub);
      delete (value as Json)[k];
    } else unknown.push(...stripUnknownFields(v, t, sub));
  }
  return unknown;
}

export const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
export const isLabelKey = (k: string) => {
  const slash = k.lastIndexOf('/');
  const [prefix, name] = slash >= 0 ? [k.slice(0, slash), k.slice(slash + 1)] : [null, k];
  return (prefix === null || isDns1123Subdomain(prefix)) && name.length <= 63 && QUALIFIED_NAME.test(name);
};

/**
 * The part of the API server's ValidateJob / ValidatePodTemplateSpec (pkg/apis/batch/validation,
 * pkg/apis/core/validation) that the OpenAPI schema cannot say: name formats, label syntax, env var names,
 * restartPolicy, podFailurePolicy's requirement of restartPolicy Never, volume mounts, resource limits.
 */
export function validateJob(job: Json, ns: string, relaxedEnvVarNames: boolean): Cause[] {
  const causes: Cause[] = [];
  const bad = (field: string, value: unknown, detail: string) =>
    causes.push({ reason: 'FieldValueInvalid', field, message: `Invalid value: ${JSON.stringify(value)}: ${detail}` });
  const name = job.metadata?.name;
  if (!name)
    causes.push({
      reason: 'FieldValueRequired',
      field: 'metadata.name',
      message: 'Required value: name or generateName is required',
    });
  else if (!isDns1123Subdomain(name))
    bad(
      'metadata.name',
      name,
      "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'",
    );
  else if (name.length > 63) {
    // it becomes the pods' job-name label
    bad('metadata.name', name, 'must be no more than 63 characters');
  }
  if (job.metadata?.namespace && job.metadata.namespace !== ns)
    bad('metadata.namespace', job.metadata.namespace, 'does not match the namespace of the request');
  if (!isDns1123Label(ns)) bad('metadata.namespace', ns, 'a lowercase RFC 1123 label');
  const labels = (at: string, l: Json | undefined) => {
    for (const [k, v] of Object.entries(l ?? {})) {
      if (!isLabelKey(k))
        bad(
          `${at}`,
          k,
          "name part must consist of alphanumeric characters, '-', '_' or '.' (at most 63), with an " +
            'optional DNS subdomain prefix',
        );
      if (typeof v !== 'string' || !isLabelValueString(v))
        bad(
          `${at}`,
          v,
          "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.' (at most 63)",
        );
    }
  };
  labels('metadata.labels', job.metadata?.labels);
  const spec = job.spec ?? {};
  if (spec.backoffLimit !== undefined && spec.backoffLimit < 0)
    bad('spec.backoffLimit', spec.backoffLimit, 'must be greater than or equal to 0');
  if (spec.activeDeadlineSeconds !== undefined && spec.activeDeadlineSeconds <= 0)
    bad('spec.activeDeadlineSeconds', spec.activeDeadlineSeconds, 'must be greater than 0');
  if (spec.ttlSecondsAfterFinished !== undefined && spec.ttlSecondsAfterFinished < 0)
    bad('spec.ttlSecondsAfterFinished', spec.ttlSecondsAfterFinished, 'must be greater than or equal to 0');
  labels('spec.template.metadata.labels', spec.template?.metadata?.labels);
  const pod = spec.template?.spec ?? {};
  if (!['Never', 'OnFailure'].includes(pod.restartPolicy))
    causes.push({
      reason: 'FieldValueNotSupported',
      field: 'spec.template.spec.restartPolicy',
      message: `Unsupported value: "${pod.restartPolicy}": supported values: "OnFailure", "Never"`,
    });
  if (spec.podFailurePolicy && pod.restartPolicy !== 'Never')
    bad(
      'spec.template.spec.restartPolicy',
      pod.restartPolicy,
      'only "Never" is supported when podFailurePolicy is specified',
    );
  const volumes = new Set<string>(((pod.volumes ?? []) as Json[]).map((v) => v.name));
  for (const [i, v] of ((pod.volumes ?? []) as Json[]).entries())
    if (!isDns1123Label(v.name)) bad(`spec.template.spec.volumes[${i}].name`, v.name, 'a lowercase RFC 1123 label');
  const containerNames = new Set<string>();
  for (const [i, c] of ((pod.containers ?? []) as Json[]).entries()) {
    const at = `spec.template.spec.containers[${i}]`;
    if (!isDns1123Label(c.name)) bad(`${at}.name`, c.name, 'a lowercase RFC 1123 label');
    if (containerNames.has(c.name))
      causes.push({ reason: 'FieldValueDuplicate', field: `${at}.name`, message: `Duplicate value: "${c.name}"` });
    containerNames.add(c.name);
    if (!c.image) causes.push({ reason: 'FieldValueRequired', field: `${at}.image`, message: 'Required value' });
    const envNameOk = (n: unknown) =>
      relaxedEnvVarNames
        ? typeof n === 'string' && /^[\x20-\x3c\x3e-\x7e]+$/.test(n)
        : typeof n === 'string' && isEnvVarName(n);
    for (const [j, e] of ((c.env ?? []) as Json[]).entries())
      if (!envNameOk(e.name))
        bad(
          `${at}.env[${j}].name`,
          e.name,
          "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or " +
            "'.', and must not start with a digit",
        );
    const seen = new Set<string>();
    for (const [j, m] of ((c.volumeMounts ?? []) as Json[]).entries()) {
      const mat = `${at}.volumeMounts[${j}]`;
      if (!volumes.has(m.name))
        causes.push({ reason: 'FieldValueNotFound', field: `${mat}.name`, message: `Not found: "${m.name}"` });
      if (seen.has(m.mountPath)) bad(`${mat}.mountPath`, m.mountPath, 'must be unique');
      seen.add(m.mountPath);
      if (m.subPath !== undefined && (m.subPath.startsWith('/') || m.subPath.split('/').includes('..')))
        bad(`${mat}.subPath`, m.subPath, "must be a relative path without '..'");
    }
    const limits: Json = c.resources?.limits ?? {};
    const requests: Json = c.resources?.requests ?? {};
    for (const [res, q] of Object.entries(requests)) {
      if (
        res.includes('/') &&
        !res.startsWith('kubernetes.io/') &&
        limits[res] !== undefined &&
        String(limits[res]) !== String(q)
      )
        // extended resources are not overcommitted
        bad(`${at}.resources.requests[${res}]`, q, `must be equal to ${res} limit of ${limits[res]}`);
    }
  }
  causes.push(...indexedJobErrors(spec));
  return causes;
}

let serviceValidator: Validator | null = null;
let networkPolicyValidator: Validator | null = null;

/** A compiled `kubernetes-models` validator of one OpenAPI definition, required by path (see loadJobValidator). */
function modelValidator(file: string): Validator {
  const getBuiltin = (process as unknown as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  const req: NodeJS.Require = getBuiltin
    ? (getBuiltin('node:module') as typeof import('node:module')).createRequire(__filename)
    : require;
  const root = dirname(req.resolve('kubernetes-models/package.json'));
  return (req(join(root, '_schemas', file)) as { validate: Validator }).validate;
}

/**
 * What the API server refuses of a created NetworkPolicy: the OpenAPI schema (`io.k8s.api.networking.v1.NetworkPolicy`)
 * and ValidateNetworkPolicy's name, policyTypes and port rules.
 */
export function networkPolicyErrors(np: Json, ns: string): Cause[] {
  networkPolicyValidator ??= modelValidator('IoK8sApiNetworkingV1NetworkPolicy.js');
  const causes: Cause[] = [];
  if (!networkPolicyValidator(np))
    for (const e of networkPolicyValidator.errors ?? [])
      causes.push({
        reason: 'FieldValueInvalid',
        field: fieldPath(e.instancePath) || '(root)',
        message: e.message ?? e.keyword,
      });
  const bad = (field: string, value: unknown, detail: string) =>
    causes.push({ reason: 'FieldValueInvalid', field, message: `Invalid value: ${JSON.stringify(value)}: ${detail}` });
  if (np.apiVersion !== 'networking.k8s.io/v1' || np.kind !== 'NetworkPolicy')
    bad('kind', np.kind, 'expected a networking.k8s.io/v1 NetworkPolicy');
  const name = np.metadata?.name;
  if (typeof name !== 'string' || !isDns1123Subdomain(name))
    bad('metadata.name', name, 'a lowercase RFC 1123 subdomain');
  if (np.metadata?.namespace && np.metadata.namespace !== ns)
    bad('metadata.namespace', np.metadata.namespace, 'does not match the namespace of the request');
  for (const [i, t] of ((np.spec?.policyTypes ?? []) as string[]).entries())
    if (t !== 'Ingress' && t !== 'Egress') bad(`spec.policyTypes[${i}]`, t, 'supported values: "Ingress", "Egress"');
  for (const dir of ['ingress', 'egress'])
    for (const [i, rule] of ((np.spec?.[dir] ?? []) as Json[]).entries())
      for (const [j, p] of ((rule.ports ?? []) as Json[]).entries()) {
        if (p.protocol !== undefined && !['TCP', 'UDP', 'SCTP'].includes(p.protocol))
          bad(`spec.${dir}[${i}].ports[${j}].protocol`, p.protocol, 'supported values: "TCP", "UDP", "SCTP"');
        if (typeof p.port === 'number' && !(p.port >= 1 && p.port <= 65535))
          bad(`spec.${dir}[${i}].ports[${j}].port`, p.port, 'must be between 1 and 65535, inclusive');
      }
  return causes;
}
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/**
 * What the API server refuses of a created core/v1 Service: the OpenAPI schema (`io.k8s.api.core.v1.Service`, as
 * `kubernetes-models` compiles it) and the part of ValidateService it cannot say (a DNS-1035 name, a headless
 * Service's clusterIP, port numbers and names, complete ownerReferences).
 */
export function serviceErrors(svc: Json, ns: string): Cause[] {
  serviceValidator ??= modelValidator('IoK8sApiCoreV1Service.js');
  const causes: Cause[] = [];
  if (!serviceValidator(svc))
    for (const e of serviceValidator.errors ?? [])
      causes.push({
        reason: 'FieldValueInvalid',
        field: fieldPath(e.instancePath) || '(root)',
        message: e.message ?? e.keyword,
      });
  const bad = (field: string, value: unknown, detail: string) =>
    causes.push({ reason: 'FieldValueInvalid', field, message: `Invalid value: ${JSON.stringify(value)}: ${detail}` });
  if (svc.apiVersion !== 'v1' || svc.kind !== 'Service') bad('kind', svc.kind, 'expected a v1 Service');
  const name = svc.metadata?.name;
  if (typeof name !== 'string' || name.length > 63 || !DNS1035_LABEL.test(name))
    bad(
      'metadata.name',
      name,
      "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with a letter",
    );
  if (svc.metadata?.namespace && svc.metadata.namespace !== ns)
    bad('metadata.namespace', svc.metadata.namespace, 'does not match the namespace of the request');
  for (const [i, r] of ((svc.metadata?.ownerReferences ?? []) as Json[]).entries())
    for (const f of ['apiVersion', 'kind', 'name', 'uid'])
      if (!r[f])
        causes.push({
          reason: 'FieldValueRequired',
          field: `metadata.ownerReferences[${i}].${f}`,
          message: 'Required value',
        });
  const spec = svc.spec ?? {};
  if (spec.clusterIP !== undefined && spec.clusterIP !== 'None' && !/^\d+\.\d+\.\d+\.\d+$/.test(spec.clusterIP))
    bad('spec.clusterIP', spec.clusterIP, 'must be empty, "None", or a valid IP address');
  const ports = (spec.ports ?? []) as Json[];
  if (spec.clusterIP !== 'None' && ports.length === 0)
    causes.push({ reason: 'FieldValueRequired', field: 'spec.ports', message: 'Required value' });
  for (const [i, p] of ports.entries()) {
    if (!(Number.isInteger(p.port) && p.port >= 1 && p.port <= 65535))
      bad(`spec.ports[${i}].port`, p.port, 'must be between 1 and 65535, inclusive');
    if (ports.length > 1 && !p.name)
      causes.push({ reason: 'FieldValueRequired', field: `spec.ports[${i}].name`, message: 'Required value' });
  }
  return causes;
}

/** ValidateJob's rules of completion modes: an Indexed Job needs completions, and parallelism and completions ≤ 10⁵. */
export function indexedJobErrors(spec: Json): Cause[] {
  const causes: Cause[] = [];
  const mode = spec.completionMode;
  if (mode !== undefined && mode !== 'NonIndexed' && mode !== 'Indexed')
    causes.push({
      reason: 'FieldValueNotSupported',
      field: 'spec.completionMode',
      message: `Unsupported value: "${mode}": supported values: "NonIndexed", "Indexed"`,
    });
  if (mode === 'Indexed') {
    if (spec.completions === undefined || spec.completions === null)
      causes.push({
        reason: 'FieldValueRequired',
        field: 'spec.completions',
        message: 'Required value: when completion mode is Indexed',
      });
    for (const f of ['completions', 'parallelism'])
      if (typeof spec[f] === 'number' && spec[f] > 100_000)
        causes.push({
          reason: 'FieldValueInvalid',
          field: `spec.${f}`,
          message: `Invalid value: ${spec[f]}: must be less than or equal to 100000 when completion mode is Indexed`,
        });
  }
  const sub = spec.template?.spec?.subdomain;
  if (sub !== undefined && !isDns1123Label(sub))
    causes.push({
      reason: 'FieldValueInvalid',
      field: 'spec.template.spec.subdomain',
      message: `Invalid value: ${JSON.stringify(sub)}: a lowercase RFC 1123 label`,
    });
  return causes;
}
