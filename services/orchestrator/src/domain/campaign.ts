import {
  claudeModelProblem,
  contentHash,
  DEFAULT_CLAUDE_MODEL,
  DomainError,
  type CampaignConfig,
  type Decider,
  type RollingPolicy,
} from '@aevo/contracts';
import { initialPolicy } from '@aevo/policy-engine';
import { revisionFromRound, spentOf, type CampaignFacts } from './facts';
import { planRound, roundSeed } from './planning';
import { chooseSubmissions, exhaustedBudgets, isCandidateDone } from './selection';
import {
  evolve,
  initialCampaignState,
  type AbortCampaignCommand,
  type AdvanceCommand,
  type CampaignCommand,
  type CampaignEvent,
  type CampaignState,
  type PauseCampaignCommand,
  type ResumeCampaignCommand,
  type StartCampaignCommand,
  type StartRoundCommand,
} from './campaign-state';

export * from './campaign-state';

/** The campaign's decisions: each command's rules, over the state folded from the campaign stream. */
export function decide(command: CampaignCommand, state: CampaignState): CampaignEvent[] {
  switch (command.type) {
    case 'StartCampaign':
      return startCampaign(command, state);
    case 'StartRound':
      return startRound(command, state);
    case 'PauseCampaign':
      return pause(command, state);
    case 'ResumeCampaign':
      return resume(command, state);
    case 'AbortCampaign':
      return abort(command, state);
    case 'Advance':
      return advance(command, state);
  }
}

function startCampaign(cmd: StartCampaignCommand, state: CampaignState): CampaignEvent[] {
  const { config, constitution } = cmd;
  if (state.status !== 'none')
    throw new DomainError('CAMPAIGN_EXISTS', `campaign ${config.campaignId} was already started`, [
      { path: 'payload.campaignId', message: 'already in use' },
    ]);
  const cap = constitution.rules.maxSubmissionsPerRound;
  if (cap !== undefined && config.budgets.submissionsPerRound > cap)
    throw new DomainError(
      'CONSTITUTION_VIOLATION',
      `constitution "${constitution.name}" allows at most ${cap} submissions per round`,
      [
        {
          path: 'payload.budgets.submissionsPerRound',
          message: `expected at most ${cap} (constitution rules.maxSubmissionsPerRound)`,
        },
      ],
    );
  // Checked whatever the worker and meta kinds: the collector's prose pass uses the campaign's model too.
  const claudeModel = config.claudeModel ?? DEFAULT_CLAUDE_MODEL;
  const modelProblem = claudeModelProblem(claudeModel, cmd.receivedAt);
  if (modelProblem !== null)
    throw new DomainError(
      'INVALID_CLAUDE_MODEL',
      `StartCampaign ${config.campaignId}: payload.claudeModel: ${modelProblem}`,
      [{ path: 'payload.claudeModel', message: modelProblem }],
    );
  const policy = initialPolicy({
    standingRecipe: cmd.standingRecipe,
    axes: config.axes,
    anchorSeeds: config.anchorSeeds,
  });
  // The model is recorded even when defaulted, so the log alone says which model the campaign's Claude passes used.
  return [
    {
      type: 'CampaignStarted',
      data: {
        config: { ...config, claudeModel },
        constitutionSha256: cmd.constitutionSha256,
        constitution,
        initialPolicy: policy,
      },
    },
  ];
}

const refusal = (code: string, message: string, issue: string, path = 'payload.round'): DomainError =>
  new DomainError(code, message, [{ path, message: issue }]);

/** Refuses commands on a campaign that does not exist or has ended. */
function requireLive(
  state: CampaignState,
  campaignId: string,
): asserts state is CampaignState & { config: CampaignConfig; policy: RollingPolicy; campaignId: string } {
  if (state.status === 'none' || !state.config || !state.policy || !state.campaignId)
    throw refusal(
      'CAMPAIGN_NOT_FOUND',
      `campaign ${campaignId} has not been started`,
      'no such campaign',
      'payload.campaignId',
    );
  if (state.status === 'aborted' || state.status === 'completed')
    throw refusal(
      'CAMPAIGN_ENDED',
      `campaign ${state.campaignId} is ${state.status}`,
      `the campaign is ${state.status}`,
      'payload.campaignId',
    );
}

