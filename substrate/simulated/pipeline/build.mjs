// The data-construction program (editable, with recipe.yaml): recipe -> training rows.
// Order: sample the official pool by the mix -> add synthetic rows -> augment -> filter -> shuffle.
// Rows are { id, prompt, answer, domain, variant, source }; the frozen prepare-data entrypoint writes train.csv.
import { makeRng } from '../lib/rng.mjs';
import { allocate, DOMAINS, generateRows, officialPool } from '../lib/world.mjs';

/** Per-domain counts by mix weight; past a domain's pool share, rows repeat (upsampling). */
export function sampleMix(pool, rows, mix, rng) {
  const byDomain = Object.fromEntries(DOMAINS.map((d) => [d, []]));
  for (const r of pool) byDomain[r.domain].push(r);
  const counts = allocate(rows, Object.fromEntries(DOMAINS.map((d) => [d, Number(mix?.[d] ?? 0)])));
  const out = [];
  for (const d of DOMAINS) {
    const have = byDomain[d];
    const want = counts[d];
    if (!want || !have.length) continue;
    if (want <= have.length) out.push(...rng.shuffle([...have]).slice(0, want));
    else {
      out.push(...have);
      for (let i = have.length; i < want; i++) out.push(have[rng.int(have.length)]);
    }
  }
  return out.map((r) => ({ ...r, source: 'pool' }));
}

/** Fresh rows: `count` over `mix`, with per-domain `variants` weights (e.g. { equation: { symbolic: 1 } }). */
export function synthesize(settings, seed) {
  const count = Number(settings?.count ?? 0);
  if (!(count > 0)) return [];
  const mix = settings.mix ?? Object.fromEntries(DOMAINS.map((d) => [d, 1]));
  const variants = settings.variants && Object.keys(settings.variants).length ? settings.variants : null;
  return generateRows(count, mix, seed, { variants, salt: 'synthetic' }).map((r) => ({ ...r, source: 'synthetic' }));
}

/** Augmenters add a modified copy of a row (marked in its prompt; a copy is worth half a new row). */
export const AUGMENTERS = {
  shuffle_examples: (r, i) => ({
    ...r,
    id: `${r.id}-s`,
    prompt: `${r.prompt} [augmented:shuffle:${i}]`,
    source: 'augment',
  }),
  drop_examples: (r, i) => ({ ...r, id: `${r.id}-d`, prompt: `${r.prompt} [augmented:drop:${i}]`, source: 'augment' }),
};

export function augment(rows, settings, rng) {
  const extra = [];
  for (const [name, p] of Object.entries(settings ?? {})) {
    if (!AUGMENTERS[name]) throw new Error(`unknown augmenter ${name}; known: ${Object.keys(AUGMENTERS).join(', ')}`);
    if (!(Number(p) > 0)) continue;
    rows.forEach((r, i) => {
      if (rng() < Number(p)) extra.push(AUGMENTERS[name](r, i));
    });
  }
  return rows.concat(extra);
}

export const FILTERS = {
  dedupe: (rows, on) => {
    if (!on) return rows;
    const seen = new Set();
    return rows.filter((r) => (seen.has(r.prompt) ? false : (seen.add(r.prompt), true)));
  },
  max_answer_chars: (rows, limit) => (limit ? rows.filter((r) => String(r.answer).length <= Number(limit)) : rows),
  drop_domains: (rows, domains) => (domains?.length ? rows.filter((r) => !domains.includes(r.domain)) : rows),
};

export function filter(rows, settings) {
  for (const [name, value] of Object.entries(settings ?? {})) {
    if (!FILTERS[name]) throw new Error(`unknown filter ${name}; known: ${Object.keys(FILTERS).join(', ')}`);
    rows = FILTERS[name](rows, value);
  }
  return rows;
}

export function build(recipe, seed) {
  const data = recipe.data ?? {};
  const rng = makeRng(`pipeline:${seed}`);
  let rows = sampleMix(officialPool(), Number(data.rows ?? 6000), data.mix ?? {}, rng);
  rows = rows.concat(synthesize(data.synthetic, seed));
  rows = augment(rows, data.augment, rng);
  rows = filter(rows, data.filters);
  rng.shuffle(rows);
  return { rows, summary: { stages: ['mix', 'synthetic', 'augment', 'filter', 'shuffle'] } };
}
