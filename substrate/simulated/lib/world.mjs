// The simulated Wonderland: domains, puzzle variants, rows and splits (frozen).
//
// A simulated puzzle is a short prompt naming its domain and variant plus a random tag; its answer is a
// deterministic function of the prompt.  The simulated model (lib/model.mjs) "solves" a row when the
// row's difficulty (a hash of the prompt, uniform in [0,1)) is below the checkpoint's latent quality for
// that (domain, variant), so the dev and leaderboard scores are the latent quality under each split's mix.
import { makeRng, sha256 } from './rng.mjs';
import { VARIANT } from './variant.mjs';

export const DOMAINS = ['bit_manipulation', 'gravity', 'unit_conversion', 'cipher', 'numeral', 'equation'];

/** Variants per domain. Only equation has several: the dev split and the pool hold `numeric` only. */
export const VARIANTS = {
  bit_manipulation: ['standard'],
  gravity: ['standard'],
  unit_conversion: ['standard'],
  // (the benchmark-only late-decoupling variant adds the leaderboard-only `keyed` cipher: lib/variant.mjs)
  cipher: VARIANT?.decoupling ? ['standard', VARIANT.decoupling.lbVariant] : ['standard'],
  numeral: ['standard'],
  // numeric: operator seen in the examples; numeric_multi: two operators per puzzle (harder);
  // symbolic: symbol-string operands; unseen: the query's operator never appears in the examples.
  equation: ['numeric', 'numeric_multi', 'symbolic', 'unseen'],
};

export const STANDARD_VARIANT = {
  bit_manipulation: 'standard',
  gravity: 'standard',
  unit_conversion: 'standard',
  cipher: 'standard',
  numeral: 'standard',
  equation: 'numeric',
};

const DESCRIPTIONS = {
  bit_manipulation: 'bit manipulation rule transforms 8-bit binary numbers',
  gravity: 'gravitational constant changes falling distances',
  unit_conversion: 'unit conversion is applied to measurements',
  cipher: 'encryption rule is used on text',
  numeral: 'numeral system writes numbers',
  equation: 'set of transformation rules is applied to equations',
};

// Public seeds (the leaderboard's secret seed is never here).
export const DEV_SEED = 20260611;
export const DEV_ROWS = 600;
export const DEV_MIX = Object.fromEntries(DOMAINS.map((d) => [d, 1]));
export const POOL_SEED = 31415;
export const POOL_ROWS = 9500;
export const HIDDEN_ROWS_PUBLIC = VARIANT?.publicRows ?? 600;
export const HIDDEN_ROWS_PRIVATE = 600;
/** The leaderboard's domain mix: fewer equations, more bit manipulation and cipher than dev. */
export const HIDDEN_MIX = {
  bit_manipulation: 0.26,
  gravity: 0.13,
  unit_conversion: 0.13,
  cipher: 0.26,
  numeral: 0.14,
  equation: 0.08,
};
/** ...and harder equations. */
export const HIDDEN_VARIANTS = {
  equation: { numeric_multi: 0.3, symbolic: 0.35, unseen: 0.35 },
  ...(VARIANT?.hiddenVariants ?? {}),
};

export function rowId(seed, index, salt) {
  return sha256(`sim-id:${salt}:${seed}:${index}`).slice(0, 8);
}

export function makePrompt(domain, variant, tag) {
  return (
    `In Alice's Wonderland (simulated), a secret ${DESCRIPTIONS[domain]}. Puzzle ${tag}. ` +
    `[domain=${domain} variant=${variant}] Determine the answer.`
  );
}

/** The true answer of a simulated prompt (what a perfect model would say). */
export function answerOf(prompt) {
  return `ans-${sha256(`answer:${prompt}`).slice(0, 8)}`;
}

const PROMPT_RE = /\[domain=([a-z_]+) variant=([a-z_]+)\]/;

/** { domain, variant } of a simulated prompt, or null for a prompt from elsewhere. */
export function parsePrompt(prompt) {
  const m = PROMPT_RE.exec(String(prompt ?? ''));
  if (!m || !VARIANTS[m[1]] || !VARIANTS[m[1]].includes(m[2])) return null;
  return { domain: m[1], variant: m[2] };
}

/** Exact per-domain counts for n rows under mix weights (largest remainder, ties in domain order). */
export function allocate(n, mix) {
  const w = Object.fromEntries(DOMAINS.map((d) => [d, Math.max(0, Number(mix?.[d] ?? 0))]));
  const total = DOMAINS.reduce((s, d) => s + w[d], 0);
  if (!(total > 0)) throw new Error('mix weights sum to zero');
  const raw = Object.fromEntries(DOMAINS.map((d) => [d, (n * w[d]) / total]));
  const counts = Object.fromEntries(DOMAINS.map((d) => [d, Math.floor(raw[d])]));
  let left = n - DOMAINS.reduce((s, d) => s + counts[d], 0);
  const order = [...DOMAINS].sort(
    (a, b) => raw[b] - counts[b] - (raw[a] - counts[a]) || DOMAINS.indexOf(a) - DOMAINS.indexOf(b),
  );
  for (const d of order) {
    if (left <= 0) break;
    counts[d]++;
    left--;
  }
  return counts;
}

function pickVariant(rng, domain, variants) {
  const weights = variants?.[domain];
  if (!weights) return STANDARD_VARIANT[domain];
  const items = Object.entries(weights).filter(([v, x]) => Number(x) > 0 && VARIANTS[domain].includes(v));
  if (!items.length) throw new Error(`no valid variant weights for ${domain}`);
  const total = items.reduce((s, [, x]) => s + Number(x), 0);
  let r = rng() * total;
  for (const [v, x] of items) {
    r -= Number(x);
    if (r < 0) return v;
  }
  return items[items.length - 1][0];
}

/**
 * n rows { id, prompt, answer, domain, variant } with exact per-domain counts, in a seeded order.
 * `variants` optionally gives per-domain variant weights (default: the standard variant).
 */
export function generateRows(n, mix, seed, { variants = null, salt = '' } = {}) {
  const counts = allocate(n, mix);
  const domains = DOMAINS.flatMap((d) => Array(counts[d]).fill(d));
  makeRng(`order:${salt}:${seed}`).shuffle(domains);
  return domains.map((domain, i) => {
    const rng = makeRng(`row:${salt}:${seed}:${i}`);
    const variant = pickVariant(rng, domain, variants);
    const tag = sha256(`tag:${salt}:${seed}:${i}`).slice(0, 10);
    const prompt = makePrompt(domain, variant, tag);
    return { id: rowId(seed, i, salt), prompt, answer: answerOf(prompt), domain, variant };
  });
}

let poolCache = null;
/** The official training pool (9,500 rows, uniform over domains, standard variants). */
export function officialPool() {
  poolCache ??= generateRows(POOL_ROWS, DEV_MIX, POOL_SEED, { salt: 'pool' });
  return poolCache.map((r) => ({ ...r }));
}

export function devRows() {
  return generateRows(DEV_ROWS, DEV_MIX, DEV_SEED, { salt: 'dev' });
}

export function hiddenRows(secretSeed, nPublic = HIDDEN_ROWS_PUBLIC, nPrivate = HIDDEN_ROWS_PRIVATE) {
  // each half has the exact mix (largest-remainder counts), in its own seeded order
  return {
    public: generateRows(nPublic, HIDDEN_MIX, secretSeed, { variants: HIDDEN_VARIANTS, salt: 'hidden-public' }),
    private: generateRows(nPrivate, HIDDEN_MIX, secretSeed, { variants: HIDDEN_VARIANTS, salt: 'hidden-private' }),
  };
}
