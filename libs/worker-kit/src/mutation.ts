import {
  Axis,
  seededRandom,
  type RecipeDocument,
  type RollingPolicy,
  type SearchHints,
  type SelectionCriterion,
} from '@aevo/contracts';
import { matchingDeadEnd, directionOf } from './dead-ends';
import { getPath } from './recipe-doc';

/**
 * Where a recipe keeps each knob. Recipes are substrate-specific; the operators look the knob up under these
 * dotted paths and only ever change settings the standing recipe already has, so they never invent a key the
 * substrate would not understand.
 */
export const KNOB_PATHS = {
  lr: ['lr', 'learning_rate', 'optim.lr', 'optimizer.lr', 'train.lr', 'training.lr'],
  schedule: ['schedule', 'lr_schedule', 'scheduler', 'optim.schedule', 'train.schedule'],
  warmup: ['warmup_steps', 'warmup', 'warmup_ratio', 'optim.warmup_steps', 'train.warmup_steps'],
  steps: ['steps', 'max_steps', 'train_steps', 'train.steps', 'training.steps', 'epochs'],
  batch: ['batch_size', 'train.batch_size', 'training.batch_size', 'batch'],
  loraRank: ['lora.rank', 'lora_rank', 'lora.r', 'adapter.rank', 'rank'],
  loraAlpha: ['lora.alpha', 'lora_alpha', 'adapter.alpha'],
  clip: ['grad_clip', 'clip', 'max_grad_norm', 'clip_grad_norm', 'optim.grad_clip', 'train.grad_clip'],
  mix: ['mix', 'data.mix', 'data_mix', 'mixture'],
  filters: ['filters', 'filter', 'data.filters'],
  augment: ['augment', 'augmentation', 'augmenters', 'data.augment'],
  synthetic: ['synthetic', 'synthetic_data', 'data.synthetic'],
  checkpointEvery: ['checkpoint_every', 'save_every', 'eval_every', 'ckpt_every', 'train.checkpoint_every'],
} as const;
export type Knob = keyof typeof KNOB_PATHS;

export const SCHEDULES = ['cosine', 'linear', 'constant'];

export function findKnob(recipe: RecipeDocument, knob: Knob): { path: string; value: unknown } | null {
  for (const p of KNOB_PATHS[knob]) {
    const v = getPath(recipe, p);
    if (v !== undefined) return { path: p, value: v };
  }
  return null;
}

export interface Setting {
  path: string;
  from: unknown;
  value: unknown;
}

export interface Proposal {
  settings: Setting[];
  hypothesis: string;
  /** A different checkpoint-selection rule (checkpoint-selection axis). */
  criterion?: SelectionCriterion;
  /** Dead ends the operator steered around (recorded in the hypothesis for the audit). */
  avoided: string[];
}

const sig3 = (x: number): number => (x === 0 ? 0 : Number(x.toPrecision(3)));
const scale = (v: number, f: number, integer: boolean): number =>
  integer ? Math.max(1, Math.round(v * f)) : sig3(v * f);
const isInt = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v);

interface Candidate {
  settings: Setting[];
  why: string;
  criterion?: SelectionCriterion;
  /**
   * How the first setting's value was reached from its current one (a step factor), so that a hinted direction
   * can widen it (factor f → f^stepScale). Absent: the realised ratio to/from stands in for the factor.
   */
  step?: { factor: number; integer: boolean; max?: number };
}

function numericMoves(
  path: string,
  value: unknown,
  factors: { up: number[]; down: number[] },
  label: string,
): Candidate[] {
  if (typeof value !== 'number') return [];
  const integer = isInt(value);
  const out: Candidate[] = [];
  for (const f of factors.up) {
    const to: number = value === 0 ? (integer ? 1 : 0.1) : scale(value, f, integer);
    if (to !== value)
      out.push({
        settings: [{ path, from: value, value: to }],
        why: `raise ${label} ${value} → ${to}`,
        step: { factor: f, integer },
      });
  }
  for (const f of factors.down) {
    const to = scale(value, f, integer);
    if (to !== value && value !== 0)
      out.push({
        settings: [{ path, from: value, value: to }],
        why: `lower ${label} ${value} → ${to}`,
        step: { factor: f, integer },
      });
  }
  return out;
}

