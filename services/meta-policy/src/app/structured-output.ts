import { transformJSONSchema } from '@anthropic-ai/sdk/lib/transform-json-schema';

type Schema = Record<string, unknown>;

export interface StructuredOutputFormat {
  /** The `output_config.format.schema` to send. */
  schema: Schema;
  /** The model's JSON, with every free-form object it wrote as a JSON string turned back into the object. */
  decode(value: unknown): unknown;
}

const ENCODED_NOTE = 'A JSON object, written as a JSON string (structured outputs cannot describe a free-form map).';

/**
 * A structured-output format for a JSON schema made for tool input. The SDK's own transformJSONSchema
 * (lib/transform-json-schema, what its `jsonSchemaOutputFormat` helper sends) brings it to the subset structured
 * outputs accept: unsupported keywords move into descriptions (our validator still checks them), and every object
 * gets `additionalProperties: false`. That last step would turn a free-form map (a recipe: any keys) into an object
 * that can only be `{}`; such a property becomes a string holding the map's JSON, which `decode` parses back.
 * Free-form maps only inside `anyOf` variants stay as the transform leaves them (`{}` only): no decoding could
 * tell such a string from a plain string variant.
 */
export function structuredOutputFormat(toolInputSchema: Schema): StructuredOutputFormat {
  const strict = transformJSONSchema(toolInputSchema);
  const encoded = new Set<Schema>();
  const encode = (node: Schema): Schema => {
    if (node.type === 'object' && isEmpty(node.properties) && !node.anyOf) {
      const description =
        typeof node.description === 'string' ? `${node.description}\n\n${ENCODED_NOTE}` : ENCODED_NOTE;
      const replacement: Schema = { type: 'string', description };
      encoded.add(replacement);
      return replacement;
    }
    const out: Schema = { ...node };
    if (isRecord(node.properties))
      out.properties = Object.fromEntries(
        Object.entries(node.properties).map(([k, v]) => [k, isRecord(v) ? encode(v) : v]),
      );
    if (isRecord(node.items)) out.items = encode(node.items);
    return out;
  };
  // The root stays an object; its properties (and array items, nested objects) are where maps are encoded.
  const schema: Schema = {
    ...strict,
    properties: Object.fromEntries(
      Object.entries((strict.properties as Schema) ?? {}).map(([k, v]) => [k, isRecord(v) ? encode(v) : v]),
    ),
  };

  const decode = (value: unknown, node: unknown): unknown => {
    if (!isRecord(node)) return value;
    if (encoded.has(node) && typeof value === 'string') {
      try {
        return JSON.parse(value) as unknown;
      } catch {
        return value; // left as written: the validator refuses a recipe that is not an object, naming the field
      }
    }
    if (Array.isArray(value) && isRecord(node.items)) return value.map((v) => decode(v, node.items));
    if (isRecord(value) && isRecord(node.properties)) {
      const props = node.properties;
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, decode(v, props[k])]));
    }
    return value;
  };
  return { schema, decode: (value) => decode(value, schema) };
}

const isRecord = (v: unknown): v is Schema => v !== null && typeof v === 'object' && !Array.isArray(v);
const isEmpty = (v: unknown): boolean => v === undefined || (isRecord(v) && Object.keys(v).length === 0);
