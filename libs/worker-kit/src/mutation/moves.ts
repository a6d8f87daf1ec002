import { Axis, type RecipeDocument, type RollingPolicy } from '@aevo/contracts';
import { getPath } from '../recipe-doc';
import { SCHEDULES, findKnob, isInt, scale, sig3, type Candidate, type Setting } from './knobs';

/** The moves each axis's operator can propose on a recipe, in tiers of preference. */
export function numericMoves(
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

export function leafMoves(
  root: { path: string; value: unknown } | null,
  label: string,
  probabilities = false,
): Candidate[] {
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

export function mixWeights(recipe: RecipeDocument): { path: string; weights: Record<string, number> } | null {
  const m = findKnob(recipe, 'mix');
  if (!m || m.value === null || typeof m.value !== 'object' || Array.isArray(m.value)) return null;
  const weights: Record<string, number> = {};
  for (const [d, w] of Object.entries(m.value as Record<string, unknown>)) if (typeof w === 'number') weights[d] = w;
  return Object.keys(weights).length > 0 ? { path: m.path, weights } : null;
}

/** Rebalancing: pull the most over-represented domain down to the mean of the others. */
export function rebalanceMoves(recipe: RecipeDocument): Candidate[] {
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
export function upweightMoves(recipe: RecipeDocument): Candidate[] {
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

export function syntheticMoves(recipe: RecipeDocument): Candidate[] {
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

export function selectionMoves(recipe: RecipeDocument, policy: RollingPolicy, domains: readonly string[]): Candidate[] {
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
      step: { factor: 0.5, integer: true },
    });
  }
  return out;
}

/** Moves in tiers of preference: the operator picks within the first tier that has an admissible move. */
export function tiersFor(
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

export function candidatesFor(
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
