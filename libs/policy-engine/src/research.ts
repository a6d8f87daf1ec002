import {
  contentHash,
  type CandidateSummary,
  type CombinationPlan,
  type DeadEnd,
  type DecouplingHypothesis,
  type PendingConfirmation,
  type ProbeOutcome,
  type RecipeChange,
  type RollingPolicy,
  type RoundEvidence,
  type SearchHints,
  type StandingLb,
} from '@aevo/contracts';
import { own } from './own';

/**
 * The research designs of the rule engine, pure: which gains wait for a confirmation run, which confirmed gains
 * are promoted together, how a decoupling hypothesis moves from suspected to confirmed or refuted, what the
 * workers are told about move sizes, and the standing recipe's leaderboard replicates.
 */

const r6 = (x: number) => {
  const v = Math.round(x * 1e6) / 1e6;
  return Object.is(v, -0) ? 0 : v;
};
const signed = (x: number | null) => (x === null ? 'n/a' : (x >= 0 ? '+' : '') + x.toFixed(4));

/** At most this many gains wait for confirmation at once (the best first): each takes a worker slot next round. */
export const MAX_PENDING_CONFIRMATIONS = 3;

/**
 * Two stages. A gain is screened for a confirmation run when its one measurement clears SCREEN_SHARE × the bar
 * (scheduling a run decides nothing); it is promoted when the mean of its two independent measurements clears the
 * bar scaled to a mean of two (bar / √2: the same multiple of that mean's noise) and the confirmation itself is a gain.
 */
export const SCREEN_SHARE = 0.5;

export interface ConfirmationOutcome {
  pending: PendingConfirmation;
  run: CandidateSummary | null;
  /** The confirmation run's LB gain over its round's reference; null when it has none. */
  lbGain: number | null;
  confirmed: boolean;
  why: string;
}

/** Judges every pending confirmation of the policy in force against its run in this round. */
export function judgeConfirmations(
  previous: RollingPolicy,
  evidence: RoundEvidence,
  bar: number,
  auditOk: (candidateId: string) => boolean,
): ConfirmationOutcome[] {
  const meanBar = r6(bar / Math.SQRT2);
  return (previous.pendingConfirmations ?? []).map((pending) => {
    const run = evidence.candidateSummaries.find((s) => s.prescribed?.kind === 'confirmation' && s.prescribed.of === pending.candidateId) ?? null;
    if (!run) return { pending, run, lbGain: null, confirmed: false, why: 'no confirmation run was planned (no free worker slot)' };
    if (run.status !== 'completed') return { pending, run, lbGain: null, confirmed: false, why: `its confirmation run ${run.candidateId} ${run.status}` };
    if (!auditOk(run.candidateId)) return { pending, run, lbGain: null, confirmed: false, why: `its confirmation run ${run.candidateId} failed the audit` };
    if (run.lbDelta === null) return { pending, run, lbGain: null, confirmed: false, why: `its confirmation run ${run.candidateId} got no leaderboard score` };
    const both = r6((pending.lbGain + run.lbDelta) / 2);
    const confirmed = run.lbDelta > 0 && both > meanBar;
    const measured = `LB ${signed(run.lbDelta)} on seed ${run.seeds[0]}, mean of both measurements ${signed(both)}`;
    return {
      pending,
      run,
      lbGain: run.lbDelta,
      confirmed,
      why: confirmed
        ? `confirmed by ${run.candidateId}: ${measured} > ${meanBar} (bar / √2)`
        : `not confirmed by ${run.candidateId}: ${measured}${run.lbDelta <= 0 ? ' (no gain the second time)' : ` ≤ ${meanBar} (bar / √2)`}`,
    };
  });
}

/**
 * Confirmed gains promoted together: best mean of the two measurements first, each taken only when none of its
 * paths is already changed by one taken before (independent changes stack; the next anchor re-measures the whole).
 */
