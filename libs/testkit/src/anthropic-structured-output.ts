/*
 * The subset of JSON Schema that the Messages API's structured outputs accept, as the installed SDK's
 * transformJSONSchema (@anthropic-ai/sdk lib/transform-json-schema) produces it; the loopback refuses the rest.
 */

/**
 * Keywords structured outputs accept, per node: what the SDK's own transformJSONSchema (lib/transform-json-schema)
 * keeps.
 */
const STRUCTURED_OUTPUT_KEYWORDS = new Set([
  'type',
  'enum',
  'const',
  'anyOf',
  'allOf',
  '$ref',
  '$defs',
  'description',
  'title',
  'properties',
  'additionalProperties',
  'required',
  'items',
  'minItems',
  'format',
]);
/** String formats it keeps (SUPPORTED_STRING_FORMATS there). */
const STRUCTURED_OUTPUT_FORMATS = new Set([
  'date-time',
  'time',
  'date',
  'duration',
  'email',
  'hostname',
  'uri',
  'ipv4',
  'ipv6',
  'uuid',
]);

/** The first keyword or shape of `schema` that structured outputs do not accept, named by its path; null when none. */
export function structuredOutputProblem(schema: unknown, at: string): string | null {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema))
    return `${at}: a schema must be an object`;
  const s = schema as Record<string, unknown>;
  for (const k of Object.keys(s))
    if (!STRUCTURED_OUTPUT_KEYWORDS.has(k))
      return `${at}: keyword ${JSON.stringify(k)} is not supported by structured outputs`;
  if (s.format !== undefined && !STRUCTURED_OUTPUT_FORMATS.has(s.format as string))
    return `${at}.format: ${JSON.stringify(s.format)} is not a supported string format`;
  if (s.minItems !== undefined && s.minItems !== 0 && s.minItems !== 1)
    return `${at}.minItems: only 0 or 1 is supported`;
  const types = Array.isArray(s.type) ? s.type : [s.type];
  if (types.includes('object') && s.additionalProperties !== false)
    return `${at}: objects must set additionalProperties to false`;
  const children: Array<[string, unknown]> = [];
  for (const [k, v] of Object.entries((s.properties as Record<string, unknown>) ?? {}))
    children.push([`${at}.properties.${k}`, v]);
  for (const [k, v] of Object.entries((s.$defs as Record<string, unknown>) ?? {}))
    children.push([`${at}.$defs.${k}`, v]);
  for (const key of ['anyOf', 'allOf'] as const)
    if (Array.isArray(s[key])) (s[key] as unknown[]).forEach((v, i) => children.push([`${at}.${key}.${i}`, v]));
  if (s.items !== undefined) children.push([`${at}.items`, s.items]);
  for (const [p, v] of children) {
    const problem = structuredOutputProblem(v, p);
    if (problem) return problem;
  }
  return null;
}
