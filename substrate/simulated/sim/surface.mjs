// The known response surface of the simulated substrate. Everything is a pure function of the recipe, the data
// summary and explicit seeds, so the same inputs give byte-identical outputs. See README.md for the formulas.
import { createHash } from 'node:crypto';

export const DOMAINS = ['bit_manipulation', 'gravity', 'unit_conversion', 'cipher', 'numeral', 'equation'];
/** Dev split: uniform over domains. Hidden (leaderboard) split: its own mix, and harder equation variants. */
export const DEV_MIX = Object.fromEntries(DOMAINS.map((d) => [d, 1 / 6]));
export const HIDDEN_MIX = { bit_manipulation: 0.26, gravity: 0.15, unit_conversion: 0.15, cipher: 0.22, numeral: 0.14, equation: 0.08 };
/** Skill each domain can reach, from what the base already knows. */
const FLOOR = { bit_manipulation: 0.3, gravity: 0.42, unit_conversion: 0.45, cipher: 0.3, numeral: 0.55, equation: 0.15 };
const CEIL = { bit_manipulation: 0.85, gravity: 0.9, unit_conversion: 0.92, cipher: 0.88, numeral: 0.97, equation: 0.6 };
/** Rows a domain needs for ~63% of its headroom. */
const SCALE = { bit_manipulation: 2200, gravity: 900, unit_conversion: 800, cipher: 1800, numeral: 600, equation: 1600 };
export const LR_OPT = 0.003;
export const NOISE = { seed: 0.012, devEval: 0.008, board: 0.006 };

/** Deterministic uniform [0,1) from any string key. */
export function u01(key) {
  const h = createHash('sha256').update(String(key)).digest();
  return h.readUInt32BE(0) / 2 ** 32;
}
/** Deterministic standard normal (Box–Muller) from a key. */
export function gauss(key) {
  const a = Math.max(u01(key + '|a'), 1e-12);
  const b = u01(key + '|b');
  return Math.sqrt(-2 * Math.log(a)) * Math.cos(2 * Math.PI * b);
}
const clamp = (x, lo = 0, hi = 1) => Math.min(hi, Math.max(lo, x));
export const round4 = (x) => Math.round(x * 1e4) / 1e4;
const get = (o, path, dflt) => path.split('.').reduce((v, k) => (v && typeof v === 'object' && k in v ? v[k] : undefined), o) ?? dflt;

/** Rows per domain the data pipeline produced (what `prepare-data` writes into data-summary.json). */
export function dataCounts(recipe) {
  const rows = Number(get(recipe, 'data.rows', 8000));
  const mix = { ...Object.fromEntries(DOMAINS.map((d) => [d, 1])), ...get(recipe, 'data.mix', {}) };
  const drop = new Set(get(recipe, 'data.filters.drop_domains', []) ?? []);
  const total = DOMAINS.reduce((s, d) => s + (drop.has(d) ? 0 : Math.max(0, Number(mix[d]) || 0)), 0) || 1;
  const counts = {};
  for (const d of DOMAINS) counts[d] = drop.has(d) ? 0 : Math.round((rows * Math.max(0, Number(mix[d]) || 0)) / total);
  const synth = Number(get(recipe, 'data.synthetic.count', 0)) || 0;
  const smix = get(recipe, 'data.synthetic.mix', { equation: 1 }) ?? { equation: 1 };
  const stotal = Object.values(smix).reduce((s, w) => s + Math.max(0, Number(w) || 0), 0) || 1;
  const synthetic = {};
  for (const d of DOMAINS) synthetic[d] = Math.round((synth * Math.max(0, Number(smix[d]) || 0)) / stotal);
  const augment = Number(get(recipe, 'data.augment.shuffle_examples', 0)) + Number(get(recipe, 'data.augment.drop_examples', 0));
  return { rows, counts, synthetic, augment: clamp(augment, 0, 2), dedupe: Boolean(get(recipe, 'data.filters.dedupe', false)) };
}