function numericLeaves(obj: unknown, prefix: string): Array<{ path: string; value: number | boolean }> {
  const out: Array<{ path: string; value: number | boolean }> = [];
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return out;
  for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
    const p = `${prefix}.${k}`;
    if (typeof v === 'number' || typeof v === 'boolean') out.push({ path: p, value: v });
    else if (v && typeof v === 'object' && !Array.isArray(v)) out.push(...numericLeaves(v, p));
  }
  return out;
}

function leafMoves(root: { path: string; value: unknown } | null, label: string, probabilities = false): Candidate[] {
  if (!root) return [];
  const out: Candidate[] = [];
  for (const leaf of numericLeaves(root.value, root.path)) {
    if (typeof leaf.value === 'boolean')
      out.push({
        settings: [{ path: leaf.path, from: leaf.value, value: !leaf.value }],
        why: `${leaf.value ? 'disable' : 'enable'} ${label} ${leaf.path}`,
      });
    else if (probabilities) {
      // Augmenters are probabilities (YAML 0.0 reads as the integer 0): switch on at 0.25, else double or halve.
      const p = leaf.value;
      const ups = p === 0 ? [0.25] : p < 1 ? [Math.min(1, sig3(p * 2))] : [];
      for (const to of ups)
        out.push({
          settings: [{ path: leaf.path, from: p, value: to }],
          why: `${p === 0 ? 'enable' : 'raise'} ${label} ${leaf.path} ${p} → ${to}`,
          step: { factor: 2, integer: false, max: 1 },
        });
      if (p > 0)
        out.push({
          settings: [{ path: leaf.path, from: p, value: sig3(p / 2) }],
          why: `lower ${label} ${leaf.path} ${p} → ${sig3(p / 2)}`,
          step: { factor: 0.5, integer: false },
        });
    } else out.push(...numericMoves(leaf.path, leaf.value, { up: [1.5], down: [0.5] }, `${label} ${leaf.path}`));
  }
  return out;
}

function mixWeights(recipe: RecipeDocument): { path: string; weights: Record<string, number> } | null {
  const m = findKnob(recipe, 'mix');
  if (!m || m.value === null || typeof m.value !== 'object' || Array.isArray(m.value)) return null;
  const weights: Record<string, number> = {};
  for (const [d, w] of Object.entries(m.value as Record<string, unknown>)) if (typeof w === 'number') weights[d] = w;
  return Object.keys(weights).length > 0 ? { path: m.path, weights } : null;
}

/** Rebalancing: pull the most over-represented domain down to the mean of the others. */
function rebalanceMoves(recipe: RecipeDocument): Candidate[] {
  const mix = mixWeights(recipe);
  if (!mix) return [];
  const entries = Object.entries(mix.weights).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const out: Candidate[] = [];
  for (const [domain, w] of entries.slice(0, 2)) {
    const others = entries.filter(([d]) => d !== domain).map(([, x]) => x);
    if (others.length === 0) continue;
    const mean = others.reduce((a, b) => a + b, 0) / others.length;
    const to = isInt(w) && others.every(Number.isInteger) ? Math.round(mean) : sig3(mean);
    if (to < w)
      out.push({
        settings: [{ path: `${mix.path}.${domain}`, from: w, value: to }],
        why: `rebalance over-represented ${domain} ${w} → ${to}`,
      });
  }
  return out;
}

/** Up-weighting: give an under-represented domain more weight (the dev-chasing move). */
function upweightMoves(recipe: RecipeDocument): Candidate[] {
  const mix = mixWeights(recipe);
  if (!mix) return [];
  const entries = Object.entries(mix.weights).sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]));
  return entries.slice(0, 3).map(([domain, w]) => {
    const to = w === 0 ? 1 : isInt(w) ? Math.round(w * 1.5) : sig3(w * 1.5);
    return {
      settings: [{ path: `${mix.path}.${domain}`, from: w, value: to }],
      why: `up-weight under-represented ${domain} ${w} → ${to}`,
      step: { factor: 1.5, integer: isInt(w) },
    };
  });
}

