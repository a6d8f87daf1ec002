import { isMap, isScalar, parseDocument, stringify, type Document } from 'yaml';
import { BoundedMemo } from './memo';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Deep-merges `overlay` onto a recipe YAML text: mappings merge key by key, anything else (scalars, lists)
 * replaces. Comments and key order of the substrate's recipe survive, so a sandbox recipe reads like the
 * original with the standing recipe's values in place. An empty overlay returns the text unchanged.
 */
export function mergeRecipeYaml(yamlText: string, overlay: Record<string, unknown>): string {
  if (Object.keys(overlay).length === 0) return yamlText;
  // Every sandbox of a round merges the same standing recipe onto the same text: merged once per process (YAML
  // parsing was most of a fork's CPU). The key keeps the overlay's key order, which decides where new keys go.
  return merged.get(`${JSON.stringify(overlay)}\u0000${yamlText}`, () => mergeOnce(yamlText, overlay));
}

const merged = new BoundedMemo<string>(64);

function mergeOnce(yamlText: string, overlay: Record<string, unknown>): string {
  const doc = parseDocument(yamlText, { uniqueKeys: true });
  if (doc.errors.length > 0) throw new Error(`recipe is not valid YAML: ${doc.errors[0].message.split('\n')[0]}`);
  if (doc.contents === null) return stringify(overlay);
  if (!isMap(doc.contents)) throw new Error('recipe must be a YAML mapping');
  mergeInto(doc, [], overlay);
  return doc.toString();
}

function mergeInto(doc: Document, at: string[], overlay: Record<string, unknown>) {
  for (const [key, value] of Object.entries(overlay)) {
    const p = [...at, key];
    const node = doc.getIn(p, true);
    if (isPlainObject(value) && isMap(node)) mergeInto(doc, p, value);
    // Setting the scalar in place keeps its comment; replacing the node would drop it.
    else if (isScalar(node) && (value === null || typeof value !== 'object')) node.value = value;
    else doc.setIn(p, doc.createNode(value as Json));
  }
}

/** The same merge on plain objects (what `mergeRecipeYaml` produces, parsed). */
export function mergeRecipe(base: Record<string, unknown>, overlay: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(overlay))
    out[k] = isPlainObject(v) && isPlainObject(out[k]) ? mergeRecipe(out[k] as Record<string, unknown>, v) : v;
  return out;
}