/** Optimisation quality in (0, 1] and whether the run diverges. */
export function optimisation(recipe, steps) {
  const lr = Number(get(recipe, 'train.lr', LR_OPT));
  const clip = Number(get(recipe, 'train.grad_clip', 1));
  const warmup = Number(get(recipe, 'train.warmup_steps', 30));
  const schedule = String(get(recipe, 'train.schedule', 'cosine'));
  const rank = Number(get(recipe, 'lora.rank', 0));
  const diverged = !(lr > 0) || lr > 0.03 || (lr > 0.012 && clip === 0) || (lr > 0.02 && warmup < 10);
  const lrFit = Math.exp(-((Math.log(lr / LR_OPT) / 2.0) ** 2));
  const schedFit = { cosine: 1, linear: 0.985, constant: 0.955 }[schedule] ?? 0.94;
  const warmFit = warmup >= 10 && warmup <= 120 ? 1 : warmup < 10 ? 0.97 : 0.98;
  const clipFit = clip === 0 ? (lr > 0.006 ? 0.9 : 0.985) : clip >= 0.5 && clip <= 2 ? 1 : 0.98;
  const capacity = rank === 0 ? 1 : 0.82 + 0.18 * (1 - Math.exp(-rank / 6));
  const progress = 1 - Math.exp(-steps / 350);
  return { diverged, quality: clamp(lrFit * schedFit * warmFit * clipFit * capacity * progress, 0.02, 1) };
}

/**
 * Latent per-domain skill at a checkpoint. `hidden` is what the leaderboard measures; `devBonus` is the part of the
 * dev score that synthetic equation data buys without transferring (dev equations resemble the synthetic ones;
 * hidden equations are harder variants). Over-training on one domain also slowly erodes the others.
 */
export function latent(recipe, data, step, seed) {
  const { quality, diverged } = optimisation(recipe, step);
  const total = DOMAINS.reduce((s, d) => s + data.counts[d] + data.synthetic[d], 0) || 1;
  const skill = {};
  const devBonus = {};
  for (const d of DOMAINS) {
    const real = data.counts[d] * (1 + 0.15 * data.augment) * (data.dedupe ? 1.04 : 1);
    const share = (data.counts[d] + data.synthetic[d]) / total;
    // Synthetic rows transfer at 25% for the real skill; the rest only fits the dev-like distribution.
    const effective = real + 0.25 * data.synthetic[d];
    const crowding = share > 0.3 ? 1 - 0.35 * (share - 0.3) : 1;
    const base = FLOOR[d] + (CEIL[d] - FLOOR[d]) * quality * (1 - Math.exp(-effective / SCALE[d]));
    skill[d] = clamp(base * crowding + NOISE.seed * gauss(`seed:${seed}:${d}`), 0, 1);
    devBonus[d] = d === 'equation' ? 0.32 * quality * (1 - Math.exp(-data.synthetic[d] / 2500)) + 0.08 * Math.max(0, share - 1 / 6) : 0;
  }
  // Others lose a little when a single domain dominates the mixture.
  const maxShare = Math.max(...DOMAINS.map((d) => (data.counts[d] + data.synthetic[d]) / total));
  for (const d of DOMAINS) if ((data.counts[d] + data.synthetic[d]) / total < maxShare && maxShare > 0.35) skill[d] = clamp(skill[d] - 0.12 * (maxShare - 0.35));
  return { step, diverged, quality: round4(quality), skill: mapRound(skill), devBonus: mapRound(devBonus) };
}

const mapRound = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, round4(v)]));

/** Dev score per domain of a checkpoint (with seeded finite-sample evaluation noise). */
export function devScores(weights, evalKey, nPerDomain = 100) {
  const domains = {};
  let sum = 0;
  for (const d of DOMAINS) {
    const score = clamp(weights.skill[d] + weights.devBonus[d] + NOISE.devEval * gauss(`${evalKey}:${d}`));
    domains[d] = { score: round4(score), n: nPerDomain };
    sum += score * DEV_MIX[d];
  }
  return { overall: round4(sum), n: nPerDomain * DOMAINS.length, domains };
}

/** Probability a prediction on a hidden prompt is right. Hard equation variants are worth 60% of the skill. */
export function hiddenAccuracy(weights, domain, variant) {
  const s = weights.skill[domain] ?? 0;
  return clamp(variant === 'hard' ? s * 0.6 : s);
}