function syntheticMoves(recipe: RecipeDocument): Candidate[] {
  const s = findKnob(recipe, 'synthetic');
  if (!s) return [];
  if (typeof s.value === 'number') return numericMoves(s.path, s.value, { up: [2], down: [] }, 'synthetic examples');
  // A count of generated examples is the synthetic-data knob; the rest (its mix, difficulty) shape that count.
  const count = getPath(s.value, 'count');
  if (typeof count === 'number') {
    const rows = getPath(recipe, 'data.rows') ?? getPath(recipe, 'rows');
    const to =
      count === 0 ? (typeof rows === 'number' ? Math.max(50, Math.round(rows * 0.1)) : 500) : Math.round(count * 2);
    return [
      {
        settings: [{ path: `${s.path}.count`, from: count, value: to }],
        why: `add synthetic examples ${count} → ${to}`,
        step: { factor: 2, integer: true },
      },
    ];
  }
  const out: Candidate[] = [];
  for (const leaf of numericLeaves(s.value, s.path)) {
    if (typeof leaf.value === 'boolean') {
      if (!leaf.value)
        out.push({ settings: [{ path: leaf.path, from: false, value: true }], why: `enable synthetic ${leaf.path}` });
    } else {
      const to = leaf.value === 0 ? (isInt(leaf.value) ? 200 : 0.2) : scale(leaf.value, 2, isInt(leaf.value));
      out.push({
        settings: [{ path: leaf.path, from: leaf.value, value: to }],
        why: `add synthetic data ${leaf.path} ${leaf.value} → ${to}`,
        step: { factor: 2, integer: isInt(leaf.value) },
      });
    }
  }
  return out;
}

function selectionMoves(recipe: RecipeDocument, policy: RollingPolicy, domains: readonly string[]): Candidate[] {
  const out: Candidate[] = [];
  const mix = mixWeights(recipe);
  // Weight each domain inversely to its share of the training mix, so checkpoints that merely got better at
  // over-represented domains do not win (the transfer-to-LB reading of the evidence).
  const weights: Record<string, number> = {};
  for (const d of domains) {
    const w = mix?.weights[d];
    weights[d] = w && w > 0 ? sig3(1 / w) : 1;
  }
  const uniform = Object.values(weights).every((w) => w === Object.values(weights)[0]);
  if (!uniform)
    out.push({
      settings: [],
      criterion: { kind: 'reweighted', weights },
      why: 'select checkpoints by a criterion reweighted against over-represented domains',
    });
  if (policy.selectionCriterion.kind !== 'mean')
    out.push({ settings: [], criterion: { kind: 'mean' }, why: 'select checkpoints by the plain mean dev score' });
  const every = findKnob(recipe, 'checkpointEvery');
  if (every && typeof every.value === 'number' && every.value >= 2) {
    const to = Math.max(1, Math.round(every.value / 2));
    out.push({
      settings: [{ path: every.path, from: every.value, value: to }],
      why: `checkpoint twice as often (${every.value} → ${to}) so selection has more to choose from`,
    });
  }
  return out;
}

/** Moves in tiers of preference: the operator picks within the first tier that has an admissible move. */
function tiersFor(
  axis: Axis,
  recipe: RecipeDocument,
  policy: RollingPolicy,
  domains: readonly string[],
): Candidate[][] {
  const transfer = policy.objective === 'transfer-to-lb';
  // Under transfer-to-lb the evidence says raw dev gains on the weak domain do not transfer: rebalance first.
  if (axis === 'data-mix')
    return transfer
      ? [rebalanceMoves(recipe), upweightMoves(recipe)]
      : [[...upweightMoves(recipe), ...rebalanceMoves(recipe)]];
  if (axis === 'synthetic-data')
    return transfer ? [rebalanceMoves(recipe), syntheticMoves(recipe)] : [syntheticMoves(recipe)];
  return [candidatesFor(axis, recipe, policy, domains)];
}

