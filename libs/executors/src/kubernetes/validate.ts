import type { JobSpec } from '@aevo/contracts';
import type { KubernetesJobConfig } from './manifest';

/**
 * Name rules the Kubernetes API server applies (k8s.io/apimachinery/pkg/util/validation), checked before a Job is
 * built so that a bad setting fails with the field it came from instead of a 422 (or a Kueue workload that is never
 * admitted) for every Job.
 */
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/**
 * `IsEnvVarName`: the API server's rule for `env[].name` (a C identifier that may also hold '-' and '.'). Clusters with
 * RelaxedEnvironmentVariableValidation accept any printable ASCII but '='; the strict rule is the one every supported
 * version accepts.
 */
const ENV_VAR_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
/** resource.Quantity's serialised form (a decimal with an optional binary/decimal suffix or exponent). */
const QUANTITY = /^[+-]?(\d+(\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$/;

export const isDns1123Label = (s: string) => s.length <= 63 && DNS1123_LABEL.test(s);
export const isDns1123Subdomain = (s: string) => s.length <= 253 && DNS1123_SUBDOMAIN.test(s);
export const isEnvVarName = (s: string) => ENV_VAR_NAME.test(s);
export const isLabelValueString = (s: string) => s.length <= 63 && LABEL_VALUE.test(s);
export const isQuantity = (s: string) => QUANTITY.test(s);

export interface FieldError {
  field: string;
  message: string;
}

/** A configuration or job spec that no API server would accept; names every bad field. */
export class KubernetesValidationError extends Error {
  constructor(
    what: string,
    readonly fields: FieldError[],
  ) {
    super(`${what}: ${fields.map((f) => `${f.field}: ${f.message}`).join('; ')}`);
    this.name = 'KubernetesValidationError';
  }
}

/**
 * A name that lands both in an object reference and in a label value (the Kueue queue-name and priority-class
 * labels): a DNS-1123 subdomain (LocalQueue / WorkloadPriorityClass names) no longer than a label value (63).
 */
function labelledObjectName(field: string, value: string, errors: FieldError[]): void {
  if (!isDns1123Subdomain(value))
    errors.push({
      field,
      message:
        `"${value}" is not a DNS-1123 subdomain (lowercase alphanumerics, '-' and '.', starting and ending ` +
        `alphanumeric)`,
    });
  else if (value.length > 63)
    errors.push({ field, message: `"${value}" is longer than 63 characters, the limit of the label that carries it` });
}

/** Field errors of a Kubernetes executor configuration (empty when the API server would accept every name in it). */
export function kubernetesConfigErrors(cfg: KubernetesJobConfig): FieldError[] {
  const errors: FieldError[] = [];
  if (!isDns1123Label(cfg.namespace))
    errors.push({
      field: 'namespace',
      message: `"${cfg.namespace}" is not a DNS-1123 label (lowercase alphanumerics and '-', at most 63)`,
    });
  labelledObjectName('queueName', cfg.queueName, errors);
  for (const [priority, name] of Object.entries(cfg.priorityClasses ?? {}))
    if (name !== undefined) labelledObjectName(`priorityClasses.${priority}`, name, errors);
  if (!isDns1123Subdomain(cfg.pvcClaimName))
    errors.push({ field: 'pvcClaimName', message: `"${cfg.pvcClaimName}" is not a DNS-1123 subdomain` });
  if (cfg.serviceAccountName !== undefined && !isDns1123Subdomain(cfg.serviceAccountName))
    errors.push({ field: 'serviceAccountName', message: `"${cfg.serviceAccountName}" is not a DNS-1123 subdomain` });
  if (!cfg.image || /\s/.test(cfg.image))
    errors.push({ field: 'image', message: `"${cfg.image}" is empty or contains whitespace` });
  if (cfg.tmpSizeLimit !== undefined && !isQuantity(cfg.tmpSizeLimit))
    errors.push({ field: 'tmpSizeLimit', message: `"${cfg.tmpSizeLimit}" is not a quantity (e.g. 8Gi)` });
  if (
    cfg.queueDeadlineSeconds !== undefined &&
    !(Number.isInteger(cfg.queueDeadlineSeconds) && cfg.queueDeadlineSeconds >= 0)
  )
    errors.push({
      field: 'queueDeadlineSeconds',
      message: `expected a non-negative integer (0 = no deadline), got ${cfg.queueDeadlineSeconds}`,
    });
  if (
    cfg.masterPort !== undefined &&
    !(Number.isInteger(cfg.masterPort) && cfg.masterPort >= 1 && cfg.masterPort <= 65535)
  )
    errors.push({ field: 'masterPort', message: `expected an integer port 1..65535, got ${cfg.masterPort}` });
  return errors;
}

/** Throws naming each bad field of a Kubernetes executor configuration. */
export function assertKubernetesConfig(cfg: KubernetesJobConfig): void {
  const errors = kubernetesConfigErrors(cfg);
  if (errors.length) throw new KubernetesValidationError('invalid Kubernetes executor configuration', errors);
}

/** Field errors of a job spec that the API server would refuse in a pod (today: environment variable names). */
export function jobSpecErrors(spec: Pick<JobSpec, 'env'>): FieldError[] {
  const errors: FieldError[] = [];
  for (const name of Object.keys(spec.env ?? {}))
    if (!isEnvVarName(name))
      errors.push({
        field: `env.${name}`,
        message:
          `"${name}" is not a valid environment variable name for Kubernetes (must match ` +
          `[-._a-zA-Z][-._a-zA-Z0-9]*)`,
      });
  return errors;
}
