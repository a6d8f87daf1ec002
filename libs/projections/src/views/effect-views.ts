import { flattenRecipe } from '@aevo/policy-engine';
import { canonicalJson, type RecipeChange } from '@aevo/contracts';
import type { ViewsState } from './campaign-fold';
import { estimate, round6, type Estimate } from './stats';
import { campaignOf, candidateScores, candidatesOf, lastPolicy, roundAnchor } from './view-helpers';

/** Axis effects (the campaign's "parameter importance") and the lineage of the standing recipe. */

interface EffectRow {
  key: string;
  n: number;
  dev: Estimate;
  lb: Estimate;
  candidates: string[];
}

function effectRows(
  groups: Map<string, Array<{ id: string; devDelta: number | null; lbDelta: number | null }>>,
): EffectRow[] {
  return [...groups.keys()].sort().map((key) => {
    const xs = groups.get(key) ?? [];
    return {
      key,
      n: xs.length,
      dev: estimate(xs.map((x) => x.devDelta).filter((v): v is number => v !== null)),
      lb: estimate(xs.map((x) => x.lbDelta).filter((v): v is number => v !== null)),
      candidates: xs.map((x) => x.id),
    };
  });
}

const direction = (ch: RecipeChange): 'increase' | 'decrease' | 'set' =>
  typeof ch.from === 'number' && typeof ch.to === 'number'
    ? ch.to > ch.from
      ? 'increase'
      : ch.to < ch.from
        ? 'decrease'
        : 'set'
    : 'set';

/**
 * Axis effects ("parameter importance"): every non-anchor candidate's dev and public-LB difference to its round's
 * anchor, pooled per axis and per recipe knob (path and direction), with 95% t intervals; and what the policy did.
 */
export function axisEffectsView(state: ViewsState, campaignId: string) {
  const c = campaignOf(state, campaignId);
  const byAxis = new Map<string, Array<{ id: string; devDelta: number | null; lbDelta: number | null }>>();
  const byKnob = new Map<string, Array<{ id: string; devDelta: number | null; lbDelta: number | null }>>();
  for (const x of candidatesOf(c)) {
    if (x.isAnchor) continue;
    const s = candidateScores(c, x);
    const a = roundAnchor(c, x.round);
    if (s.dev === null || !a) continue;
    const obs = {
      id: x.candidateId,
      devDelta: a.dev !== null ? s.dev - a.dev : null,
      lbDelta: a.publicLb !== null && s.publicLb !== null ? s.publicLb - a.publicLb : null,
    };
    byAxis.set(x.axis, [...(byAxis.get(x.axis) ?? []), obs]);
    for (const ch of x.recipeChanges) {
      const k = `${ch.path} ${direction(ch)}`;
      byKnob.set(k, [...(byKnob.get(k) ?? []), obs]);
    }
  }
  const p = lastPolicy(c).policy;
  const promotions = lineageView(state, campaignId).revisions.flatMap((r) =>
    r.promotions.map((pr) => ({ ...pr, revision: r.revision })),
  );
  const promotedCandidates = new Set(promotions.flatMap((pr) => pr.candidates));
  const axes = effectRows(byAxis).map((row) => {
    const retired = p.retiredAxes.find((r) => r.axis === row.key);
    const deadEnds = p.deadEnds.filter((d) => d.axis === row.key).map((d) => d.description);
    const promoted = row.candidates.filter((id) => promotedCandidates.has(id));
    const actions = [
      ...(promoted.length ? ['promoted'] : []),
      ...(deadEnds.length ? ['dead end'] : []),
      ...(retired ? ['retired'] : []),
    ];
    return {
      axis: row.key,
      n: row.n,
      dev: row.dev,
      lb: row.lb,
      candidates: row.candidates,
      active: p.activeAxes.includes(row.key as never),
      retired: retired ? { round: retired.round, reason: retired.reason } : null,
      deadEnds,
      promoted,
      actions,
    };
  });
  const ledger = new Map((p.moveLedger ?? []).map((m) => [`${m.path} ${m.direction}`, m]));
  const knobs = effectRows(byKnob).map((row) => {
    const [path, dir] = row.key.split(' ');
    const deadEnds = p.deadEnds
      .filter(
        (d) =>
          d.path !== undefined &&
          (path === d.path || path.startsWith(`${d.path}.`)) &&
          (!d.direction || d.direction === dir),
      )
      .map((d) => d.description);
    const promoted = promotions
      .filter((pr) => pr.path === path)
      .map((pr) => `revision ${pr.revision}: ${canonicalJson(pr.from)} → ${canonicalJson(pr.to)}`);
    const m = ledger.get(row.key);
    return {
      knob: row.key,
      path,
      direction: dir,
      n: row.n,
      dev: row.dev,
      lb: row.lb,
      candidates: row.candidates,
      deadEnds,
      promoted,
      ledger: m ? { rounds: m.rounds, devGains: m.devGains.map(round6), lbGains: m.lbGains.map(round6) } : null,
      actions: [...(promoted.length ? ['promoted'] : []), ...(deadEnds.length ? ['dead end'] : [])],
    };
  });
  return { campaignId, axes, knobs };
}

