import * as YAML from 'yaml';
import type { EventStore } from '@aevo/eventstore';
import {
  applyPolicyHistory,
  diffPolicies,
  emptyPolicyHistory,
  own,
  type CampaignPolicyHistory,
  type PolicyHistoryState,
} from '@aevo/policy-engine';
import { UsageError } from './campaign-commands';

/** The campaign's policy history (revision 0 from CampaignStarted, then every PolicyRevised), from the store. */
export async function policyHistory(store: EventStore, campaignId: string): Promise<CampaignPolicyHistory> {
  const events = await store.readAll({
    campaignId,
    types: ['CampaignStarted', 'PolicyRevised', 'ConstitutionViolationRefused'],
  });
  let s: PolicyHistoryState = emptyPolicyHistory();
  for (const e of events) s = applyPolicyHistory(s, e);
  const h = own(s, campaignId);
  if (!h || h.revisions.length === 0) throw new UsageError(`<campaign>: no campaign "${campaignId}" in the store`);
  return h;
}

function pick(h: CampaignPolicyHistory, revision: number | undefined, option: string) {
  if (revision === undefined) return h.revisions[h.revisions.length - 1];
  const r = h.revisions.find((x) => x.revision === revision);
  if (!r)
    throw new UsageError(
      `${option}: revision ${revision} is not recorded (have ${h.revisions.map((x) => x.revision).join(', ')})`,
    );
  return r;
}

/** `aevo policy show`: one revision as readable text (or the JSON document). */
export function showPolicy(h: CampaignPolicyHistory, revision: number | undefined, json: boolean): string[] {
  const r = pick(h, revision, '--revision');
  if (json) return [JSON.stringify(r.policy, null, 2)];
  const p = r.policy;
  const retired = p.retiredAxes.length
    ? p.retiredAxes.map((a) => `${a.axis} (round ${a.round}: ${a.reason})`).join('; ')
    : '—';
  const hints = p.searchHints;
  const paid = (hints?.directions ?? [])
    .map((d) => `${d.path} ${d.direction} ×${d.stepScale} (paid in rounds ${d.paidRounds.join(', ')})`)
    .join('; ');
  const hintText = hints
    ? `up to ${hints.maxKnobsPerMove} knob(s) per move; ${paid || 'no direction has paid yet'}`
    : '—';
  const combo = p.combination;
  const comboText = combo
    ? `${combo.id}: ` +
      combo.sources
        .map((x) => `${x.candidateId} (${x.axis}, dev ${x.devGain >= 0 ? '+' : ''}${x.devGain})`)
        .join(' + ') +
      ` — ${combo.changes.map((x) => `${x.path} → ${JSON.stringify(x.to)}`).join(', ')}`
    : '—';
  const out = [
    `policy revision ${p.revision} (for round ${p.forRound}) — ${r.proposer}` +
      `${r.round !== null ? `, from round ${r.round}'s evidence ${r.evidenceSha256?.slice(0, 12)}…` : ''}`,
    `sha256             ${r.policySha256}`,
    `objective          ${p.objective}`,
    `active category    ${p.activeCategory}: ${p.activeAxes.join(', ')}`,
    `retired axes       ${retired}`,
    `promotion          threshold ${p.promotionThreshold}; noise dev σ ${p.noiseBand.devStd}, LB σ ` +
      `${p.noiseBand.lbStd} (${p.noiseBand.seeds} seeds, round ${p.noiseBand.round}); anchor seeds ` +
      `${p.anchorSeeds}`,
    `selection          ` +
      `${p.selectionCriterion.kind === 'mean' ? 'mean' : `reweighted ${JSON.stringify(p.selectionCriterion.weights)}`}`,
    `best public LB     ${p.bestPublicLb ?? '—'} (plateau ${p.plateauRounds} round(s))`,
    `LB noise           replicate σ ${p.noiseBand.lbStd} (df ${p.noiseBand.lbDf ?? 0}); paired difference ` +
      `σ ${p.noiseBand.lbDiffStd ?? '—'} (df ${p.noiseBand.lbDiffDf ?? 0}, from confirmation pairs)`,
    `awaiting confirmation:`,
    ...((p.pendingConfirmations ?? []).length
      ? (p.pendingConfirmations ?? []).map(
          (c) =>
            `  - ${c.candidateId} (${c.axis}, LB ${c.lbGain >= 0 ? '+' : ''}${c.lbGain} in round ` +
            `${c.round}): ${c.changes.map((x) => `${x.path} → ${JSON.stringify(x.to)}`).join(', ')}`,
        )
      : ['  (none)']),
    `decoupling hypotheses:`,
    ...((p.decouplingHypotheses ?? []).length
      ? (p.decouplingHypotheses ?? []).map(
          (h) =>
            `  - ${h.id} (${h.domain}): ${h.status}${h.decidedRound ? ` in round ${h.decidedRound}` : ''} ` +
            `— ${h.evidence[h.evidence.length - 1]}`,
        )
      : ['  (none)']),
    `search hints       ${hintText}`,
    `combination        ${comboText}`,
    `Don't waste budget on:`,
    ...(p.deadEnds.length ? p.deadEnds.map((d) => `  - [round ${d.round}] ${d.description}`) : ['  (nothing yet)']),
    `evidence rules:`,
    ...(p.evidenceRules.length
      ? p.evidenceRules.map((e) => `  - ${e.rule} (since round ${e.since}: ${e.reason})`)
      : ['  (none)']),
    `rationale: ${p.rationale}`,
    `standing recipe:`,
    ...YAML.stringify(p.standingRecipe)
      .trimEnd()
      .split('\n')
      .map((l) => `  ${l}`),
  ];
  if (r.changes.length) out.push('changes from the previous revision:', ...r.changes.map((c) => `  - ${c}`));
  return out;
}

/** `aevo policy diff`: the changes between two revisions (default: the last two). */
export function diffPolicy(h: CampaignPolicyHistory, from: number | undefined, to: number | undefined): string[] {
  const b = pick(h, to, '--to');
  const fromRev = from ?? Math.max(0, b.revision - 1);
  const a = pick(h, fromRev, '--from');
  const changes = diffPolicies(a.policy, b.policy);
  return [
    `policy revision ${a.revision} → ${b.revision}: ${changes.length} change(s)`,
    ...changes.map((c) => `  - ${c}`),
  ];
}