export function stackPromotions(outcomes: readonly ConfirmationOutcome[]): ConfirmationOutcome[] {
  const confirmed = outcomes
    .filter((o) => o.confirmed)
    .sort((a, b) => (b.pending.lbGain + (b.lbGain ?? 0)) / 2 - (a.pending.lbGain + (a.lbGain ?? 0)) / 2 || a.pending.candidateId.localeCompare(b.pending.candidateId));
  const taken: ConfirmationOutcome[] = [];
  const paths = new Set<string>();
  const overlaps = (p: string) => [...paths].some((q) => p === q || p.startsWith(`${q}.`) || q.startsWith(`${p}.`));
  for (const o of confirmed) {
    if (o.pending.changes.some((c) => overlaps(c.path))) continue;
    o.pending.changes.forEach((c) => paths.add(c.path));
    taken.push(o);
  }
  return taken;
}

/** The next round's pending confirmations: this round's explorer gains above the bar, best first. */
export function nextPending(eligible: ReadonlyArray<{ candidateId: string; lbGain: number; changes: RecipeChange[] }>, evidence: RoundEvidence): PendingConfirmation[] {
  return eligible.slice(0, MAX_PENDING_CONFIRMATIONS).map((e) => {
    const s = evidence.candidateSummaries.find((c) => c.candidateId === e.candidateId);
    return { candidateId: e.candidateId, round: evidence.round, axis: s?.axis ?? 'baseline', changes: e.changes, lbGain: e.lbGain, devGain: s?.devDelta ?? null };
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Decoupling hypotheses

export type HypothesisStep = { type: 'DecouplingSuspected' | 'DecouplingProbed' | 'DecouplingConfirmed' | 'DecouplingRefuted'; hypothesis: DecouplingHypothesis };

export interface HypothesisRound {
  hypotheses: DecouplingHypothesis[];
  steps: HypothesisStep[];
  /** Hypotheses confirmed in this round. */
  confirmedNow: DecouplingHypothesis[];
}

const hypothesisId = (round: number, domain: string) => `decoupling-r${round}-${domain}`;

function probeVerdict(
  role: ProbeOutcome['role'],
  domainDevDelta: number | null,
  lbDelta: number | null,
  domainSigma: number,
  multiple: number,
  bar: number,
): ProbeOutcome['verdict'] {
  if (domainDevDelta === null || lbDelta === null) return 'inconclusive';
  if (role === 'pro-proxy') {
    // The suspect move again: dev of the domain should rise beyond its noise while the LB does not.
    if (lbDelta > bar || domainDevDelta <= 0) return 'contradicts';
    return domainDevDelta > multiple * domainSigma ? 'as-predicted' : 'inconclusive';
  }
  // Less of the domain: its dev should fall while the LB is not hurt.
  if (lbDelta < -bar) return 'contradicts';
  return domainDevDelta < 0 ? 'as-predicted' : 'inconclusive';
}

/**
 * Moves each hypothesis one step: probes scored this round decide a suspected hypothesis (both as predicted →
 * confirmed; any contradiction → refuted; inconclusive → probed again once, then refuted as not borne out), and
 * this round's proxy-decoupling flags open new hypotheses for domains without an open or confirmed one.
 */
export function advanceHypotheses(previous: RollingPolicy, evidence: RoundEvidence, bar: number): HypothesisRound {
  const round = evidence.round;
  const noise = evidence.calibration.noise;
  const multiple = noise.multiple;
  const anchor = evidence.candidateSummaries.find((s) => s.candidateId === evidence.anchorCandidateId);
  const steps: HypothesisStep[] = [];
  const confirmedNow: DecouplingHypothesis[] = [];
  const hypotheses: DecouplingHypothesis[] = [];

  for (const h0 of previous.decouplingHypotheses ?? []) {
    if (h0.status !== 'suspected' && h0.status !== 'probing') {
      hypotheses.push(h0);
      continue;
    }
    const runs = evidence.candidateSummaries.filter((s) => s.prescribed?.kind === 'probe' && s.prescribed.of === h0.id);
    if (runs.length === 0) {
      // Never probed (no free slot): a hypothesis nobody can test for two rounds is dropped as untested.
      if (round - h0.suspectedRound >= 2) {
        const h = { ...h0, status: 'refuted' as const, decidedRound: round, evidence: [...h0.evidence, `round ${round}: never probed (no free worker slot); dropped untested`] };
        hypotheses.push(h);
        steps.push({ type: 'DecouplingRefuted', hypothesis: h });
      } else hypotheses.push(h0);
      continue;
    }
    const sigma = own(noise.domainDevStd, h0.domain) ?? Math.max(noise.devStd, noise.floor);
    const outcomes: ProbeOutcome[] = runs.map((s) => {
      const role = s.prescribed?.role ?? 'pro-proxy';
      const d = own(s.dev?.domains, h0.domain);
      const a = own(anchor?.dev?.domains, h0.domain);
      const domainDevDelta = s.status === 'completed' && d !== undefined && a !== undefined ? r6(d - a) : null;
      const lbDelta = s.status === 'completed' ? s.lbDelta : null;
      return {
        candidateId: s.candidateId,
        role,
        round,
        devDelta: s.status === 'completed' ? s.devDelta : null,
        domainDevDelta,
        lbDelta,
        verdict: probeVerdict(role, domainDevDelta, lbDelta, sigma, multiple, bar),
      };
    });
    const line = outcomes
      .map((o) => `${o.role} ${o.candidateId}: ${h0.domain} dev ${signed(o.domainDevDelta)}, LB ${signed(o.lbDelta)} → ${o.verdict}`)
      .join('; ');
    const probed: DecouplingHypothesis = { ...h0, status: 'probing', probes: [...h0.probes, ...outcomes], evidence: [...h0.evidence, `round ${round}: ${line}`] };
    steps.push({ type: 'DecouplingProbed', hypothesis: probed });
    const roles = new Map(outcomes.map((o) => [o.role, o.verdict]));
    let decided: DecouplingHypothesis | null = null;
    if (outcomes.some((o) => o.verdict === 'contradicts'))
      decided = { ...probed, status: 'refuted', decidedRound: round, evidence: [...probed.evidence, `round ${round}: refuted — a probe contradicted the prediction`] };
    else if (roles.get('pro-proxy') === 'as-predicted' && roles.get('down-weight') === 'as-predicted')
      decided = {
        ...probed,
        status: 'confirmed',
        decidedRound: round,
        evidence: [...probed.evidence, `round ${round}: confirmed — the suspect move raised ${h0.domain} dev without the LB, and less ${h0.domain} lowered dev without hurting the LB`],
      };
    else if (h0.probes.length > 0)
      decided = { ...probed, status: 'refuted', decidedRound: round, evidence: [...probed.evidence, `round ${round}: not borne out after two probe rounds`] };
    if (decided) {
      steps.push({ type: decided.status === 'confirmed' ? 'DecouplingConfirmed' : 'DecouplingRefuted', hypothesis: decided });
      if (decided.status === 'confirmed') confirmedNow.push(decided);
      hypotheses.push(decided);
    } else hypotheses.push({ ...probed, status: 'suspected' });
  }

  // New suspicions from this round's flags: a domain whose dev gain stands out of the suspect's other domains (a
  // gain spread evenly over every domain says nothing about one domain's proxy). One hypothesis per domain; a
  // probe's own flag is its verdict, not a new suspicion.
  // A suspicion needs measured dev noise: against a floor, a domain's 100-row sampling noise looks like a signal.
  const pd = evidence.calibration.proxyDecoupling;
  if (pd.flagged && anchor?.dev && noise.devDf > 0) {
    const covered = new Set(hypotheses.filter((h) => h.status !== 'refuted').map((h) => h.domain));
    const flaggedDomains = new Set(pd.domains);
    const suspects = pd.candidates
      .map((id) => evidence.candidateSummaries.find((c) => c.candidateId === id))
      .filter((s): s is CandidateSummary => !!s && !s.prescribed && s.recipeChanges.length > 0 && s.dev !== null);
    for (const s of suspects) {
      const gains = Object.keys(anchor.dev.domains)
        .filter((d) => own(s.dev?.domains, d) !== undefined)
        .map((d) => ({ d, g: (own(s.dev?.domains, d) as number) - (own(anchor.dev?.domains, d) as number) }))
        .sort((a, b) => b.g - a.g || a.d.localeCompare(b.d));
      if (gains.length < 2) continue;
      const top = gains[0];
      const rest = gains.slice(1).reduce((a, b) => a + b.g, 0) / (gains.length - 1);
      const sigma = own(noise.domainDevStd, top.d) ?? Math.max(noise.devStd, noise.floor);
      if (!flaggedDomains.has(top.d) || covered.has(top.d) || top.g - rest <= multiple * sigma) continue;
      const h: DecouplingHypothesis = {
        id: hypothesisId(round, top.d),
        domain: top.d,
        status: 'suspected',
        suspectedRound: round,
        suspectCandidateId: s.candidateId,
        suspectAxis: s.axis,
        suspectChanges: s.recipeChanges,
        suspectDevDelta: s.devDelta,
        suspectLbDelta: s.lbDelta,
        probes: [],
        decidedRound: null,
        evidence: [
          `round ${round}: ${s.candidateId} (${s.axis}) raised ${top.d} dev by ${signed(r6(top.g))} (other domains ${signed(r6(rest))} on average; overall ${signed(s.devDelta)}) while the public LB moved ${signed(s.lbDelta)}; probes scheduled for round ${round + 1}`,
        ],
      };
      covered.add(top.d);
      hypotheses.push(h);
      steps.push({ type: 'DecouplingSuspected', hypothesis: h });
    }
  }
  return { hypotheses, steps, confirmedNow };
}

// ---------------------------------------------------------------------------------------------------------------
// Combinations of independent dev gains

/** At most this many explorers' changes are trained together in one combination run. */
export const MAX_COMBINED_SOURCES = 4;
/** A dev lead waits this many rounds for a second one, then is dropped (its round's standing recipe is stale). */
export const COMBINATION_LEAD_ROUNDS = 3;

const pathsOverlap = (p: string, q: string) => p === q || p.startsWith(`${q}.`) || q.startsWith(`${p}.`);
type Lead = CombinationPlan['sources'][number];

/**
 * The combination to train next round. Leads: explorers of this round whose paired dev gain over the anchor clears
 * `devScreen` — none whose leaderboard score (when it has one) fell below the anchor, none that repeats a dead end —
 * and the leads of the plan in force that were not run this round (a lone lead waits for a second, for
 * COMBINATION_LEAD_ROUNDS rounds). Best dev gain first, each taken only when its paths are disjoint from those taken
 * before, at most MAX_COMBINED_SOURCES, restated against the next standing recipe (changes already standing drop
 * out). With two leads or more the next round runs them as one prescribed run; one alone waits. Dev chooses what
 * is tried; only the leaderboard promotes it.
 */
export function nextCombination(
  previous: RollingPolicy,
  evidence: RoundEvidence,
  devScreen: number,
  auditOk: (candidateId: string) => boolean,
  deadEnds: readonly DeadEnd[],
  rebase: (changes: readonly RecipeChange[]) => RecipeChange[],
): CombinationPlan | null {
  const repeatsDeadEnd = (c: RecipeChange) =>
    deadEnds.some((d) => d.path !== undefined && d.path === c.path && (d.direction === undefined || d.direction === changeDirection(c)));
  const fresh: Lead[] = evidence.candidateSummaries
    .filter(
      (s) =>
        !s.isAnchor &&
        !s.prescribed &&
        s.status === 'completed' &&
        s.devDelta !== null &&
        s.devDelta > devScreen &&
        (s.lbDelta === null || s.lbDelta >= 0) &&
        s.recipeChanges.length > 0 &&
        auditOk(s.candidateId),
    )
    .map((s) => ({ candidateId: s.candidateId, round: evidence.round, axis: s.axis, devGain: r6(s.devDelta as number), lbGain: s.lbDelta === null ? null : r6(s.lbDelta), changes: s.recipeChanges }));
  const prior = previous.combination;
  const ran = prior ? evidence.candidateSummaries.some((s) => s.prescribed?.kind === 'combination' && s.prescribed.of === prior.id) : false;
  const waiting = prior && !ran ? prior.sources.filter((l) => evidence.round - l.round < COMBINATION_LEAD_ROUNDS) : [];
  const leads = [...fresh, ...waiting]
    .filter((l) => !l.changes.some(repeatsDeadEnd))
    .sort((a, b) => b.devGain - a.devGain || b.round - a.round || a.candidateId.localeCompare(b.candidateId));
  const taken: Lead[] = [];
  const changes: RecipeChange[] = [];
  for (const l of leads) {
    if (taken.length >= MAX_COMBINED_SOURCES) break;
    if (l.changes.some((c) => changes.some((t) => pathsOverlap(c.path, t.path)))) continue;
    const restated = rebase(l.changes);
    if (restated.length === 0) continue; // already standing
    taken.push({ ...l, changes: restated });
    changes.push(...restated);
  }
  if (taken.length === 0) return null;
  return {
    id: `combination-r${evidence.round}`,
    round: evidence.round,
    sources: taken,
    changes: [...changes].sort((a, b) => a.path.localeCompare(b.path)),
    devScreen: r6(devScreen),
  };
}

function changeDirection(c: RecipeChange): DeadEnd['direction'] {
  if (typeof c.from === 'number' && typeof c.to === 'number') return c.to > c.from ? 'increase' : c.to < c.from ? 'decrease' : 'set';
  if (typeof c.from === 'boolean' && typeof c.to === 'boolean') return c.to ? 'increase' : 'decrease';
  return 'set';
}

// ---------------------------------------------------------------------------------------------------------------
// Search hints and leaderboard replicates

/** Directions that paid: each promoted numeric change continues its direction; a second payment widens the step. */
export function nextSearchHints(previous: RollingPolicy, promoted: readonly RecipeChange[], round: number, plateauRounds: number, deadPaths: readonly string[]): SearchHints {
  const directions = (previous.searchHints?.directions ?? []).map((d) => ({ ...d, paidRounds: [...d.paidRounds] }));
  for (const c of promoted) {
    if (typeof c.from !== 'number' || typeof c.to !== 'number' || c.from === c.to) continue;
    const direction = c.to > c.from ? ('increase' as const) : ('decrease' as const);
    const i = directions.findIndex((d) => d.path === c.path);
    if (i >= 0 && directions[i].direction === direction) {
      if (!directions[i].paidRounds.includes(round)) directions[i].paidRounds.push(round);
      directions[i].stepScale = Math.min(4, directions[i].paidRounds.length);
    } else if (i >= 0) directions[i] = { path: c.path, direction, paidRounds: [round], stepScale: 1 };
    else directions.push({ path: c.path, direction, paidRounds: [round], stepScale: 1 });
  }
  // A direction that ran into a dead end stops paying.
  const kept = directions.filter((d) => !deadPaths.includes(d.path)).sort((a, b) => a.path.localeCompare(b.path));
  // On a plateau, a move may combine its axis's change with a direction that paid.
  const maxKnobsPerMove = plateauRounds >= 1 && kept.length > 0 ? 2 : 1;
  return { maxKnobsPerMove, directions: kept };
}

/** The standing recipe's replicates after this round: the anchor's public score joins those of the recipe it ran. */
export function nextStandingLb(previous: RollingPolicy, evidence: RoundEvidence, standingRecipeNext: RollingPolicy['standingRecipe']): StandingLb {
  const seen = new Set((previous.standingLb?.scores ?? []).map((x) => x.candidateId));
  const added = (evidence.calibration.noise.lbReplicatesAdded ?? []).filter((x) => !seen.has(x.candidateId));
  return { recipeSha256: contentHash(standingRecipeNext), scores: [...(previous.standingLb?.scores ?? []), ...added] };
}
