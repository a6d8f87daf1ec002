import { z } from 'zod';
import { Axis, RecipeChange } from './recipe';

/**
 * The research designs the policy schedules besides the workers' own moves: a run whose recipe change is
 * prescribed (no agent chooses it), so that one variable is measured again under controlled conditions.
 *
 * - `confirmation`: re-measures a candidate's LB gain on another training seed before it may be promoted;
 * - `probe`: a single-variable test of a decoupling hypothesis — `pro-proxy` repeats the suspect move (it should
 *   raise dev without the leaderboard), `down-weight` lowers the suspect domain's share (it should lower dev
 *   without hurting the leaderboard);
 * - `combination`: the last round's independent dev gains applied together (a `CombinationPlan`), so that one
 *   leaderboard submission measures what several explorers found — it is screened and confirmed like an explorer.
 */
export const PrescribedRun = z
  .object({
    kind: z.enum(['confirmation', 'probe', 'combination']),
    /**
     * confirmation: the candidate whose gain it re-measures; probe: the id of the hypothesis it tests; combination: the
     * plan's id.
     */
    of: z.string().min(1).max(200),
    role: z.enum(['pro-proxy', 'down-weight']).optional(),
    /** Applied onto the standing recipe, exactly. */
    changes: z.array(RecipeChange).min(1),
    hypothesis: z.string().min(1),
  })
  .strict();
export type PrescribedRun = z.infer<typeof PrescribedRun>;

/** A gain that cleared the promotion bar once and waits for its confirmation run. */
export const PendingConfirmation = z
  .object({
    candidateId: z.string().min(1),
    round: z.number().int().min(1),
    axis: Axis,
    changes: z.array(RecipeChange).min(1),
    lbGain: z.number(),
    devGain: z.number().nullable(),
  })
  .strict();
export type PendingConfirmation = z.infer<typeof PendingConfirmation>;

export const ProbeOutcome = z
  .object({
    candidateId: z.string().min(1),
    role: z.enum(['pro-proxy', 'down-weight']),
    round: z.number().int().min(1),
    /** Differences to the reference (the standing recipe), null when the probe produced no score. */
    devDelta: z.number().nullable(),
    domainDevDelta: z.number().nullable(),
    lbDelta: z.number().nullable(),
    /** What the probe showed: the prediction of the hypothesis held, failed, or could not be judged. */
    verdict: z.enum(['as-predicted', 'contradicts', 'inconclusive']),
  })
  .strict();
export type ProbeOutcome = z.infer<typeof ProbeOutcome>;

/**
 * Decoupling as a hypothesis: the proxy (dev) of one domain stopped tracking the leaderboard. Suspected from a
 * round's evidence, probed by two single-variable runs in the next round, then confirmed or refuted; only a
 * confirmed one changes the objective, the selection criterion and the dead ends.
 */
export const DecouplingHypothesis = z
  .object({
    id: z.string().min(1).max(200),
    domain: z.string().min(1),
    status: z.enum(['suspected', 'probing', 'confirmed', 'refuted']),
    suspectedRound: z.number().int().min(1),
    /** The explorer whose dev gain in the domain did not transfer, and the move it made. */
    suspectCandidateId: z.string().min(1),
    suspectAxis: Axis,
    suspectChanges: z.array(RecipeChange),
    suspectDevDelta: z.number().nullable(),
    suspectLbDelta: z.number().nullable(),
    probes: z.array(ProbeOutcome),
    decidedRound: z.number().int().min(1).nullable(),
    /** One sentence per step (suspected, probed, decided) with the numbers behind it. */
    evidence: z.array(z.string()),
  })
  .strict();
export type DecouplingHypothesis = z.infer<typeof DecouplingHypothesis>;

/**
 * What the policy tells memory-free workers about move sizes: how many knobs one move may combine, and the
 * directions that keep paying (a promoted change continued further), with the factor by which a worker widens
 * its step along them.
 */