/**
 * Lineage: every policy revision as a timeline, with the standing recipe's changes (promotions) linked to the
 * candidates whose recipe change they adopt, the evidence hash that justified them, and the dead ends and retirements
 * each added.
 */
export function lineageView(state: ViewsState, campaignId: string) {
  const c = campaignOf(state, campaignId);
  const revisions = c.policies.map((rev, i) => {
    const prev = i > 0 ? c.policies[i - 1].policy : null;
    const before = prev ? flattenRecipe(prev.standingRecipe) : new Map<string, unknown>();
    const after = flattenRecipe(rev.policy.standingRecipe);
    const promotions: Array<{ path: string; from: unknown; to: unknown; candidates: string[] }> = [];
    if (prev)
      for (const path of [...new Set([...before.keys(), ...after.keys()])].sort()) {
        const [a, b] = [before.get(path), after.get(path)];
        if (canonicalJson(a ?? null) === canonicalJson(b ?? null)) continue;
        // The candidates (up to this revision's round) whose change set this value: the evidence for the promotion.
        const candidates = candidatesOf(c)
          .filter(
            (x) =>
              x.round <= rev.round &&
              x.recipeChanges.some(
                (ch) =>
                  (ch.path === path || path.startsWith(`${ch.path}.`)) &&
                  canonicalJson(ch.to) === canonicalJson(ch.path === path ? b : after.get(ch.path)),
              ),
          )
          .map((x) => x.candidateId);
        promotions.push({ path, from: a ?? null, to: b ?? null, candidates });
      }
    const deadBefore = new Set((prev?.deadEnds ?? []).map((d) => d.id));
    const retiredBefore = new Set((prev?.retiredAxes ?? []).map((r) => r.axis));
    return {
      revision: rev.revision,
      round: rev.round,
      proposer: rev.proposer,
      llmRefused: rev.llmRefused,
      evidenceSha256: rev.evidenceSha256,
      objective: rev.policy.objective,
      promotionThreshold: rev.policy.promotionThreshold,
      noiseBand: { devStd: rev.policy.noiseBand.devStd, lbStd: rev.policy.noiseBand.lbStd },
      selection: rev.policy.selectionCriterion.kind,
      changes: rev.changes,
      promotions,
      deadEndsAdded: rev.policy.deadEnds
        .filter((d) => !deadBefore.has(d.id))
        .map((d) => ({
          description: d.description,
          axis: d.axis,
          candidateId: d.candidateId ?? null,
          evidence: d.evidence,
        })),
      retired: rev.policy.retiredAxes.filter((r) => !retiredBefore.has(r.axis)),
      decoupling: c.decoupling
        .filter((d) => d.round === rev.round && rev.round > 0)
        .map((d) => ({
          step: d.step,
          id: d.hypothesis.id,
          domain: d.hypothesis.domain,
          suspectCandidateId: d.hypothesis.suspectCandidateId,
        })),
      refusals: c.refusals.filter((r) => r.round === rev.round && rev.round > 0),
    };
  });
  return {
    campaignId,
    standingRecipe: Object.fromEntries(
      [...flattenRecipe(lastPolicy(c).policy.standingRecipe)].sort(([a], [b]) => a.localeCompare(b)),
    ),
    revisions,
  };
}
