import { canonicalJson, type RecipeChange, type RecipeDocument } from '@aevo/contracts';
import { own, setOwn } from './own';

/** The standing recipe with a candidate's changes applied; `to: null` for a setting that existed removes it. */
export function applyRecipeChanges(recipe: RecipeDocument, changes: readonly RecipeChange[]): RecipeDocument {
  const copy = structuredClone(recipe) as Record<string, unknown>;
  for (const c of changes) {
    const segs = c.path.split('.');
    let cur = copy;
    // Paths come from candidates: only own properties are followed, so "__proto__.x" or "constructor.x" stay
    // settings of this recipe and never reach a prototype.
    for (const seg of segs.slice(0, -1)) {
      const next = own(cur, seg);
      if (next === null || typeof next !== 'object' || Array.isArray(next)) setOwn(cur, seg, {});
      cur = own(cur, seg) as Record<string, unknown>;
    }
    const leaf = segs[segs.length - 1];
    if (c.to === null && c.from !== undefined && c.from !== null) delete cur[leaf];
    else setOwn(cur, leaf, structuredClone(c.to));
  }
  return copy as RecipeDocument;
}

/** Leaf settings of a recipe by dotted path (arrays are leaves). */
export function flattenRecipe(doc: unknown, prefix = ''): Map<string, unknown> {
  const out = new Map<string, unknown>();
  if (doc !== null && typeof doc === 'object' && !Array.isArray(doc)) {
    for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
      const p = prefix ? `${prefix}.${k}` : k;
      if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 0)
        for (const [kk, vv] of flattenRecipe(v, p)) out.set(kk, vv);
      else out.set(p, v);
    }
  }
  return out;
}

export const sameJson = (a: unknown, b: unknown): boolean => canonicalJson(a) === canonicalJson(b);
