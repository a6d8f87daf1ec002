// The response surface (frozen): recipe + training data -> latent quality per (domain, variant) per checkpoint.
// Every constant is documented in README.md ("The response surface"); change both together.
import { normal } from './rng.mjs';
import { VARIANT } from './variant.mjs';
import { DOMAINS, VARIANTS } from './world.mjs';

export const SURFACE = {
  // learning rate: quality factor exp(-(log10(lr / lrOpt))^2 / (2 * lrWidth^2)); LoRA's optimum is higher
  lrOptFull: 3e-3,
  lrOptLora: 1e-2,
  lrWidth: 0.5, // decades
  // divergence: lr above this diverges (exit 3); halved without gradient clipping; LoRA x3
  lrDivergeFull: 0.03,
  divergeLoraFactor: 3,
  divergeNoClipFactor: 0.5,
  // warm-up: best at about 5% of the steps; none costs 8%, more than 20% costs 0.3 per unit fraction
  warmupNoneCost: 0.08,
  warmupScale: 0.02,
  warmupTooLong: 0.2,
  warmupTooLongCost: 0.3,
  schedule: { cosine: 1.0, linear: 0.985, constant: 0.955 },
  // clipping: off costs up to 10% (scaled by lr / lrOpt, capped at 1); below 0.3 slows learning
  clipOffCost: 0.1,
  clipTooSmall: 0.3,
  clipTooSmallCost: 0.15,
  // weight decay: 3% cost per decade away from 0.03 (capped at 2 decades)
  wdOpt: 0.03,
  wdCostPerDecade: 0.03,
  // LoRA capacity: full fine-tuning 1; rank r -> 1 - loraGap * exp(-r / loraScale)
  loraGap: 0.4,
  loraScale: 6,
  // data: examples of a domain seen = step * batch * share; repeats are worth less:
  // effective = seen / (1 + repeatPenalty * seen / unique),
  // unique = distinct prompts (+ augmentWorth per augmented copy)
  repeatPenalty: 0.6,
  augmentWorth: 0.5,
  // learning curve per skill:
  // q = base + (ceil - base) * (1 - exp(-(rate * effective / 1000 * optimisation * capacity)^shape))
  // (shape 1 = diminishing returns from the first example; shape 2 = slow start, then a steep rise)
  skills: {
    bit_manipulation: { standard: { rate: 0.7, ceil: 0.7 } },
    gravity: { standard: { rate: 1.4, ceil: 0.9 } },
    unit_conversion: { standard: { rate: 1.6, ceil: 0.92 } },
    cipher: { standard: { rate: 1.0, ceil: 0.85 } },
    numeral: { standard: { rate: 2.5, ceil: 0.98 } },
    equation: {
      numeric: { rate: 0.17, ceil: 0.97, shape: 2 }, // learns from numeric equations, slowly at first
      numeric_multi: { rate: 0.06, ceil: 0.55, from: 'numeric' }, // only partly from numeric data
      symbolic: { rate: 0.12, ceil: 0.7 }, // only from symbolic data (+ transfer below)
      unseen: { rate: 0, ceil: 0.1 }, // cannot be learnt: a guess
    },
  },
  symbolicTransfer: 0.1, // symbolic skill gets this fraction of the numeric effective examples
  // decoupling: above this share of the training rows, equation data over-fits the numeric
  // operators of the dev distribution: numeric_multi (hidden-only) loses overfit * (share - threshold)
  equationShareThreshold: 0.3,
  equationOverfit: 0.6,
  // ...and, over the second half of training, the numeric skill (what dev measures) gains up to
  // equationTemplateBonus * (share - threshold) from memorising the dev-style template
  equationTemplateBonus: 0.8,
  // forgetting: when one domain holds more than forgetThreshold of the rows, every other domain loses
  // forgetMax * (dominantShare - forgetThreshold) / (1 - forgetThreshold), ramping in linearly from
  // forgetStart of training to the end (LoRA: half) -- late checkpoints of a lopsided mix forget
  forgetStart: 0.5,
  forgetThreshold: 0.3,
  forgetMax: 0.35,
  // seed noise on every checkpoint's latent quality: shared + per-domain normal components
  seedNoiseShared: 0.008,
  seedNoiseDomain: 0.012,
  // evaluation: a row is solved when its difficulty (uniform) < quality + N(0, evalJitter) per (checkpoint,row)
  evalJitter: 0.05,
  // simulated wall-clock seconds per example (cpu size); gpu is 20x faster; plus per-checkpoint cost
  secondsPerExample: 1.5e-3,
  gpuSpeedup: 20,
  secondsPerCheckpoint: 0.5,
};