function candidatesFor(
  axis: Axis,
  recipe: RecipeDocument,
  policy: RollingPolicy,
  domains: readonly string[],
): Candidate[] {
  switch (axis) {
    case 'baseline':
      return [];
    case 'learning-rate': {
      const k = findKnob(recipe, 'lr');
      return k ? numericMoves(k.path, k.value, { up: [1.5, 2], down: [0.5, 0.7] }, 'learning rate') : [];
    }
    case 'schedule': {
      const k = findKnob(recipe, 'schedule');
      if (!k || typeof k.value !== 'string') return [];
      return SCHEDULES.filter((s) => s !== k.value).map((s) => ({
        settings: [{ path: k.path, from: k.value, value: s }],
        why: `switch lr schedule ${k.value} → ${s}`,
      }));
    }
    case 'warmup': {
      const k = findKnob(recipe, 'warmup');
      if (!k) return [];
      if (k.value === 0) {
        const steps = findKnob(recipe, 'steps');
        const to =
          typeof steps?.value === 'number' && isInt(steps.value) ? Math.max(1, Math.round(steps.value * 0.05)) : 0.05;
        return [{ settings: [{ path: k.path, from: 0, value: to }], why: `add warm-up 0 → ${to}` }];
      }
      return numericMoves(k.path, k.value, { up: [2], down: [0.5] }, 'warm-up');
    }
    case 'steps': {
      const k = findKnob(recipe, 'steps');
      return k ? numericMoves(k.path, k.value, { up: [1.5], down: [0.75] }, 'training steps') : [];
    }
    case 'lora-capacity': {
      const k = findKnob(recipe, 'loraRank');
      if (!k || typeof k.value !== 'number') return [];
      const alpha = findKnob(recipe, 'loraAlpha');
      // Rank 0 conventionally means full fine-tuning: the capacity moves are then adapters of a few ranks.
      if (k.value === 0)
        return [4, 8, 16].map((r) => ({
          settings: [{ path: k.path, from: 0, value: r }],
          why: `replace full fine-tuning by rank-${r} LoRA adapters`,
        }));
      const moves: Candidate[] = [];
      for (const f of [2, 0.5]) {
        const to = Math.max(1, Math.round(k.value * f));
        if (to === k.value) continue;
        const settings: Setting[] = [{ path: k.path, from: k.value, value: to }];
        // Keep alpha/rank constant so the change is capacity, not an effective learning-rate change.
        if (alpha && typeof alpha.value === 'number')
          settings.push({ path: alpha.path, from: alpha.value, value: sig3((alpha.value * to) / k.value) });
        moves.push({
          settings,
          why: `${f > 1 ? 'raise' : 'lower'} LoRA rank ${k.value} → ${to}`,
          step: { factor: f, integer: true },
        });
      }
      return moves;
    }
    case 'clipping': {
      const k = findKnob(recipe, 'clip');
      if (!k) return [];
      if (k.value === null || k.value === 0 || k.value === false)
        return [{ settings: [{ path: k.path, from: k.value, value: 1.0 }], why: 'enable gradient clipping at 1.0' }];
      return numericMoves(k.path, k.value, { up: [2], down: [0.5] }, 'gradient clipping');
    }
    case 'data-mix':
      return [...upweightMoves(recipe), ...rebalanceMoves(recipe)];
    case 'filtering':
      return leafMoves(findKnob(recipe, 'filters'), 'filter');
    case 'augmentation':
      return leafMoves(findKnob(recipe, 'augment'), 'augmenter', true);
    case 'synthetic-data':
      return syntheticMoves(recipe);
    case 'checkpoint-selection':
      return selectionMoves(recipe, policy, domains);
  }
}

type Hint = SearchHints['directions'][number];

/** A hint's path covers itself and everything under it, like a dead end's. */
const covers = (outer: string, path: string): boolean => path === outer || path.startsWith(`${outer}.`);
const overlaps = (a: string, b: string): boolean => covers(a, b) || covers(b, a);
const fmt = (x: number): string => String(sig3(x));

/** The hinted direction a move continues: its first setting moves a hinted path the hinted way. */
function hintOf(c: Candidate, hints: SearchHints | undefined): Hint | null {
  const st = c.settings[0];
  if (!hints || !st) return null;
  const dir = directionOf(st.from, st.value);
  return hints.directions.find((h) => covers(h.path, st.path) && h.direction === dir) ?? null;
}

/**
 * The move continued along a direction that paid, its step widened: factor f becomes f^stepScale (integer knobs
 * rounded, probabilities capped; a setting switched on from 0 keeps its usual start value). Companion settings of
 * the move (LoRA alpha with its rank) follow the first setting's new ratio. The hypothesis says why.
 */
