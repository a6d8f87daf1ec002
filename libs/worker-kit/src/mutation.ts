import { seededRandom, type Axis, type RecipeDocument, type RollingPolicy, type SelectionCriterion } from '@aevo/contracts';
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
const scale = (v: number, f: number, integer: boolean): number => (integer ? Math.max(1, Math.round(v * f)) : sig3(v * f));
const isInt = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v);

interface Candidate {
  settings: Setting[];
  why: string;
  criterion?: SelectionCriterion;
}

function numericMoves(path: string, value: unknown, factors: { up: number[]; down: number[] }, label: string): Candidate[] {
  if (typeof value !== 'number') return [];
  const integer = isInt(value);
  const out: Candidate[] = [];
  for (const f of factors.up) {
    const to: number = value === 0 ? (integer ? 1 : 0.1) : scale(value, f, integer);
    if (to !== value) out.push({ settings: [{ path, from: value, value: to }], why: `raise ${label} ${value} → ${to}` });
  }
  for (const f of factors.down) {
    const to = scale(value, f, integer);
    if (to !== value && value !== 0) out.push({ settings: [{ path, from: value, value: to }], why: `lower ${label} ${value} → ${to}` });
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
      out.push({ settings: [{ path: leaf.path, from: leaf.value, value: !leaf.value }], why: `${leaf.value ? 'disable' : 'enable'} ${label} ${leaf.path}` });
    else if (probabilities) {
      // Augmenters are probabilities (YAML 0.0 reads as the integer 0): switch on at 0.25, else double or halve.
      const p = leaf.value;
      const ups = p === 0 ? [0.25] : p < 1 ? [Math.min(1, sig3(p * 2))] : [];
      for (const to of ups) out.push({ settings: [{ path: leaf.path, from: p, value: to }], why: `${p === 0 ? 'enable' : 'raise'} ${label} ${leaf.path} ${p} → ${to}` });
      if (p > 0) out.push({ settings: [{ path: leaf.path, from: p, value: sig3(p / 2) }], why: `lower ${label} ${leaf.path} ${p} → ${sig3(p / 2)}` });
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
    if (to < w) out.push({ settings: [{ path: `${mix.path}.${domain}`, from: w, value: to }], why: `rebalance over-represented ${domain} ${w} → ${to}` });
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
    return { settings: [{ path: `${mix.path}.${domain}`, from: w, value: to }], why: `up-weight under-represented ${domain} ${w} → ${to}` };
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
    const to = count === 0 ? (typeof rows === 'number' ? Math.max(50, Math.round(rows * 0.1)) : 500) : Math.round(count * 2);
    return [{ settings: [{ path: `${s.path}.count`, from: count, value: to }], why: `add synthetic examples ${count} → ${to}` }];
  }
  const out: Candidate[] = [];
  for (const leaf of numericLeaves(s.value, s.path)) {
    if (typeof leaf.value === 'boolean') {
      if (!leaf.value) out.push({ settings: [{ path: leaf.path, from: false, value: true }], why: `enable synthetic ${leaf.path}` });
    } else {
      const to = leaf.value === 0 ? (isInt(leaf.value) ? 200 : 0.2) : scale(leaf.value, 2, isInt(leaf.value));
      out.push({ settings: [{ path: leaf.path, from: leaf.value, value: to }], why: `add synthetic data ${leaf.path} ${leaf.value} → ${to}` });
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
  if (!uniform) out.push({ settings: [], criterion: { kind: 'reweighted', weights }, why: 'select checkpoints by a criterion reweighted against over-represented domains' });
  if (policy.selectionCriterion.kind !== 'mean') out.push({ settings: [], criterion: { kind: 'mean' }, why: 'select checkpoints by the plain mean dev score' });
  const every = findKnob(recipe, 'checkpointEvery');
  if (every && typeof every.value === 'number' && every.value >= 2) {
    const to = Math.max(1, Math.round(every.value / 2));
    out.push({ settings: [{ path: every.path, from: every.value, value: to }], why: `checkpoint twice as often (${every.value} → ${to}) so selection has more to choose from` });
  }
  return out;
}

/** Moves in tiers of preference: the operator picks within the first tier that has an admissible move. */
function tiersFor(axis: Axis, recipe: RecipeDocument, policy: RollingPolicy, domains: readonly string[]): Candidate[][] {
  const transfer = policy.objective === 'transfer-to-lb';
  // Under transfer-to-lb the evidence says raw dev gains on the weak domain do not transfer: rebalance first.
  if (axis === 'data-mix') return transfer ? [rebalanceMoves(recipe), upweightMoves(recipe)] : [[...upweightMoves(recipe), ...rebalanceMoves(recipe)]];
  if (axis === 'synthetic-data') return transfer ? [rebalanceMoves(recipe), syntheticMoves(recipe)] : [syntheticMoves(recipe)];
  return [candidatesFor(axis, recipe, policy, domains)];
}

function candidatesFor(axis: Axis, recipe: RecipeDocument, policy: RollingPolicy, domains: readonly string[]): Candidate[] {
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
      return SCHEDULES.filter((s) => s !== k.value).map((s) => ({ settings: [{ path: k.path, from: k.value, value: s }], why: `switch lr schedule ${k.value} → ${s}` }));
    }
    case 'warmup': {
      const k = findKnob(recipe, 'warmup');
      if (!k) return [];
      if (k.value === 0) {
        const steps = findKnob(recipe, 'steps');
        const to = typeof steps?.value === 'number' && isInt(steps.value) ? Math.max(1, Math.round(steps.value * 0.05)) : 0.05;
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
        return [4, 8, 16].map((r) => ({ settings: [{ path: k.path, from: 0, value: r }], why: `replace full fine-tuning by rank-${r} LoRA adapters` }));
      const moves: Candidate[] = [];
      for (const f of [2, 0.5]) {
        const to = Math.max(1, Math.round(k.value * f));
        if (to === k.value) continue;
        const settings: Setting[] = [{ path: k.path, from: k.value, value: to }];
        // Keep alpha/rank constant so the change is capacity, not an effective learning-rate change.
        if (alpha && typeof alpha.value === 'number') settings.push({ path: alpha.path, from: alpha.value, value: sig3((alpha.value * to) / k.value) });
        moves.push({ settings, why: `${f > 1 ? 'raise' : 'lower'} LoRA rank ${k.value} → ${to}` });
      }
      return moves;
    }
    case 'clipping': {
      const k = findKnob(recipe, 'clip');
      if (!k) return [];
      if (k.value === null || k.value === 0 || k.value === false) return [{ settings: [{ path: k.path, from: k.value, value: 1.0 }], why: 'enable gradient clipping at 1.0' }];
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

/**
 * The heuristic worker's mutation operator: a deterministic, seeded choice of one admissible change on the
 * axis. Admissible = changes a setting the standing recipe has, and matches no dead end of the policy. Under
 * `transfer-to-lb` the operators prefer rebalancing over-represented domains to pumping the weak dev domain:
 * the preferred moves come first and the seed picks among the first admissible group.
 */
export function proposeMutation(axis: Axis, recipe: RecipeDocument, policy: RollingPolicy, seed: number, domains: readonly string[] = []): Proposal {
  const random = seededRandom(seed);
  const tiers = tiersFor(axis, recipe, policy, domains);
  const avoided: string[] = [];
  const admissibleOf = (moves: Candidate[]) =>
    moves.filter((c) => {
      for (const st of c.settings) {
        const d = matchingDeadEnd({ path: st.path, from: st.from, to: st.value }, policy.deadEnds);
        if (d) {
          avoided.push(`${st.path} ${directionOf(st.from, st.value)} (dead end ${d.id}: ${d.description})`);
          return false;
        }
      }
      return true;
    });
  const perTier = tiers.map(admissibleOf);
  const preferred = perTier.find((t) => t.length > 0) ?? [];
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
  const why = [
    pick.why,
    policy.objective === 'transfer-to-lb' && (axis === 'data-mix' || axis === 'synthetic-data') ? 'objective transfer-to-lb: prefer rebalancing over-represented domains to chasing the weak dev domain' : '',
    avoided.length > 0 ? `avoided dead ends: ${avoided.join('; ')}` : '',
  ]
    .filter(Boolean)
    .join('; ');
  return { settings: pick.settings, criterion: pick.criterion, hypothesis: why, avoided };
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
export function retryFix(reason: string | null, logTail: string, recipe: RecipeDocument, policy: RollingPolicy, isAnchor: boolean): RetryFix {
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
      const s = { path: clip.path, from: clip.value, value: typeof clip.value === 'number' && clip.value > 0 ? sig3(clip.value / 2) : 1.0 };
      if (admissible(s)) return { settings: [s], note: `diverged: tighten gradient clipping → ${s.value}` };
    }
    return { settings: [], note: 'diverged, and no admissible fix: retry unchanged' };
  }
  if (reason === 'timeout' || reason === 'deadline-exceeded') {
    const settings = [halve('steps', 'steps'), halve('batch', 'batch size')].filter((s): s is Setting => s !== null);
    return { settings, note: settings.length ? `timed out: ${settings.map((s) => `${s.path} ${s.from} → ${s.value}`).join(', ')}` : 'timed out: retry unchanged' };
  }
  if (/out of memory|MemoryError|Killed|OOM/i.test(logTail)) {
    const b = halve('batch', 'batch size');
    if (b) return { settings: [b], note: `out of memory: batch size ${b.from} → ${b.value}` };
  }
  return { settings: [], note: `failed (${reason ?? 'unknown'}): retry unchanged once` };
}
