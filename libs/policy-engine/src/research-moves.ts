import {
  contentHash,
  type CombinationPlan,
  type DeadEnd,
  type MoveRecord,
  type PendingConfirmation,
  type RecipeChange,
  type RollingPolicy,
  type RoundEvidence,
  type SearchHints,
  type StandingLb,
} from '@aevo/contracts';
import { changeDirection, moveKey, r6 } from './research-shared';

/* Combinations of independent dev gains, the search hints workers are told, and the standing recipe's LB replicates. */

/** At most this many moves are trained together in one combination run. */
export const MAX_COMBINED_SOURCES = 4;

const pathsOverlap = (p: string, q: string) => p === q || p.startsWith(`${q}.`) || q.startsWith(`${p}.`);

/** How far a numeric change steps (log ratio; from 0, the value reached): compared between steps of one move only. */
function stepSize(c: RecipeChange): number {
  if (typeof c.from !== 'number' || typeof c.to !== 'number') return 0;
  return c.from !== 0 && c.to / c.from > 0 ? Math.abs(Math.log(c.to / c.from)) : Math.abs(c.to - c.from);
}

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
 * A dev gain the leaderboard contradicts (a dev-chasing move: synthetic rows of the dev-style domain, say): its
 * public-LB gains, measured against the same anchors, average below −devScreen, or, measured twice or more, at or
 * below zero.
 * One LB measurement near zero is noise (its difference σ is about twice the dev screen) and contradicts nothing.
 * Such a move leads nowhere: no explorers follow it, no step grows along it, no combination restates it.
 */
export function lbContradicts(m: MoveRecord, devScreen: number): boolean {
  const n = m.lbGains.length;
  if (n === 0) return false;
  const mean = m.lbGains.reduce((a, x) => a + x, 0) / n;
  return mean < -devScreen || (n >= 2 && mean <= 0);
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
  devScreen?: number,
): MoveRecord[] {
  // Copies: the policy in force is never changed in place.
  const ledger = new Map(
    (previous.moveLedger ?? []).map((m) => [
      m.key,
      { ...m, rounds: [...m.rounds], devGains: [...m.devGains], lbRounds: [...m.lbRounds], lbGains: [...m.lbGains] },
    ]),
  );
  const thisRound = new Map<string, { held: boolean; size: number }>();
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
    // With a screen, a step that did not hold (a widened one, say) does not replace the last one that did: the
    // combination restates the largest step whose dev gain held. Two steps of one move in a round (the round's
    // explorers of an axis take distinct steps along a lead): the further one that held (the later of equal ones).
    const dHeld = devScreen === undefined || (s.devDelta !== null && s.devDelta > devScreen);
    const earlier = thisRound.get(key);
    const held = earlier ? dHeld && (!earlier.held || stepSize(c) >= earlier.size) : !ledger.has(key) || dHeld;
    if (held) {
      m.latest = c;
      m.latestCandidateId = s.candidateId;
      m.axis = s.axis;
      thisRound.set(key, { held: dHeld, size: stepSize(c) });
    } else if (!earlier) thisRound.set(key, { held: false, size: 0 });
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
 * recipe (changes already standing drop out), none the leaderboard contradicts (`lbContradicts`). Two moves at least;
 * none while a combination's gain awaits its confirmation. Dev chooses what is tried; only the leaderboard promotes it.
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
    .filter((m) => !lbContradicts(m, devScreen))
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

// Search hints and leaderboard replicates

/**
 * Directions that paid: each promoted numeric change continues its direction; a second payment widens the step.
 * `leads` (directions of the move ledger's leads, no promotion behind them: `paidRounds` empty) join them for one
 * round — they are recomputed from the ledger every revision — and on a promoted path the larger step wins.
 */
export function nextSearchHints(
  previous: RollingPolicy,
  promoted: readonly RecipeChange[],
  round: number,
  plateauRounds: number,
  deadPaths: readonly string[],
  leads: SearchHints['directions'] = [],
): SearchHints {
  // Only promoted directions carry over, at the scale their payments earned.
  const directions = (previous.searchHints?.directions ?? [])
    .filter((d) => d.paidRounds.length > 0)
    .map((d) => ({ ...d, paidRounds: [...d.paidRounds], stepScale: Math.min(4, d.paidRounds.length) }));
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
  const kept = directions.filter((d) => !deadPaths.includes(d.path));
  // On a plateau, a move may combine its axis's change with a direction that paid (promoted ones only: a lead is
  // still being measured, one knob at a time).
  const maxKnobsPerMove = plateauRounds >= 1 && kept.length > 0 ? 2 : 1;
  for (const l of leads) {
    if (deadPaths.includes(l.path)) continue;
    const i = kept.findIndex((d) => d.path === l.path);
    if (i < 0) kept.push({ ...l, paidRounds: [...l.paidRounds] });
    else if (kept[i].direction === l.direction) kept[i].stepScale = Math.max(kept[i].stepScale, l.stepScale);
    else kept[i] = { ...l, paidRounds: [...l.paidRounds] }; // the ledger measures the standing recipe of now
  }
  return { maxKnobsPerMove, directions: kept.sort((a, b) => a.path.localeCompare(b.path)) };
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
