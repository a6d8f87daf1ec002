/** The simulated campaign's heuristic candidate generator (what a heuristic worker proposes on its axis). */
import { canonicalJson, type Axis, type DeadEnd, type RecipeChange, type RollingPolicy } from '@aevo/contracts';

function getPath(doc: unknown, dotted: string): unknown {
  let cur = doc;
  for (const seg of dotted.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur;
}

const sig3 = (x: number) => Number(x.toPrecision(3));

/** Does a change run into a dead end? (path covers, and the direction or the exact value matches) */
export function hitsDeadEnd(c: RecipeChange, deadEnds: readonly DeadEnd[]): boolean {
  const dir =
    typeof c.from === 'number' && typeof c.to === 'number'
      ? c.to > c.from
        ? 'increase'
        : c.to < c.from
          ? 'decrease'
          : 'set'
      : 'set';
  return deadEnds.some((d) => {
    if (!d.path || !(c.path === d.path || c.path.startsWith(`${d.path}.`))) return false;
    if (!d.direction) return true;
    if (d.direction === 'set') return d.value === undefined || canonicalJson(d.value) === canonicalJson(c.to);
    return d.direction === dir;
  });
}

/**
 * The heuristic candidate generator: one change on the worker's axis, from the standing recipe, never a
 * registered dead end. Under `transfer-to-lb` the data axes rebalance the domains the policy names as
 * over-represented instead of adding data for them.
 */
export function proposeChange(axis: Axis, policy: RollingPolicy, random: () => number): RecipeChange[] {
  const recipe = policy.standingRecipe;
  const num = (p: string) => {
    const v = getPath(recipe, p);
    return typeof v === 'number' ? v : null;
  };
  const scaled = (p: string, factors: number[], integer = false): RecipeChange[][] => {
    const v = num(p);
    if (v === null) return [];
    return factors
      .map((f) => [{ path: p, from: v, to: integer ? Math.max(1, Math.round(v * f)) : sig3(v * f) }])
      .filter((c) => c[0].to !== v);
  };
  const transfer = policy.objective === 'transfer-to-lb';
  const mix = (getPath(recipe, 'data.mix') ?? {}) as Record<string, number>;
  const rebalanceRule = policy.evidenceRules.find((r) => r.id === 'rebalance-domains');
  const overRepresented = rebalanceRule ? Object.keys(mix).filter((d) => rebalanceRule.rule.includes(d)) : [];
  const rebalance = (): RecipeChange[][] => {
    const moves: RecipeChange[][] = [];
    for (const d of overRepresented) moves.push([{ path: `data.mix.${d}`, from: mix[d], to: sig3(mix[d] * 0.5) }]);
    for (const d of Object.keys(mix).filter((x) => !overRepresented.includes(x)))
      moves.push([{ path: `data.mix.${d}`, from: mix[d], to: sig3(mix[d] * 1.5) }]);
    return moves;
  };
  let moves: RecipeChange[][] = [];
  switch (axis) {
    case 'learning-rate':
      moves = scaled('train.lr', [0.5, 0.7, 1.5, 2]);
      break;
    case 'schedule': {
      const s = getPath(recipe, 'train.schedule');
      moves = ['cosine', 'linear', 'constant']
        .filter((x) => x !== s)
        .map((x) => [{ path: 'train.schedule', from: s, to: x }]);
      break;
    }
    case 'warmup':
      moves = scaled('train.warmup_steps', [0.5, 2], true);
      break;
    case 'steps':
      moves = scaled('train.steps', [0.75, 1.5], true);
      break;
    case 'clipping':
      moves = scaled('train.grad_clip', [0.5, 2]);
      break;
    case 'data-mix':
      moves = transfer
        ? rebalance()
        : Object.keys(mix).map((d) => [{ path: `data.mix.${d}`, from: mix[d], to: sig3(mix[d] * 2) }]);
      break;
    case 'synthetic-data': {
      const c = num('data.synthetic.count');
      // Under transfer-to-lb the only synthetic move left is to take generated rows out again.
      moves =
        c === null
          ? []
          : transfer
            ? c > 0
              ? [[{ path: 'data.synthetic.count', from: c, to: Math.round(c / 2) }]]
              : []
            : [[{ path: 'data.synthetic.count', from: c, to: c === 0 ? 4000 : c * 2 }]];
      break;
    }
    default:
      moves = [];
  }
  const admissible = moves.filter((m) => m.every((c) => !hitsDeadEnd(c, policy.deadEnds)));
  if (admissible.length === 0) return [];
  return admissible[Math.floor(random() * admissible.length)];
}