function startRound(cmd: StartRoundCommand, state: CampaignState): CampaignEvent[] {
  requireLive(state, cmd.campaignId);
  if (state.status === 'paused')
    throw refusal(
      'CAMPAIGN_PAUSED',
      `campaign ${state.campaignId} is paused; resume it first`,
      'the campaign is paused',
      'payload.campaignId',
    );
  const round = cmd.round;
  if (state.rounds[round])
    throw refusal(
      'ROUND_ALREADY_STARTED',
      `round ${round} of ${state.campaignId} has already started`,
      'already started',
    );
  if (round > state.config.rounds)
    throw refusal(
      'ROUNDS_EXHAUSTED',
      `campaign ${state.campaignId} has ${state.config.rounds} round(s)`,
      `expected at most ${state.config.rounds}`,
    );
  if (state.audit)
    throw refusal(
      'CAMPAIGN_IN_FINAL_AUDIT',
      `campaign ${state.campaignId} is in its final audit (${state.audit.reason}); no round can start`,
      'the final audit has started',
      'payload.campaignId',
    );
  if (round !== state.lastRound + 1)
    throw refusal(
      'ROUND_OUT_OF_ORDER',
      `the next round of ${state.campaignId} is ${state.lastRound + 1}`,
      `expected ${state.lastRound + 1}`,
    );
  const previous = state.rounds[state.lastRound];
  if (previous && previous.status !== 'closed')
    throw refusal(
      'ROUND_IN_PROGRESS',
      `round ${state.lastRound} of ${state.campaignId} is not closed yet`,
      `round ${state.lastRound} must close first`,
    );
  if (cmd.spent) {
    const out = exhaustedBudgets(state.config.budgets, cmd.spent);
    if (out.length > 0)
      throw refusal(
        'BUDGET_EXHAUSTED',
        `campaign ${state.campaignId} has used its ${out.join(' and ')} budget (spent ` +
          `${cmd.spent.gpuSeconds} GPU-s of ${state.config.budgets.gpuSeconds}, ${cmd.spent.llmTokens} ` +
          `tokens of ${state.config.budgets.llmTokens})`,
        `budget exhausted: ${out.join(', ')}`,
        `payload.campaignId`,
      );
  }
  return [planNextRound(state, round, newest(state.policy, cmd.revisedPolicy))];
}

/** RoundStarted for `round` under `policy`, which must be the policy revised for that round. */
function planNextRound(
  state: CampaignState & { config: CampaignConfig; campaignId: string },
  round: number,
  policy: RollingPolicy,
): CampaignEvent {
  if (policy.forRound !== round)
    throw refusal(
      'POLICY_NOT_READY',
      `round ${round} needs the policy revised for it; the newest policy (revision ${policy.revision}) is ` +
        `for round ${policy.forRound}`,
      `no policy for round ${round} yet`,
    );
  const seed = roundSeed(state.config.seed, round);
  const candidates = planRound(state.campaignId, round, seed, state.config.workersPerRound, policy, state.config.axes);
  return {
    type: 'RoundStarted',
    data: { round, policyRevision: policy.revision, policySha256: contentHash(policy), candidates, seed },
  };
}

const newest = (held: RollingPolicy, revised: RollingPolicy | null): RollingPolicy =>
  revised && revised.revision > held.revision ? revised : held;

function pause(cmd: PauseCampaignCommand, state: CampaignState): CampaignEvent[] {
  requireLive(state, cmd.campaignId);
  if (state.status === 'paused')
    throw refusal(
      'CAMPAIGN_ALREADY_PAUSED',
      `campaign ${state.campaignId} is already paused`,
      'already paused',
      'payload.campaignId',
    );
  return [{ type: 'CampaignPaused', data: { reason: cmd.reason } }];
}

function resume(cmd: ResumeCampaignCommand, state: CampaignState): CampaignEvent[] {
  requireLive(state, cmd.campaignId);
  if (state.status !== 'paused')
    throw refusal(
      'CAMPAIGN_NOT_PAUSED',
      `campaign ${state.campaignId} is not paused`,
      `the campaign is ${state.status}`,
      'payload.campaignId',
    );
  return [{ type: 'CampaignResumed', data: {} }];
}

function abort(cmd: AbortCampaignCommand, state: CampaignState): CampaignEvent[] {
  requireLive(state, cmd.campaignId);
  return [{ type: 'CampaignAborted', data: { reason: cmd.reason } }];
}

/**
 * Takes every step the facts allow, in order, each on the state the previous one left: (1) round r's candidates
 * are all done → its submissions (not while paused); (2) round r's policy revision is recorded → RoundClosed;
 * (3) round r closed and the campaign running → the next round (auto mode, rounds and budget left) or the final
 * audit; (4) private scores revealed → CampaignCompleted. A rejected substrate, or a snapshot damaged beyond repair
 * (SnapshotDamaged unrecoverable), aborts the campaign instead.
 */