const clamp = (x, lo, hi) => Math.min(hi, Math.max(lo, x));

/** Optimisation quality in (0, 1] and its factors. */
export function optimisation(train, lora) {
  const S = SURFACE;
  const rank = Number(lora?.rank ?? 0);
  const lrOpt = rank > 0 ? S.lrOptLora : S.lrOptFull;
  const lr = Number(train.lr);
  const lrF = Math.exp(-(Math.log10(lr / lrOpt) ** 2) / (2 * S.lrWidth ** 2));
  const wFrac = Number(train.warmup_steps) / Math.max(1, Number(train.steps));
  const warmF =
    1 -
    S.warmupNoneCost * Math.exp(-wFrac / S.warmupScale) -
    S.warmupTooLongCost * Math.max(0, wFrac - S.warmupTooLong);
  const schedF = S.schedule[String(train.schedule)] ?? NaN;
  const clip = Number(train.grad_clip);
  let clipF = 1;
  if (!(clip > 0)) clipF = 1 - S.clipOffCost * Math.min(1, lr / lrOpt);
  else if (clip < S.clipTooSmall) clipF = 1 - (S.clipTooSmallCost * (S.clipTooSmall - clip)) / S.clipTooSmall;
  const wd = Number(train.weight_decay);
  const wdF =
    wd > 0 ? 1 - S.wdCostPerDecade * Math.min(2, Math.abs(Math.log10(wd / S.wdOpt))) : 1 - S.wdCostPerDecade * 2;
  const capacity = rank > 0 ? 1 - S.loraGap * Math.exp(-rank / S.loraScale) : 1;
  const value = clamp(lrF * warmF * schedF * clipF * wdF, 0, 1);
  return { value, capacity, factors: { lr: lrF, warmup: warmF, schedule: schedF, clipping: clipF, weightDecay: wdF } };
}

/** The step at which a run diverges, or null. */
export function divergenceStep(train, lora, steps) {
  const S = SURFACE;
  let limit = S.lrDivergeFull;
  if (Number(lora?.rank ?? 0) > 0) limit *= S.divergeLoraFactor;
  if (!(Number(train.grad_clip) > 0)) limit *= S.divergeNoClipFactor;
  const lr = Number(train.lr);
  if (!(lr > limit)) return null;
  // the further past the limit, the earlier it blows up (after the warm-up has ramped lr up)
  const warm = Math.min(Number(train.warmup_steps) || 0, steps);
  return Math.max(1, Math.min(steps, Math.round(warm + (steps - warm) * 0.3 * (limit / lr))));
}

/** Per (domain, variant): rows, distinct prompts and augmented copies in the training data. */
export function dataStats(rows) {
  const stats = {};
  for (const d of DOMAINS)
    stats[d] = Object.fromEntries(VARIANTS[d].map((v) => [v, { rows: 0, unique: 0, augmented: 0 }]));
  const seen = new Set();
  let total = 0;
  for (const r of rows) {
    if (!r.domain || !stats[r.domain]?.[r.variant]) continue;
    const s = stats[r.domain][r.variant];
    s.rows++;
    total++;
    if (r.source === 'augment') s.augmented++;
    else if (!seen.has(r.prompt)) {
      seen.add(r.prompt);
      s.unique++;
    }
  }
  return { stats, total };
}

function effective(seen, unique) {
  if (!(unique > 0) || !(seen > 0)) return 0;
  return seen / (1 + (SURFACE.repeatPenalty * seen) / unique);
}

/**
 * The dev/leaderboard decoupling regions of this surface: the designed one (equation) and, under the
 * benchmark-only late-decoupling variant (lib/variant.mjs), its second one.
 */
