import { createHash } from 'node:crypto';

const short = (s: string, n = 8) => createHash('sha256').update(s).digest('hex').slice(0, n);
const MAX = 63;

/**
 * Deterministic batch/v1 Job name for a jobId: a DNS-1123 label (lowercase alphanumerics and '-', starts with a
 * letter, ends alphanumeric, ≤ 63 chars; Job names become the pods' `job-name` label, which is limited to 63).
 * A hash of the exact jobId keeps names of ids that differ only in case, '_' or a long tail apart. `maxLength` leaves
 * room for what Kubernetes appends (a multi-node Job's pods are named and hostnamed `<job>-<index>`).
 */
export function kubernetesJobName(jobId: string, maxLength = MAX): string {
  const slug = jobId
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '');
  const suffix = `-${short(jobId)}`;
  const room = Math.min(maxLength, MAX) - 'aevo-'.length - suffix.length;
  const body = slug.slice(0, room).replace(/-+$/, '');
  return `aevo-${body}${body ? '' : 'job'}${suffix}`.replace(/--+/g, '-');
}

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** A valid label value (≤ 63, alphanumerics and -_. inside) for an id; long ids are cut and suffixed with a hash. */
export function labelValue(id: string): string {
  if (id.length <= MAX && LABEL_VALUE.test(id)) return id;
  const suffix = `-${short(id)}`;
  const body = id
    .replace(/[^-A-Za-z0-9_.]/g, '-')
    .slice(0, MAX - suffix.length)
    .replace(/[-_.]+$/, '');
  return `${body}${suffix}`.replace(/^[-_.]+/, '');
}

export const isDnsLabel = (s: string) => s.length <= MAX && /^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(s);
export const isLabelValue = (s: string) => s.length <= MAX && LABEL_VALUE.test(s);