function advance(cmd: AdvanceCommand, initial: CampaignState): CampaignEvent[] {
  if (initial.status === 'none' || initial.status === 'aborted' || initial.status === 'completed') return [];
  const out: CampaignEvent[] = [];
  let state = initial;
  const emit = (e: CampaignEvent) => {
    out.push(e);
    state = evolve(state, e);
  };
  const { facts } = cmd;
  const config = state.config as CampaignConfig;
  const campaignId = state.campaignId as string;
  // A substrate the contract refuses can never be forked: waiting would stall the campaign for good.
  if (facts.substrateRejected !== null && !state.audit) {
    return [
      { type: 'CampaignAborted', data: { reason: `substrate rejected: ${facts.substrateRejected}`.slice(0, 2000) } },
    ];
  }
  // Nor can a snapshot damaged beyond repair be forked, evaluated or scored from, in the final audit either, unless
  // the private scores are already in (the leaderboard checks the snapshot against its pins before scoring).
  if (facts.snapshotLost !== null && !(state.audit && facts.unsealed)) {
    return [
      { type: 'CampaignAborted', data: { reason: `substrate snapshot damaged: ${facts.snapshotLost}`.slice(0, 2000) } },
    ];
  }
  // Bounded: each pass either emits and moves the state forward, or stops.
  for (let guard = 0; guard < 8; guard++) {
    if (state.audit) {
      if (facts.unsealed) emit(completion(state, facts));
      break;
    }
    const r = state.lastRound;
    const round = state.rounds[r];
    if (round && round.status === 'started') {
      const rf = facts.rounds[r]?.candidates ?? {};
      const allDone = round.candidates.every((c) => isCandidateDone(rf[c.candidateId]));
      // Budgets hold inside a round too: once one runs out while candidates are still working, their work stops
      // (jobs cancelled, workers told) and the round closes with the candidates that finished; the final audit
      // follows its close.
      if (state.status === 'running' && !allDone && !round.budgetExhausted) {
        const spent = spentOf(facts);
        const exhausted = exhaustedBudgets(config.budgets, spent);
        if (exhausted.length > 0) emit({ type: 'BudgetExhausted', data: { round: r, spent, exhausted } });
      }
      if (state.status === 'running' && allDone && round.submissions.length === 0) {
        const policy = policyOfRound(initial, facts, round.policyRevision);
        const replicates = policy?.standingLb
          ? policy.standingLb.scores.filter((x) => x.recipeSha256 === policy.standingLb?.recipeSha256).length
          : 0;
        const chosen = chooseSubmissions(
          round.candidates,
          rf,
          config.budgets.submissionsPerRound,
          policy?.selectionCriterion ?? { kind: 'mean' },
          replicates,
        );
        for (const c of chosen)
          emit({
            type: 'SubmissionRequested',
            data: {
              round: r,
              submissionId: submissionIdOf(c.candidateId),
              candidateId: c.candidateId,
              checkpoint: c.checkpoint,
              sandboxPath: c.sandboxPath,
              reason: c.reason,
            },
          });
      }
      const revised = revisionFromRound(facts, r);
      if (!revised) break;
      emit({
        type: 'RoundClosed',
        data: {
          round: r,
          policyRevision: revised.policy.revision,
          bestPublicLb: facts.rounds[r]?.bestPublicLb ?? null,
          evidenceSha256: facts.rounds[r]?.evidenceSha256 ?? null,
          policySha256: revised.policySha256,
          spent: spentOf(facts),
        },
      });
      continue;
    }
    // No round in progress: round 0 (none yet) or round r closed.
    if (state.status !== 'running') break;
    const spent = spentOf(facts);
    if (r >= config.rounds) {
      emit({
        type: 'FinalAuditStarted',
        data: { reason: 'rounds-exhausted', rounds: state.roundsClosed, spent, exhausted: [] },
      });
      continue;
    }
    const exhausted = exhaustedBudgets(config.budgets, spent);
    if (exhausted.length > 0) {
      emit({
        type: 'FinalAuditStarted',
        data: { reason: 'budget-exhausted', rounds: state.roundsClosed, spent, exhausted },
      });
      continue;
    }
    if (config.roundStart === 'manual') break;
    const policy = r === 0 ? (state.policy as RollingPolicy) : revisionFromRound(facts, r)?.policy;
    if (!policy || policy.forRound !== r + 1) break;
    emit(planNextRound({ ...state, config, campaignId }, r + 1, policy));
  }
  return out;
}

/** Revision 0 is the campaign's initial policy (CampaignStarted); later ones come from PolicyRevised. */
function policyOfRound(state: CampaignState, facts: CampaignFacts, revision: number): RollingPolicy | null {
  if (state.policy && state.policy.revision === revision) return state.policy;
  return facts.revisions[revision]?.policy ?? null;
}

/** Deterministic: one submission per candidate and round. */
export const submissionIdOf = (candidateId: string): string => `sub-${candidateId}`;

/**
 * The campaign result: the candidate with the best public LB score (ties: earlier round, then submission id) and
 * its private score, as revealed by the final audit.
 */
function completion(state: CampaignState, facts: CampaignFacts): CampaignEvent {
  const scores = [...(facts.unsealed ?? [])].sort(
    (a, b) => b.publicScore - a.publicScore || a.round - b.round || a.submissionId.localeCompare(b.submissionId),
  );
  const best = scores[0] ?? null;
  return {
    type: 'CampaignCompleted',
    data: {
      rounds: state.roundsClosed,
      reason: state.audit?.reason ?? 'rounds-exhausted',
      bestCandidateId: best?.candidateId ?? null,
      bestPublicLb: best?.publicScore ?? null,
      bestPrivateLb: best?.privateScore ?? null,
      bestRound: best?.round ?? null,
      bestSubmissionId: best?.submissionId ?? null,
      submissions: scores.length,
    },
  };
}

export const campaignDecider: Decider<CampaignCommand, CampaignEvent, CampaignState> = {
  decide,
  evolve,
  initialState: initialCampaignState,
};