export function decouplingRegions() {
  const regions = [
    {
      domain: 'equation',
      devVariant: 'numeric',
      lbVariant: 'numeric_multi',
      threshold: SURFACE.equationShareThreshold,
      designed: true,
    },
  ];
  if (VARIANT?.decoupling) regions.push({ ...VARIANT.decoupling, designed: false });
  return regions;
}

/**
 * Latent quality of the checkpoint at `step` (of `steps`): { domain: { variant: q } }.
 * ctx: { base, data (dataStats), batch, optimisation, loraRank, seed }, and for benchmarks only
 * (bin/expected-score.mjs): noise: false (no seed noise), without: [domain, ...] (that domain's
 * decoupling-region terms left out: the counterfactual a region's effect is measured against).
 */
export function qualityAt(step, steps, ctx) {
  const S = SURFACE;
  const { base, data, batch, opt, loraRank, seed, noise = true, without = [] } = ctx;
  const vd = VARIANT?.decoupling ?? null;
  const total = Math.max(1, data.total);
  const shares = Object.fromEntries(
    DOMAINS.map((d) => [d, Object.values(data.stats[d]).reduce((s, v) => s + v.rows, 0) / total]),
  );
  const dominant = Math.max(...Object.values(shares));
  const f = step / Math.max(1, steps);
  const scale = opt.value * opt.capacity;
  const eff = {};
  for (const d of DOMAINS) {
    eff[d] = {};
    for (const v of VARIANTS[d]) {
      const st = data.stats[d][v];
      const seen = (step * batch * st.rows) / total;
      eff[d][v] = effective(seen, st.unique + S.augmentWorth * st.augmented);
    }
  }
  const q = {};
  for (const d of DOMAINS) {
    q[d] = {};
    const forget =
      f > S.forgetStart && shares[d] < dominant
        ? (S.forgetMax * ((f - S.forgetStart) / (1 - S.forgetStart)) * Math.max(0, dominant - S.forgetThreshold)) /
          (1 - S.forgetThreshold) *
          (loraRank > 0 ? 0.5 : 1)
        : 0;
    for (const v of VARIANTS[d]) {
      const vSkill = vd && d === vd.domain && v === vd.lbVariant ? VARIANT.skill : null;
      const sk = vSkill ?? S.skills[d][v];
      const b = vSkill ? (base[d]?.[v] ?? vSkill.base) : base[d][v];
      let e = eff[d][v];
      if (d === 'equation' && v === 'numeric_multi') e = eff.equation.numeric;
      if (d === 'equation' && v === 'symbolic') e = eff.equation.symbolic + S.symbolicTransfer * eff.equation.numeric;
      if (vSkill) e = eff[d][v] + vSkill.transfer * eff[d][vd.devVariant];
      let value = b + (Math.max(b, sk.ceil) - b) * (1 - Math.exp(-(((sk.rate * e * scale) / 1000) ** (sk.shape ?? 1))));
      const excess = Math.max(0, shares.equation - S.equationShareThreshold);
      const late = Math.max(0, (f - S.forgetStart) / (1 - S.forgetStart));
      if (!without.includes('equation')) {
        if (d === 'equation' && v === 'numeric_multi') value -= S.equationOverfit * excess;
        if (d === 'equation' && v === 'numeric') value += S.equationTemplateBonus * excess * late;
      }
      if (vd && d === vd.domain && !without.includes(vd.domain)) {
        // the variant's later region: only over the last (1 - start) of training
        const vExcess = Math.max(0, shares[d] - vd.threshold);
        const vLate = Math.max(0, (f - vd.start) / (1 - vd.start));
        if (v === vd.devVariant) value += vd.devBonus * vExcess * vLate;
        if (v === vd.lbVariant) value -= vd.lbOverfit * vExcess * vLate;
      }
      value -= forget;
      if (noise)
        value += S.seedNoiseShared * normal(`seed:${seed}:shared`) + S.seedNoiseDomain * normal(`seed:${seed}:${d}`);
      q[d][v] = Math.round(clamp(value, 0.01, 0.99) * 1e6) / 1e6;
    }
  }
  return { quality: q, shares };
}
