import { canonicalJson, type RollingPolicy, type SelectionCriterion } from '@aevo/contracts';
import { flattenRecipe } from './recipe';

const show = (v: unknown): string => (v === undefined ? '(unset)' : typeof v === 'string' ? v : canonicalJson(v));
const num = (x: number | null): string => (x === null ? 'none' : String(x));

function criterion(c: SelectionCriterion): string {
  if (c.kind === 'mean') return 'mean';
  const w = Object.keys(c.weights)
    .sort()
    .map((d) => `${d} ${c.weights[d]}`)
    .join(', ');
  return `reweighted (${w})`;
}

/**
 * A readable list of what changed from policy `a` to policy `b`, in a fixed order. The revision counter, the
 * round it steers and the rationale are not listed (they change every time).
 */
export function diffPolicies(a: RollingPolicy, b: RollingPolicy): string[] {
  const out: string[] = [];
  const ra = flattenRecipe(a.standingRecipe);
  const rb = flattenRecipe(b.standingRecipe);
  for (const p of [...new Set([...ra.keys(), ...rb.keys()])].sort()) {
    const [x, y] = [ra.get(p), rb.get(p)];
    if (!ra.has(p)) out.push(`standing recipe: ${p} set to ${show(y)}`);
    else if (!rb.has(p)) out.push(`standing recipe: ${p} removed (was ${show(x)})`);
    else if (canonicalJson(x) !== canonicalJson(y)) out.push(`standing recipe: ${p} ${show(x)} → ${show(y)}`);
  }
  if (a.activeCategory !== b.activeCategory) out.push(`active category: ${a.activeCategory} → ${b.activeCategory}`);
  for (const ax of b.activeAxes) if (!a.activeAxes.includes(ax)) out.push(`axis activated: ${ax}`);
  for (const ax of a.activeAxes) if (!b.activeAxes.includes(ax)) out.push(`axis deactivated: ${ax}`);
  const retiredA = new Map(a.retiredAxes.map((r) => [r.axis, r]));
  const retiredB = new Map(b.retiredAxes.map((r) => [r.axis, r]));
  for (const [ax, r] of retiredB)
    if (!retiredA.has(ax)) out.push(`axis retired: ${ax} (round ${r.round}: ${r.reason})`);
  for (const ax of retiredA.keys()) if (!retiredB.has(ax)) out.push(`axis restored: ${ax}`);
  const deadA = new Map(a.deadEnds.map((d) => [d.id, d]));
  const deadB = new Map(b.deadEnds.map((d) => [d.id, d]));
  for (const [id, d] of deadB) {
    const before = deadA.get(id);
    if (!before) out.push(`Don't waste budget on: ${d.description} (round ${d.round})`);
    else if (canonicalJson(before) !== canonicalJson(d)) out.push(`dead end ${id} ALTERED: ${d.description}`);
  }
  for (const [id, d] of deadA) if (!deadB.has(id)) out.push(`dead end ${id} REMOVED: ${d.description}`);
  if (a.promotionThreshold !== b.promotionThreshold)
    out.push(`promotion threshold: ${a.promotionThreshold} → ${b.promotionThreshold}`);
  if (canonicalJson(a.noiseBand) !== canonicalJson(b.noiseBand))
    out.push(
      `noise band: dev std ${a.noiseBand.devStd} → ${b.noiseBand.devStd}, LB std ${a.noiseBand.lbStd} ` +
        `→ ${b.noiseBand.lbStd} (${b.noiseBand.seeds} seeds, round ${b.noiseBand.round})`,
    );
  if (a.anchorSeeds !== b.anchorSeeds) out.push(`anchor seeds: ${a.anchorSeeds} → ${b.anchorSeeds}`);
  if (canonicalJson(a.selectionCriterion) !== canonicalJson(b.selectionCriterion))
    out.push(`checkpoint selection: ${criterion(a.selectionCriterion)} → ${criterion(b.selectionCriterion)}`);
  if (a.objective !== b.objective) out.push(`objective: ${a.objective} → ${b.objective}`);
  const rulesA = new Map(a.evidenceRules.map((r) => [r.id, r]));
  const rulesB = new Map(b.evidenceRules.map((r) => [r.id, r]));
  for (const [id, r] of rulesB) {
    const before = rulesA.get(id);
    if (!before) out.push(`evidence rule added: ${r.rule}`);
    else if (before.rule !== r.rule) out.push(`evidence rule revised (${id}): ${r.rule}`);
  }
  for (const [id, r] of rulesA) if (!rulesB.has(id)) out.push(`evidence rule dropped (${id}): ${r.rule}`);
  const pendingA = new Set((a.pendingConfirmations ?? []).map((p) => p.candidateId));
  for (const p of b.pendingConfirmations ?? [])
    if (!pendingA.has(p.candidateId))
      out.push(
        `awaiting confirmation: ${p.candidateId} (${p.axis}, LB ${p.lbGain >= 0 ? '+' : ''}${p.lbGain} in ` +
          `round ${p.round})`,
      );
  if (b.combination && b.combination.sources.length >= 2 && b.combination.id !== a.combination?.id)
    out.push(
      `combination ${b.combination.id}: ${b.combination.sources.map((x) => x.candidateId).join(' + ')} trained ` +
        `together (${b.combination.changes.map((c) => c.path).join(', ')})`,
    );
  const hypA = new Map((a.decouplingHypotheses ?? []).map((h) => [h.id, h.status]));
  for (const h of b.decouplingHypotheses ?? [])
    if (hypA.get(h.id) !== h.status)
      out.push(`decoupling ${h.id} (${h.domain}): ${hypA.get(h.id) ?? 'new'} → ${h.status}`);
  if (canonicalJson(a.searchHints ?? null) !== canonicalJson(b.searchHints ?? null) && b.searchHints) {
    const directions = b.searchHints.directions.map((d) => `${d.path} ${d.direction} ×${d.stepScale}`);
    out.push(
      `search hints: up to ${b.searchHints.maxKnobsPerMove} knob(s) per move; ` +
        `directions ${directions.join(', ') || 'none'}`,
    );
  }
  if (a.bestPublicLb !== b.bestPublicLb) out.push(`best public LB: ${num(a.bestPublicLb)} → ${num(b.bestPublicLb)}`);
  if (a.plateauRounds !== b.plateauRounds) out.push(`rounds without LB gain: ${a.plateauRounds} → ${b.plateauRounds}`);
  if (canonicalJson(a.predictedBand ?? null) !== canonicalJson(b.predictedBand ?? null)) {
    const band = (x: { low: number; high: number } | null | undefined) => (x ? `${x.low}–${x.high}` : 'none');
    out.push(`predicted band: dev ${band(b.predictedBand?.dev)}, public LB ${band(b.predictedBand?.publicLb)}`);
  }
  return out;
}
