import { createHash } from 'node:crypto';

/** JSON with object keys sorted at every level: the canonical form hashed by projections and evidence. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    // No prototype: a key "__proto__" (JSON.parse makes it an own key) is then kept as data, not taken as a prototype.
    const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    for (const k of Object.keys(o).sort()) if (o[k] !== undefined) out[k] = sortKeys(o[k]);
    return out;
  }
  return v;
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export const contentHash = (value: unknown): string => sha256Hex(canonicalJson(value));