function continueHinted(c: Candidate, h: Hint): Candidate {
  const st = c.settings[0];
  const paid = `${h.direction} of ${h.path} paid in round${h.paidRounds.length === 1 ? '' : 's'} ${h.paidRounds.join(', ') || '(none recorded)'}`;
  const unchanged = { ...c, why: `${c.why} (continues the direction that paid: ${paid})` };
  if (h.stepScale === 1 || typeof st.from !== 'number' || typeof st.value !== 'number' || st.from === 0)
    return unchanged;
  const from = st.from;
  const to = st.value;
  const factor = c.step?.factor ?? to / from;
  const integer = c.step?.integer ?? (isInt(from) && isInt(to));
  const f = factor ** h.stepScale;
  let wide = integer ? Math.max(1, Math.round(from * f)) : sig3(from * f);
  // Rounding may eat the widening of a small integer (a mix weight of 1 × 1.5² → 2, as × 1.5): one unit further.
  if (integer && wide === to) wide = to + (to > from ? 1 : -1);
  if (c.step?.max !== undefined) wide = Math.min(c.step.max, wide);
  if (integer && wide < 1) return unchanged;
  if (wide === from || wide === to || directionOf(from, wide) !== h.direction) return unchanged;
  const ratio = wide / from;
  const settings: Setting[] = [
    { ...st, value: wide },
    ...c.settings.slice(1).map((o) =>
      typeof o.from === 'number' && typeof o.value === 'number' && o.from !== 0
        ? {
            ...o,
            value: isInt(o.from) && isInt(o.value) ? Math.max(1, Math.round(o.from * ratio)) : sig3(o.from * ratio),
          }
        : o,
    ),
  ];
  const arrow = `→ ${to}`;
  const base = c.why.includes(arrow) ? c.why.replace(arrow, `→ ${wide}`) : `${c.why}, widened to ${wide}`;
  return {
    ...c,
    settings,
    why: `${base} (step widened from ×${fmt(factor)} to ×${fmt(f)} = ×${fmt(factor)}^${h.stepScale}, because the ${paid})`,
  };
}

/**
 * Moves the axis owns although its operator would not propose them now: a mix domain's weight that paid when
 * raised (or lowered) is the data-mix axis's to move again, however its weight compares with the others'.
 */
function hintedOwnMoves(axis: Axis, recipe: RecipeDocument, hints: SearchHints): Candidate[] {
  if (axis !== 'data-mix') return [];
  const mix = mixWeights(recipe);
  if (!mix) return [];
  const out: Candidate[] = [];
  for (const h of hints.directions) {
    const domain = h.path.startsWith(`${mix.path}.`) ? h.path.slice(mix.path.length + 1) : null;
    const w = domain === null ? undefined : mix.weights[domain];
    if (w === undefined) continue;
    const moves = numericMoves(
      h.path,
      w,
      h.direction === 'increase' ? { up: [1.5], down: [] } : { up: [], down: [0.5] },
      `weight of ${domain}`,
    );
    out.push(
      ...moves.map((c) => ({ ...c, why: c.why.replace(/^raise/, 'up-weight').replace(/^lower/, 'down-weight') })),
    );
  }
  return out;
}

/** Fisher–Yates on a copy, driven by the operator's seeded generator. */
function shuffled<T>(xs: readonly T[], random: () => number): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/**
 * The heuristic worker's mutation operator: a deterministic, seeded choice of one admissible change on the
 * axis. Admissible = changes a setting the standing recipe has, and matches no dead end of the policy. Under
 * `transfer-to-lb` the operators prefer rebalancing over-represented domains to pumping the weak dev domain:
 * the preferred moves come first and the seed picks among the first admissible group.
 *
 * The policy's search hints (absent: exactly the behaviour above) change the size and combination of moves:
 * a move of the axis that continues a direction that paid is preferred to every other, with its step widened
 * (factor f → f^stepScale); and with `maxKnobsPerMove` k > 1 the proposal combines up to k settings on distinct
 * paths — the axis's move plus further moves along hinted directions (any axis) or other admissible moves of the
 * axis, never two settings on one path, never a dead end, chosen by the same seeded generator.
 */
