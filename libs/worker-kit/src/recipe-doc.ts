import * as YAML from 'yaml';
import { canonicalJson, type RecipeChange, type RecipeDocument } from '@aevo/contracts';
import { BoundedMemo } from '@aevo/substrate-kit';

/** Dotted-path access into a recipe document ("optim.lr", "mix.equation"). */
export function getPath(doc: unknown, dotted: string): unknown {
  let cur: unknown = doc;
  for (const seg of dotted.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur;
}

export function hasPath(doc: unknown, dotted: string): boolean {
  return getPath(doc, dotted) !== undefined;
}

/** Returns a copy of `doc` with `dotted` set to `value` (intermediate objects created). */
export function setPath<T extends Record<string, unknown>>(doc: T, dotted: string, value: unknown): T {
  const copy = structuredClone(doc) as Record<string, unknown>;
  const segs = dotted.split('.');
  let cur = copy;
  for (const seg of segs.slice(0, -1)) {
    const next = cur[seg];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) cur[seg] = {};
    cur = cur[seg] as Record<string, unknown>;
  }
  cur[segs[segs.length - 1]] = value;
  return copy as T;
}

/** Leaf paths of a document; arrays are leaves (a mix list is one setting). */
export function flatten(doc: unknown, prefix = ''): Map<string, unknown> {
  const out = new Map<string, unknown>();
  if (doc !== null && typeof doc === 'object' && !Array.isArray(doc)) {
    for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
      const p = prefix ? `${prefix}.${k}` : k;
      if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 0)
        for (const [kk, vv] of flatten(v, p)) out.set(kk, vv);
      else out.set(p, v);
    }
  }
  return out;
}

/** Settings that differ between two recipes, sorted by path. A removed setting has `to: null`. */
export function diffRecipe(before: RecipeDocument, after: RecipeDocument): RecipeChange[] {
  const a = flatten(before);
  const b = flatten(after);
  const paths = [...new Set([...a.keys(), ...b.keys()])].sort();
  const changes: RecipeChange[] = [];
  for (const p of paths) {
    const from = a.get(p);
    const to = b.get(p);
    if (canonicalJson(from ?? null) === canonicalJson(to ?? null)) continue;
    changes.push(from === undefined ? { path: p, to: to ?? null } : { path: p, from, to: to ?? null });
  }
  return changes;
}

/**
 * Parsed once per text and process: a candidate's steps parse the same few texts again and again (open, every
 * edit, its warnings, the manifest), and YAML parsing was the worker's largest CPU cost (bench/campaign). Callers
 * get copies, so nothing they do reaches the memo.
 */
const recipes = new BoundedMemo<RecipeDocument>();

export function parseRecipeYaml(text: string, file = 'recipe'): RecipeDocument {
  return structuredClone(recipes.get(text, (t) => parseRecipeText(t, file)));
}

function parseRecipeText(text: string, file: string): RecipeDocument {
  let value: unknown;
  try {
    value = YAML.parse(text);
  } catch (err) {
    throw new Error(`${file} is not valid YAML: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new Error(`${file} must be a YAML mapping at the top level`);
  return value as RecipeDocument;
}

/** Parsed documents (with their comments and layout), remembered by text; each use edits a clone. */
const documents = new BoundedMemo<YAML.Document>(64);

/**
 * Applies dotted-path settings to YAML text through the YAML document model, so comments and key order survive
 * and the recipe diff shows only the changed lines.
 */
export function applyToYaml(text: string, settings: ReadonlyArray<{ path: string; to: unknown }>): string {
  // A round's explorers all start from the same recipe text: parse it once per process.
  const doc = documents.get(text, (t) => YAML.parseDocument(t)).clone();
  for (const s of settings) doc.setIn(s.path.split('.'), s.to);
  return doc.toString();
}

/** Renders a whole recipe document as YAML (used when the standing recipe replaces the fork's recipe). */
export function recipeToYaml(doc: RecipeDocument): string {
  return YAML.stringify(doc);
}
