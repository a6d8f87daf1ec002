import {
  contentHash,
  type CandidateSummary,
  type CombinationPlan,
  type DeadEnd,
  type MoveRecord,
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
    const run =
      evidence.candidateSummaries.find(
        (s) => s.prescribed?.kind === 'confirmation' && s.prescribed.of === pending.candidateId,
      ) ?? null;
    if (!run)
      return {
        pending,
        run,
        lbGain: null,
        confirmed: false,
        why: 'no confirmation run was planned (no free worker slot)',
      };
    if (run.status !== 'completed')
      return {
        pending,
        run,
        lbGain: null,
        confirmed: false,
        why: `its confirmation run ${run.candidateId} ${run.status}`,
      };
    if (!auditOk(run.candidateId))
      return {
        pending,
        run,
        lbGain: null,
        confirmed: false,
        why: `its confirmation run ${run.candidateId} failed the audit`,
      };
    if (run.lbDelta === null)
      return {
        pending,
        run,
        lbGain: null,
        confirmed: false,
        why: `its confirmation run ${run.candidateId} got no leaderboard score`,
      };
    // Every LB measurement of the same single-knob move in this campaign counts (the ledger's, the pending one's, this
    // run's); the bar for a mean of n is bar / √n, the same multiple of that mean's noise.
    const record =
      pending.changes.length === 1
        ? (previous.moveLedger ?? []).find((m) => m.key === moveKey(pending.changes[0]))
        : undefined;
    const earlier = record
      ? record.lbRounds.map((r, i) => ({ r, g: record.lbGains[i] })).filter((x) => x.r !== evidence.round)
      : [];
    if (!earlier.some((x) => x.r === pending.round)) earlier.push({ r: pending.round, g: pending.lbGain });
    const all = [...earlier.map((x) => x.g), run.lbDelta];
    const n = all.length;
    const mean = r6(all.reduce((a, x) => a + x, 0) / n);
    const nBar = r6(bar / Math.sqrt(n));
    const confirmed = run.lbDelta > 0 && mean > nBar;
    const measured = `LB ${signed(run.lbDelta)} on seed ${run.seeds[0]}, mean of ${n === 2 ? 'both measurements' : `${n} measurements of the move`} ${signed(mean)}`;
    const barText = n === 2 ? `${meanBar} (bar / √2)` : `${nBar} (bar / √${n})`;
    return {
      pending,
      run,
      lbGain: run.lbDelta,
      confirmed,
      why: confirmed
        ? `confirmed by ${run.candidateId}: ${measured} > ${barText}`
        : `not confirmed by ${run.candidateId}: ${measured}${run.lbDelta <= 0 ? ' (no gain the second time)' : ` ≤ ${barText}`}`,
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
    .sort(
      (a, b) =>
        (b.pending.lbGain + (b.lbGain ?? 0)) / 2 - (a.pending.lbGain + (a.lbGain ?? 0)) / 2 ||
        a.pending.candidateId.localeCompare(b.pending.candidateId),
    );
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
export function nextPending(
  eligible: ReadonlyArray<{ candidateId: string; lbGain: number; changes: RecipeChange[] }>,
  evidence: RoundEvidence,
): PendingConfirmation[] {
  return eligible.slice(0, MAX_PENDING_CONFIRMATIONS).map((e) => {
    const s = evidence.candidateSummaries.find((c) => c.candidateId === e.candidateId);
    return {
      candidateId: e.candidateId,
      round: evidence.round,
      axis: s?.axis ?? 'baseline',
      changes: e.changes,
      lbGain: e.lbGain,
      devGain: s?.devDelta ?? null,
    };
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Decoupling hypotheses

export type HypothesisStep = {
  type: 'DecouplingSuspected' | 'DecouplingProbed' | 'DecouplingConfirmed' | 'DecouplingRefuted';
  hypothesis: DecouplingHypothesis;
};

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
        const h = {
          ...h0,
          status: 'refuted' as const,
          decidedRound: round,
          evidence: [...h0.evidence, `round ${round}: never probed (no free worker slot); dropped untested`],
        };
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
      .map(
        (o) =>
          `${o.role} ${o.candidateId}: ${h0.domain} dev ${signed(o.domainDevDelta)}, LB ${signed(o.lbDelta)} → ${o.verdict}`,
      )
      .join('; ');
    const probed: DecouplingHypothesis = {
      ...h0,
      status: 'probing',
      probes: [...h0.probes, ...outcomes],
      evidence: [...h0.evidence, `round ${round}: ${line}`],
    };
    steps.push({ type: 'DecouplingProbed', hypothesis: probed });
    const roles = new Map(outcomes.map((o) => [o.role, o.verdict]));
    let decided: DecouplingHypothesis | null = null;
    if (outcomes.some((o) => o.verdict === 'contradicts'))
      decided = {
        ...probed,
        status: 'refuted',
        decidedRound: round,
        evidence: [...probed.evidence, `round ${round}: refuted — a probe contradicted the prediction`],
      };
    else if (roles.get('pro-proxy') === 'as-predicted' && roles.get('down-weight') === 'as-predicted')
      decided = {
        ...probed,
        status: 'confirmed',
        decidedRound: round,
        evidence: [
          ...probed.evidence,
          `round ${round}: confirmed — the suspect move raised ${h0.domain} dev without the LB, and less ${h0.domain} lowered dev without hurting the LB`,
        ],
      };
    else if (h0.probes.length > 0)
      decided = {
        ...probed,
        status: 'refuted',
        decidedRound: round,
        evidence: [...probed.evidence, `round ${round}: not borne out after two probe rounds`],
      };
    if (decided) {
      steps.push({
        type: decided.status === 'confirmed' ? 'DecouplingConfirmed' : 'DecouplingRefuted',
        hypothesis: decided,
      });
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

/** At most this many moves are trained together in one combination run. */
export const MAX_COMBINED_SOURCES = 4;

const pathsOverlap = (p: string, q: string) => p === q || p.startsWith(`${q}.`) || q.startsWith(`${p}.`);
const moveKey = (c: RecipeChange) => {
  const d = changeDirection(c);
  return d === 'set' ? `${c.path}|set|${JSON.stringify(c.to)}` : `${c.path}|${d}`;
};

/** Mean and standard error of a move's paired dev gains (se null with fewer than two rounds). */
export function moveStats(m: MoveRecord): { mean: number; se: number | null } {
  const n = m.devGains.length;
  if (n === 0) return { mean: 0, se: null };
  const mean = m.devGains.reduce((a, x) => a + x, 0) / n;
  if (n < 2) return { mean, se: null };
  const sd = Math.sqrt(m.devGains.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1));
  return { mean, se: sd / Math.sqrt(n) };
}

/**
 * The ledger after a round: each completed, audited explorer's one-change move adds its paired dev gain (one per
 * round and move); entries on a path that was promoted or became a dead end, and those of a combination the
 * leaderboard contradicted, are dropped.
 */
export function nextMoveLedger(
  previous: RollingPolicy,
  evidence: RoundEvidence,
  auditOk: (candidateId: string) => boolean,
  promotedPaths: readonly string[],
  deadEnds: readonly DeadEnd[],
): MoveRecord[] {
  // Copies: the policy in force is never changed in place.
  const ledger = new Map(
    (previous.moveLedger ?? []).map((m) => [
      m.key,
      { ...m, rounds: [...m.rounds], devGains: [...m.devGains], lbRounds: [...m.lbRounds], lbGains: [...m.lbGains] },
    ]),
  );
  for (const s of [...evidence.candidateSummaries].sort((x, y) => x.index - y.index)) {
    const confirmation = s.prescribed?.kind === 'confirmation';
    if (
      s.isAnchor ||
      (s.prescribed && !confirmation) ||
      s.status !== 'completed' ||
      s.recipeChanges.length !== 1 ||
      !auditOk(s.candidateId)
    )
      continue;
    const c = s.recipeChanges[0];
    const key = moveKey(c);
    const m: MoveRecord = ledger.get(key) ?? {
      key,
      path: c.path,
      direction: changeDirection(c),
      latest: c,
      latestCandidateId: s.candidateId,
      axis: s.axis,
      rounds: [],
      devGains: [],
      lbRounds: [],
      lbGains: [],
    };
    // The same move on the same seed again is the same measurement: one per round.
    if (s.lbDelta !== null && !m.lbRounds.includes(evidence.round)) {
      m.lbRounds.push(evidence.round);
      m.lbGains.push(r6(s.lbDelta));
    }
    if (s.devDelta !== null && !m.rounds.includes(evidence.round)) {
      m.rounds.push(evidence.round);
      m.devGains.push(r6(s.devDelta));
    }
    if (m.rounds.length === 0 && m.lbRounds.length === 0) continue;
    if (confirmation) {
      ledger.set(key, m);
      continue; // an explorer's move stays the one a combination restates
    }
    m.latest = c;
    m.latestCandidateId = s.candidateId;
    m.axis = s.axis;
    ledger.set(key, m);
  }
  const combo = previous.combination;
  const contradicted = combo
    ? evidence.candidateSummaries.some(
        (s) =>
          s.prescribed?.kind === 'combination' && s.prescribed.of === combo.id && s.lbDelta !== null && s.lbDelta <= 0,
      )
    : false;
  const contradictedPaths = contradicted && combo ? combo.changes.map((c) => c.path) : [];
  const stale = (p: string) =>
    [...promotedPaths, ...contradictedPaths].some((q) => pathsOverlap(p, q)) ||
    deadEnds.some((d) => d.path !== undefined && pathsOverlap(d.path, p));
  return [...ledger.values()].filter((m) => !stale(m.path)).sort((x, y) => x.key.localeCompare(y.key));
}

/**
 * The combination to train next round, from the move ledger: moves measured in two rounds or more whose mean paired
 * dev gain clears `devScreen` and stays above zero by one standard error, best lower bound first, each taken only
 * when its path is disjoint from those taken before, at most MAX_COMBINED_SOURCES, restated against the next standing
 * recipe (changes already standing drop out). Two moves at least; none while a combination's gain awaits its
 * confirmation. Dev chooses what is tried; only the leaderboard promotes it.
 */
export function nextCombination(
  ledger: readonly MoveRecord[],
  round: number,
  devScreen: number,
  pending: readonly PendingConfirmation[],
  rebase: (changes: readonly RecipeChange[]) => RecipeChange[],
  isCombination: (candidateId: string) => boolean,
): CombinationPlan | null {
  if (pending.some((p) => isCombination(p.candidateId))) return null;
  const leads = ledger
    .map((m) => ({ m, ...moveStats(m) }))
    .filter((x) => x.se !== null && x.mean > devScreen && x.mean - (x.se as number) > 0)
    .sort((a, b) => b.mean - (b.se as number) - (a.mean - (a.se as number)) || a.m.key.localeCompare(b.m.key));
  const taken: CombinationPlan['sources'] = [];
  const changes: RecipeChange[] = [];
  for (const { m, mean } of leads) {
    if (taken.length >= MAX_COMBINED_SOURCES) break;
    if (changes.some((t) => pathsOverlap(m.path, t.path))) continue;
    const restated = rebase([m.latest]);
    if (restated.length === 0) continue; // already standing
    taken.push({
      candidateId: m.latestCandidateId,
      round: m.rounds[m.rounds.length - 1],
      axis: m.axis,
      devGain: r6(mean),
      lbGain: null,
      changes: restated,
    });
    changes.push(...restated);
  }
  if (taken.length < 2) return null;
  return {
    id: `combination-r${round}`,
    round,
    sources: taken,
    changes: [...changes].sort((a, b) => a.path.localeCompare(b.path)),
    devScreen: r6(devScreen),
  };
}

function changeDirection(c: RecipeChange): 'increase' | 'decrease' | 'set' {
  if (typeof c.from === 'number' && typeof c.to === 'number')
    return c.to > c.from ? 'increase' : c.to < c.from ? 'decrease' : 'set';
  if (typeof c.from === 'boolean' && typeof c.to === 'boolean') return c.to ? 'increase' : 'decrease';
  return 'set';
}

// ---------------------------------------------------------------------------------------------------------------
// Search hints and leaderboard replicates

/** Directions that paid: each promoted numeric change continues its direction; a second payment widens the step. */
export function nextSearchHints(
  previous: RollingPolicy,
  promoted: readonly RecipeChange[],
  round: number,
  plateauRounds: number,
  deadPaths: readonly string[],
): SearchHints {
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
export function nextStandingLb(
  previous: RollingPolicy,
  evidence: RoundEvidence,
  standingRecipeNext: RollingPolicy['standingRecipe'],
): StandingLb {
  const seen = new Set((previous.standingLb?.scores ?? []).map((x) => x.candidateId));
  const added = (evidence.calibration.noise.lbReplicatesAdded ?? []).filter((x) => !seen.has(x.candidateId));
  return { recipeSha256: contentHash(standingRecipeNext), scores: [...(previous.standingLb?.scores ?? []), ...added] };
}