export function proposeMutation(
  axis: Axis,
  recipe: RecipeDocument,
  policy: RollingPolicy,
  seed: number,
  domains: readonly string[] = [],
): Proposal {
  const random = seededRandom(seed);
  const tiers = tiersFor(axis, recipe, policy, domains);
  const avoided: string[] = [];
  const deadEndOf = (c: Candidate): string | null => {
    for (const st of c.settings) {
      const d = matchingDeadEnd({ path: st.path, from: st.from, to: st.value }, policy.deadEnds);
      if (d) return `${st.path} ${directionOf(st.from, st.value)} (dead end ${d.id}: ${d.description})`;
    }
    return null;
  };
  const admissibleOf = (moves: Candidate[]) =>
    moves.filter((c) => {
      const d = deadEndOf(c);
      if (d) avoided.push(d);
      return d === null;
    });
  const perTier = tiers.map(admissibleOf);
  const hints = policy.searchHints;
  /** A hinted move, widened; the usual-size move where the widened one would run into a dead end. */
  const continued = (c: Candidate): Candidate | null => {
    const h = hintOf(c, hints);
    if (!h) return null;
    const wide = continueHinted(c, h);
    return deadEndOf(wide) === null
      ? wide
      : { ...c, why: `${c.why} (continues the direction that paid; the widened step is a dead end)` };
  };
  // With hints, the axis owns every move of its operators (all tiers) and the hinted moves of its knobs.
  const owned = hints ? [...perTier.flat()] : [];
  if (hints)
    for (const c of admissibleOf(hintedOwnMoves(axis, recipe, hints))) {
      const dir = directionOf(c.settings[0].from, c.settings[0].value);
      if (
        !owned.some(
          (o) =>
            o.settings[0]?.path === c.settings[0].path && directionOf(o.settings[0].from, o.settings[0].value) === dir,
        )
      )
        owned.push(c);
    }
  const hinted = owned.flatMap((c) => continued(c) ?? []);
  const preferred = hinted.length > 0 ? hinted : (perTier.find((t) => t.length > 0) ?? []);
  const anyMove = tiers.some((t) => t.length > 0);
  if (preferred.length === 0) {
    return {
      settings: [],
      avoided,
      hypothesis: !anyMove
        ? `no setting of axis ${axis} exists in the standing recipe; running it unchanged as an extra noise sample`
        : `every change on axis ${axis} is a registered dead end; running the standing recipe unchanged`,
    };
  }
  const pick = preferred[Math.floor(random() * preferred.length)];
  const extras =
    hints && hints.maxKnobsPerMove > 1
      ? combine(pick, axis, recipe, policy, domains, hints, owned, deadEndOf, avoided, random)
      : [];
  const settings = [...pick.settings, ...extras.flatMap((e) => e.settings)];
  const why = [
    pick.why,
    ...extras.map((e) => `combined with: ${e.why}`),
    extras.length > 0
      ? `one move of ${settings.length} knobs (at most ${hints!.maxKnobsPerMove}): ${settings.map((s) => s.path).join(', ')}`
      : '',
    policy.objective === 'transfer-to-lb' && (axis === 'data-mix' || axis === 'synthetic-data')
      ? 'objective transfer-to-lb: prefer rebalancing over-represented domains to chasing the weak dev domain'
      : '',
    avoided.length > 0 ? `avoided dead ends: ${avoided.join('; ')}` : '',
  ]
    .filter(Boolean)
    .join('; ');
  return { settings, criterion: pick.criterion, hypothesis: why, avoided };
}

/**
 * Further moves for a combined proposal: first moves along hinted directions from any axis's operators (a hinted
 * numeric path no operator moves gets the usual ×1.5 / ×0.5 step), then the axis's other admissible moves; each
 * group in seeded order, taken while the settings fit in k and no path overlaps one already set.
 */