export const SearchHints = z
  .object({
    maxKnobsPerMove: z.number().int().min(1).max(4),
    directions: z.array(
      z
        .object({
          path: z.string().min(1),
          direction: z.enum(['increase', 'decrease']),
          /** Rounds whose promotions moved this path this way. */
          paidRounds: z.array(z.number().int().min(1)),
          /** Exponent on a worker's usual step factor along this direction (1: usual size). */
          stepScale: z.number().min(1).max(4),
        })
        .strict(),
    ),
  })
  .strict();
export type SearchHints = z.infer<typeof SearchHints>;

/**
 * The campaign's memory of single-knob moves: every explorer's (and confirmation run's) one-change move, as paired
 * dev and leaderboard differences to its round's anchor, pooled by what it did (path and direction; the value for a
 * categorical one). One observation per
 * round and move (paired runs of one recipe on one seed repeat the same number). Entries of a path that was
 * promoted or became a dead end are dropped: their baseline changed. It ranks moves; it promotes nothing.
 */
export const MoveRecord = z
  .object({
    key: z.string().min(1).max(600),
    path: z.string().min(1),
    direction: z.enum(['increase', 'decrease', 'set']),
    /** The latest observed change (restated later against the standing recipe in force). */
    latest: RecipeChange,
    latestCandidateId: z.string().min(1),
    axis: Axis,
    rounds: z.array(z.number().int().min(1)),
    /** Paired dev gains, one per round, in round order. */
    devGains: z.array(z.number()),
    /**
     * Paired public-LB gains of the move, one per round it was scored in (an explorer's or its confirmation run's),
     * with their rounds: a confirmation is judged on all of them.
     */
    lbRounds: z.array(z.number().int().min(1)),
    lbGains: z.array(z.number()),
  })
  .strict();
export type MoveRecord = z.infer<typeof MoveRecord>;

/**
 * Changes that raised dev beyond the screen, from different explorers and on disjoint paths, to be trained together.
 * A lead found alone waits here (up to COMBINATION_LEAD_ROUNDS rounds) for a second one; with two or more the plan is
 * run next round. Dev decides only what is tried: the combination reaches the standing recipe only through the
 * leaderboard (screened, then confirmed on another seed, like any explorer's gain).
 */
export const CombinationPlan = z
  .object({
    id: z.string().min(1).max(200),
    round: z.number().int().min(1),
    sources: z
      .array(
        z
          .object({
            candidateId: z.string().min(1),
            round: z.number().int().min(1),
            axis: Axis,
            devGain: z.number(),
            /** The source's public-LB gain when it was scored (null: not submitted). */
            lbGain: z.number().nullable(),
            changes: z.array(RecipeChange).min(1),
          })
          .strict(),
      )
      .min(1),
    /** Every source's changes, by path. */
    changes: z.array(RecipeChange).min(1),
    /** The dev screen the sources cleared (paired dev difference to their round's anchor). */
    devScreen: z.number().min(0),
  })
  .strict();
export type CombinationPlan = z.infer<typeof CombinationPlan>;

/**
 * Leaderboard replicates of standing recipes: every anchor's public score, with the recipe it ran. Scores of one
 * recipe differ only by noise, so their within-recipe spread measures the leaderboard's noise (pooled over every
 * recipe the campaign stood on), and the current recipe's mean is the reference when its anchor is not scored.
 */
export const StandingLb = z
  .object({
    /** contentHash of the standing recipe in force. */
    recipeSha256: z.string().regex(/^[0-9a-f]{64}$/),
    scores: z.array(
      z
        .object({
          round: z.number().int().min(1),
          candidateId: z.string().min(1),
          recipeSha256: z.string().regex(/^[0-9a-f]{64}$/),
          score: z.number(),
        })
        .strict(),
    ),
  })
  .strict();
export type StandingLb = z.infer<typeof StandingLb>;
