import { type Axis, type RecipeChange, type RollingPolicy } from '@aevo/contracts';
import { initialPolicy as firstPolicy } from '@aevo/policy-engine';

/** The synthetic campaign's toy world: its axes, domains, opening policy, moves and their seeded response surface. */
export const AXES: Axis[] = ['learning-rate', 'schedule', 'warmup', 'data-mix', 'synthetic-data'];
export const DOMAINS = ['cipher', 'equation', 'gravity', 'numeral', 'unit_conversion'];
export const r3 = (x: number) => Math.round(x * 1000) / 1000;
export const clamp01 = (x: number) => Math.min(1, Math.max(0, x));

/**
 * Revision 0 as the orchestrator records it (policy-engine's `initialPolicy`), with every axis active at once, a
 * promotion bar and a noise band already set.
 */
export function initialPolicy(): RollingPolicy {
  const standingRecipe = {
    train: { lr: 0.001, warmup_steps: 20, schedule: 'cosine' },
    data: { mix: { equation: 1, gravity: 1 }, synthetic: { count: 0 } },
  };
  return {
    ...firstPolicy({ standingRecipe, axes: AXES, anchorSeeds: 2 }),
    activeAxes: AXES,
    promotionThreshold: 0.01,
    noiseBand: { devStd: 0.005, lbStd: 0.006, seeds: 0, round: 0 },
    rationale: 'initial policy',
  };
}

function getPath(doc: Record<string, unknown>, dotted: string): unknown {
  let cur: unknown = doc;
  for (const seg of dotted.split('.'))
    cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[seg] : undefined;
  return cur;
}

export function setPath(doc: Record<string, unknown>, dotted: string, value: unknown): void {
  const segs = dotted.split('.');
  let cur = doc;
  for (const seg of segs.slice(0, -1)) {
    if (cur[seg] === null || typeof cur[seg] !== 'object') cur[seg] = {};
    cur = cur[seg] as Record<string, unknown>;
  }
  cur[segs[segs.length - 1]] = value;
}

export function proposeChange(axis: Axis, policy: RollingPolicy, rnd: () => number): RecipeChange[] {
  const r = policy.standingRecipe;
  const scale = (path: string, factors: number[], integer = false): RecipeChange[] => {
    const from = getPath(r, path);
    if (typeof from !== 'number') return [];
    const f = factors[Math.floor(rnd() * factors.length)];
    const to = integer ? Math.max(1, Math.round(from * f)) : Number((from * f).toPrecision(3));
    return [{ path, from, to }];
  };
  switch (axis) {
    case 'learning-rate':
      return scale('train.lr', [0.5, 1.5, 2]);
    case 'warmup':
      return scale('train.warmup_steps', [0.5, 2], true);
    case 'schedule': {
      const from = getPath(r, 'train.schedule');
      const to = ['cosine', 'linear', 'constant'].filter((s) => s !== from)[Math.floor(rnd() * 2)];
      return [{ path: 'train.schedule', from, to }];
    }
    case 'data-mix':
      return scale(rnd() < 0.5 ? 'data.mix.gravity' : 'data.mix.equation', [0.5, 2]);
    case 'synthetic-data': {
      const from = getPath(r, 'data.synthetic.count');
      return [{ path: 'data.synthetic.count', from, to: typeof from === 'number' && from > 0 ? from * 2 : 4000 }];
    }
    default:
      return [];
  }
}

/** The toy response surface: dev and leaderboard effect of one move (synthetic data: dev and dev-equation only). */
export function axisEffect(axis: Axis, changes: RecipeChange[]): { dev: number; lb: number; equation: number } {
  if (changes.length === 0) return { dev: 0, lb: 0, equation: 0 };
  const ch = changes[0];
  const up = typeof ch.from === 'number' && typeof ch.to === 'number' ? ch.to > ch.from : ch.to === 'linear';
  switch (axis) {
    case 'learning-rate':
      return up ? { dev: 0.02, lb: 0.018, equation: 0 } : { dev: -0.015, lb: -0.02, equation: 0 };
    case 'warmup':
      return { dev: 0.004, lb: 0.002, equation: 0 };
    case 'schedule':
      return up ? { dev: 0.012, lb: 0.01, equation: 0 } : { dev: -0.005, lb: -0.004, equation: 0 };
    case 'data-mix':
      return ch.path === 'data.mix.equation' && !up
        ? { dev: -0.02, lb: 0.001, equation: -0.08 }
        : { dev: 0.006, lb: 0.005, equation: 0 };
    case 'synthetic-data':
      return { dev: 0.04, lb: -0.002, equation: 0.15 };
    default:
      return { dev: 0, lb: 0, equation: 0 };
  }
}
