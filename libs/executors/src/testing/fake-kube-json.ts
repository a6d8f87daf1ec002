// JSON wire helpers of the fake Kubernetes API: statuses, selectors, patches, conditions, timestamps.

export type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A field error in the shape of metav1.StatusCause. */
export interface Cause {
  reason: string;
  field: string;
  message: string;
}

export const status = (code: number, reason: string, message: string, causes?: Cause[]) => ({
  kind: 'Status',
  apiVersion: 'v1',
  metadata: {},
  status: 'Failure',
  reason,
  message,
  code,
  ...(causes ? { details: { group: 'batch', kind: 'Job', causes } } : {}),
});

export function parseSelector(s: string | undefined): Array<[string, string]> {
  if (!s) return [];
  return s.split(',').map((kv) => {
    const [k, v] = kv.split('=');
    return [k.trim(), (v ?? '').trim()] as [string, string];
  });
}

export const matches = (obj: Json, sel: Array<[string, string]>) =>
  sel.every(([k, v]) => obj.metadata?.labels?.[k] === v);
export const DEFAULT_BACKOFF_LIMIT = 6; // batch/v1 JobSpec.backoffLimit default

/** One RFC 6902 operation (add, replace, remove) on a JSON pointer into `doc`. */
export function applyJsonPatchOp(doc: Json, op: Json): void {
  if (typeof op?.path !== 'string' || !op.path.startsWith('/'))
    throw new Error(`invalid JSON patch path ${JSON.stringify(op?.path)}`);
  const keys = op.path
    .slice(1)
    .split('/')
    .map((k: string) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
  const last = keys.pop()!;
  let parent: Json = doc;
  for (const k of keys) {
    if (parent[k] == null || typeof parent[k] !== 'object')
      throw new Error(`JSON patch path ${op.path}: ${k} does not exist`);
    parent = parent[k];
  }
  if (op.op === 'add' || op.op === 'replace') {
    if (op.op === 'replace' && !(last in parent)) throw new Error(`JSON patch replace: ${op.path} does not exist`);
    parent[last] = op.value;
  } else if (op.op === 'remove') {
    if (!(last in parent)) throw new Error(`JSON patch remove: ${op.path} does not exist`);
    delete parent[last];
  } else throw new Error(`unsupported JSON patch operation ${JSON.stringify(op.op)}`);
}

/** RFC 7386 merge patch. */
export function mergePatch(target: Json, patch: unknown): void {
  if (!patch || typeof patch !== 'object' || Array.isArray(patch)) throw new Error('a merge patch must be an object');
  for (const [k, v] of Object.entries(patch as Json)) {
    if (v === null) delete target[k];
    else if (typeof v === 'object' && !Array.isArray(v)) {
      if (!target[k] || typeof target[k] !== 'object' || Array.isArray(target[k])) target[k] = {};
      mergePatch(target[k], v);
    } else target[k] = v;
  }
}

export function setCondition(job: Json, c: Json): void {
  const conditions: Json[] = job.status.conditions ?? [];
  const i = conditions.findIndex((x) => x.type === c.type);
  if (i >= 0) {
    if (conditions[i].status === c.status) c.lastTransitionTime = conditions[i].lastTransitionTime; // no transition
    conditions[i] = { ...c, lastProbeTime: c.lastTransitionTime };
  } else if (c.status === 'True') {
    // a False condition only updates one that was True
    conditions.push({ ...c, lastProbeTime: c.lastTransitionTime });
  }
  job.status.conditions = conditions;
}

/** The first podFailurePolicy rule (batch/v1 PodFailurePolicyRule) that matches a pod that exited with `exitCode`. */
export function matchPodFailurePolicy(
  job: Json,
  pod: Json,
  exitCode: number,
): { action: string; index: number } | null {
  const rules: Json[] = job.spec.podFailurePolicy?.rules ?? [];
  const podConditions: Json[] = pod.status?.conditions ?? [];
  for (const [index, rule] of rules.entries()) {
    if (rule.onExitCodes) {
      const r = rule.onExitCodes;
      if (r.containerName && r.containerName !== 'job') continue;
      const inValues = (r.values as number[]).includes(exitCode);
      if (r.operator === 'In' ? inValues : !inValues) return { action: rule.action, index };
    } else if (rule.onPodConditions) {
      if (
        (rule.onPodConditions as Json[]).some((p) =>
          podConditions.some((c) => c.type === p.type && c.status === (p.status ?? 'True')),
        )
      )
        return { action: rule.action, index };
    }
  }
  return null;
}

// ------------------------------------------------------------------ validation on create

export function nsToRfc3339(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const base = new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d+Z$/, '');
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return `${base}${frac ? `.${frac}` : ''}Z`;
}