function combine(
  pick: Candidate,
  axis: Axis,
  recipe: RecipeDocument,
  policy: RollingPolicy,
  domains: readonly string[],
  hints: SearchHints,
  sameAxis: Candidate[],
  deadEndOf: (c: Candidate) => string | null,
  avoided: string[],
  random: () => number,
): Candidate[] {
  const budget = hints.maxKnobsPerMove;
  const usable = (c: Candidate) => c.settings.length > 0 && !c.criterion;
  const fromHints: Candidate[] = [];
  const seen = new Set<string>();
  const consider = (c: Candidate) => {
    if (!usable(c)) return;
    const h = hintOf(c, hints);
    if (!h) return;
    const d = deadEndOf(c);
    if (d) {
      if (!avoided.includes(d)) avoided.push(d);
      return;
    }
    let wide = continueHinted(c, h);
    if (deadEndOf(wide) !== null) wide = c;
    const key = JSON.stringify(wide.settings);
    if (seen.has(key)) return;
    seen.add(key);
    fromHints.push(wide);
  };
  for (const ax of Axis.options)
    for (const c of ax === axis ? sameAxis : candidatesFor(ax, recipe, policy, domains)) consider(c);
  // A hinted numeric setting no operator moves: the usual step of a numeric leaf.
  for (const h of hints.directions) {
    if (fromHints.some((c) => c.settings.some((st) => covers(h.path, st.path)))) continue;
    const v = getPath(recipe, h.path);
    if (typeof v === 'number')
      for (const c of numericMoves(
        h.path,
        v,
        h.direction === 'increase' ? { up: [1.5], down: [] } : { up: [], down: [0.5] },
        h.path,
      ))
        consider(c);
  }
  const others = sameAxis.filter((c) => usable(c) && c !== pick && hintOf(c, hints) === null);
  const chosen: Candidate[] = [];
  const paths = [...pick.settings.map((s) => s.path)];
  let count = pick.settings.length;
  for (const c of [...shuffled(fromHints, random), ...shuffled(others, random)]) {
    if (count >= budget) break;
    if (count + c.settings.length > budget) continue;
    if (c.settings.some((st) => paths.some((p) => overlaps(p, st.path)))) continue;
    chosen.push(c);
    paths.push(...c.settings.map((s) => s.path));
    count += c.settings.length;
  }
  return chosen;
}

export interface RetryFix {
  settings: Setting[];
  note: string;
}

/**
 * One retry after a failed training job, with a fix that fits the failure: lower the learning rate after a
 * divergence, fewer steps and a smaller batch after a timeout, a smaller batch after running out of memory, and
 * the same recipe again after an infrastructure loss. The anchor never changes its recipe.
 */
export function retryFix(
  reason: string | null,
  logTail: string,
  recipe: RecipeDocument,
  policy: RollingPolicy,
  isAnchor: boolean,
): RetryFix {
  if (isAnchor) return { settings: [], note: 'anchor: retry the standing recipe unchanged' };
  const admissible = (s: Setting) => !matchingDeadEnd({ path: s.path, from: s.from, to: s.value }, policy.deadEnds);
  const halve = (knob: Knob, label: string): Setting | null => {
    const k = findKnob(recipe, knob);
    if (!k || typeof k.value !== 'number' || k.value <= 0) return null;
    const to = isInt(k.value) ? Math.max(1, Math.round(k.value / 2)) : sig3(k.value / 2);
    const s = { path: k.path, from: k.value, value: to };
    void label;
    return to !== k.value && admissible(s) ? s : null;
  };
  const diverged = reason === 'diverged' || /DIVERGED|nan|inf loss/i.test(logTail);
  if (diverged) {
    const lr = halve('lr', 'learning rate');
    if (lr) return { settings: [lr], note: `diverged: halve the learning rate ${lr.from} → ${lr.value}` };
    const clip = findKnob(recipe, 'clip');
    if (clip) {
      const s = {
        path: clip.path,
        from: clip.value,
        value: typeof clip.value === 'number' && clip.value > 0 ? sig3(clip.value / 2) : 1.0,
      };
      if (admissible(s)) return { settings: [s], note: `diverged: tighten gradient clipping → ${s.value}` };
    }
    return { settings: [], note: 'diverged, and no admissible fix: retry unchanged' };
  }
  if (reason === 'timeout' || reason === 'deadline-exceeded') {
    const settings = [halve('steps', 'steps'), halve('batch', 'batch size')].filter((s): s is Setting => s !== null);
    return {
      settings,
      note: settings.length
        ? `timed out: ${settings.map((s) => `${s.path} ${s.from} → ${s.value}`).join(', ')}`
        : 'timed out: retry unchanged',
    };
  }
  if (/out of memory|MemoryError|Killed|OOM/i.test(logTail)) {
    const b = halve('batch', 'batch size');
    if (b) return { settings: [b], note: `out of memory: batch size ${b.from} → ${b.value}` };
  }
  return { settings: [], note: `failed (${reason ?? 'unknown'}): retry unchanged once` };
}
