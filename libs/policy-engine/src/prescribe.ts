import {
  canonicalJson,
  type Axis,
  type PrescribedRun,
  type RecipeChange,
  type RecipeDocument,
  type RollingPolicy,
} from '@aevo/contracts';
import { own } from './own';

/**
 * The runs a policy prescribes for its round (decoupling probes, confirmation runs): one home, used by the
 * orchestrator's plan and by every in-process loop that stands in for it.
 */

/** Where a substrate's recipe keeps a domain's mix weight (the first that holds a number is used). */
const MIX_PATHS = (domain: string) => [
  `data.mix.${domain}`,
  `mix.${domain}`,
  `data_mix.${domain}`,
  `mixture.${domain}`,
];

function getPath(doc: unknown, dotted: string): unknown {
  let cur = doc;
  for (const seg of dotted.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = own(cur as Record<string, unknown>, seg);
  }
  return cur;
}

/** A change restated against the standing recipe in force (its `from`); changes already standing drop out. */
export function rebase(changes: readonly RecipeChange[], recipe: RecipeDocument): RecipeChange[] {
  return changes
    .map((c) => {
      const from = getPath(recipe, c.path);
      return from === undefined ? { path: c.path, to: c.to } : { path: c.path, from, to: c.to };
    })
    .filter((c) => canonicalJson(c.from ?? null) !== canonicalJson(c.to));
}

const sig3 = (x: number) => (x === 0 ? 0 : Number(x.toPrecision(3)));
const signed = (x: number) => (x >= 0 ? '+' : '') + x.toFixed(4);

export interface PlannedRun {
  axis: Axis;
  prescribed: PrescribedRun;
}

/**
 * The runs the policy prescribes for a round, in priority order: the probes of every suspected decoupling
 * (a hypothesis is decided only by its probes), then the confirmation of every gain awaiting one, best first,
 * then the combination of last round's independent dev gains.
 */
export function prescribedRuns(policy: RollingPolicy): PlannedRun[] {
  const out: PlannedRun[] = [];
  const standing = policy.standingRecipe;
  for (const h of policy.decouplingHypotheses ?? []) {
    if (h.status !== 'suspected') continue;
    const again = rebase(h.suspectChanges, standing);
    if (again.length > 0)
      out.push({
        axis: h.suspectAxis,
        prescribed: {
          kind: 'probe',
          of: h.id,
          role: 'pro-proxy',
          changes: again,
          hypothesis:
            `decoupling probe (pro-proxy) of ${h.id}: repeat ${h.suspectCandidateId}'s move; ` +
            `if ${h.domain}'s dev is a decoupled proxy it rises again while the public LB does not`,
        },
      });
    const mixPath = MIX_PATHS(h.domain).find(
      (p) => typeof getPath(standing, p) === 'number' && (getPath(standing, p) as number) > 0,
    );
    if (mixPath) {
      const w = getPath(standing, mixPath) as number;
      out.push({
        axis: 'data-mix',
        prescribed: {
          kind: 'probe',
          of: h.id,
          role: 'down-weight',
          changes: [{ path: mixPath, from: w, to: sig3(w / 2) }],
          hypothesis:
            `decoupling probe (down-weight) of ${h.id}: halve ${h.domain}'s mix weight; if its dev is a ` +
            `decoupled proxy, dev falls while the public LB holds`,
        },
      });
    }
  }
  for (const p of policy.pendingConfirmations ?? []) {
    const changes = rebase(p.changes, standing);
    if (changes.length === 0) continue;
    out.push({
      axis: p.axis,
      prescribed: {
        kind: 'confirmation',
        of: p.candidateId,
        changes,
        hypothesis:
          `confirmation run of ${p.candidateId} (${p.axis}, public LB ${signed(p.lbGain)} in ` +
          `round ${p.round}) on another seed`,
      },
    });
  }
  const c = policy.combination;
  if (c) {
    const changes = rebase(c.changes, standing);
    // One lead alone is one explorer's move, already screened on its own: it waits for a second.
    if (c.sources.length >= 2 && changes.length >= 2)
      out.push({
        axis: c.sources[0].axis,
        prescribed: {
          kind: 'combination',
          of: c.id,
          changes,
          hypothesis:
            `combination ${c.id}: the dev gains ` +
            `of ${c.sources.map((s) => `${s.candidateId} (${s.axis}, dev ${signed(s.devGain)})`).join(', ')} trained ` +
            `together; if they are independent, the public LB gains about their sum`,
        },
      });
  }
  return out;
}
