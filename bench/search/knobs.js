'use strict';
/*
 * The knob space of the baselines: the settings the heuristic worker's operators move
 * (libs/worker-kit/src/mutation.ts, KNOB_PATHS / candidatesFor), at the simulated substrate's recipe paths, with
 * continuous factors drawn log-uniformly over the range of the operator's fixed factors (lr ×0.5–2, steps ×0.5–2,
 * …). A move never invents a key the base recipe lacks.
 */

const DOMAINS = ['bit_manipulation', 'gravity', 'unit_conversion', 'cipher', 'numeral', 'equation'];
const SCHEDULES = ['cosine', 'linear', 'constant'];

const sig3 = (x) => (x === 0 ? 0 : Number(x.toPrecision(3)));
const logUniform = (rnd, lo, hi) => Math.exp(Math.log(lo) + rnd() * (Math.log(hi) - Math.log(lo)));
const pick = (rnd, xs) => xs[Math.floor(rnd() * xs.length)];

function get(obj, path) {
  let cur = obj;
  for (const k of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || !(k in cur)) return undefined;
    cur = cur[k];
  }
  return cur;
}

function set(obj, path, value) {
  const segs = path.split('.');
  let cur = obj;
  for (const k of segs.slice(0, -1)) {
    if (cur[k] === null || typeof cur[k] !== 'object' || Array.isArray(cur[k])) cur[k] = {};
    cur = cur[k];
  }
  cur[segs[segs.length - 1]] = value;
}

/** Each knob: (recipe, rnd) → list of { path, to } (applied by applyMove), or [] when the recipe lacks it. */
const KNOBS = {
  lr(r, rnd) {
    const v = get(r, 'train.lr');
    return typeof v === 'number' ? [{ path: 'train.lr', to: sig3(v * logUniform(rnd, 0.5, 2)) }] : [];
  },
  steps(r, rnd) {
    const v = get(r, 'train.steps');
    return typeof v === 'number'
      ? [{ path: 'train.steps', to: Math.max(10, Math.round(v * logUniform(rnd, 0.5, 2))) }]
      : [];
  },
  warmup(r, rnd) {
    const v = get(r, 'train.warmup_steps');
    if (typeof v !== 'number') return [];
    if (v === 0)
      return [{ path: 'train.warmup_steps', to: Math.max(1, Math.round((get(r, 'train.steps') || 600) * 0.05)) }];
    return [{ path: 'train.warmup_steps', to: Math.max(0, Math.round(v * logUniform(rnd, 0.5, 2))) }];
  },
  schedule(r, rnd) {
    const v = get(r, 'train.schedule');
    return typeof v === 'string'
      ? [
          {
            path: 'train.schedule',
            to: pick(
              rnd,
              SCHEDULES.filter((s) => s !== v),
            ),
          },
        ]
      : [];
  },
  clipping(r, rnd) {
    const v = get(r, 'train.grad_clip');
    if (v === undefined) return [];
    if (!v) return [{ path: 'train.grad_clip', to: 1.0 }];
    return [{ path: 'train.grad_clip', to: sig3(v * logUniform(rnd, 0.5, 2)) }];
  },
  loraRank(r, rnd) {
    const v = get(r, 'lora.rank');
    if (typeof v !== 'number') return [];
    if (v === 0) return [{ path: 'lora.rank', to: pick(rnd, [4, 8, 16]) }];
    const to = Math.max(1, Math.round(v * pick(rnd, [0.5, 2])));
    const alpha = get(r, 'lora.alpha');
    // alpha/rank constant, as the worker's operator does: a capacity change, not an effective-lr change
    return [
      { path: 'lora.rank', to },
      ...(typeof alpha === 'number' ? [{ path: 'lora.alpha', to: sig3((alpha * to) / v) }] : []),
    ];
  },
  mix(r, rnd) {
    const mix = get(r, 'data.mix');
    if (!mix || typeof mix !== 'object') return [];
    const d = pick(
      rnd,
      Object.keys(mix).filter((k) => typeof mix[k] === 'number'),
    );
    if (!d) return [];
    return [{ path: `data.mix.${d}`, to: mix[d] === 0 ? 1 : sig3(mix[d] * logUniform(rnd, 0.5, 2)) }];
  },
  synthetic(r, rnd) {
    const count = get(r, 'data.synthetic.count');
    if (typeof count !== 'number') return [];
    const rows = get(r, 'data.rows') || 8000;
    // half the moves change the count, half the domain the synthetic rows are drawn from (count > 0 only)
    if (count > 0 && rnd() < 0.5 && get(r, 'data.synthetic.mix') !== undefined)
      return [{ path: 'data.synthetic.mix', to: { [pick(rnd, DOMAINS)]: 1.0 } }];
    const to =
      count === 0 ? Math.round(rows * logUniform(rnd, 0.05, 0.8)) : Math.round(count * logUniform(rnd, 0.5, 2));
    return [{ path: 'data.synthetic.count', to }];
  },
  augment(r, rnd) {
    const aug = get(r, 'data.augment');
    if (!aug || typeof aug !== 'object') return [];
    const k = pick(
      rnd,
      Object.keys(aug).filter((x) => typeof aug[x] === 'number'),
    );
    if (!k) return [];
    const p = aug[k];
    const to = p === 0 ? 0.25 : rnd() < 0.5 ? Math.min(1, sig3(p * 2)) : sig3(p / 2);
    return [{ path: `data.augment.${k}`, to }];
  },
  weightDecay(r, rnd) {
    const v = get(r, 'train.weight_decay');
    if (typeof v !== 'number') return [];
    return [{ path: 'train.weight_decay', to: v === 0 ? 0.01 : sig3(v * logUniform(rnd, 0.3, 3.3)) }];
  },
};

const KNOB_NAMES = Object.keys(KNOBS);

/** Applies `k` distinct random knob moves to a copy of `recipe`; returns { recipe, knobs, changes }. */
function perturb(recipe, rnd, k) {
  const out = structuredClone(recipe);
  const names = [...KNOB_NAMES];
  const knobs = [];
  const changes = [];
  while (knobs.length < k && names.length) {
    const name = names.splice(Math.floor(rnd() * names.length), 1)[0];
    const moves = KNOBS[name](out, rnd);
    if (!moves.length) continue;
    let changed = false;
    for (const m of moves) {
      const from = get(out, m.path);
      if (JSON.stringify(from) === JSON.stringify(m.to)) continue;
      set(out, m.path, structuredClone(m.to));
      changes.push({ path: m.path, from, to: m.to });
      changed = true;
    }
    if (changed) knobs.push(name);
  }
  return { recipe: out, knobs, changes };
}

module.exports = { KNOBS, KNOB_NAMES, perturb, get, set, DOMAINS };
