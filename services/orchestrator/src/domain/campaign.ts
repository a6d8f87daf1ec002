import {
  contentHash,
  DomainError,
  type CampaignAborted,
  type CampaignCompleted,
  type CampaignConfig,
  type CampaignPaused,
  type CampaignResumed,
  type CampaignStarted,
  type Constitution,
  type DataOf,
  type Decider,
  type RecipeDocument,
  type RollingPolicy,
  type RoundClosed,
  type RoundStarted,
  type SubmissionRequested,
} from '@aevo/contracts';
import { initialPolicy } from './initial-policy';
import { planRound, roundSeed } from './planning';

/**
 * The campaign aggregate: stream `campaign-<campaignId>`, written only by the orchestrator. Its events are the
 * orchestrator's own; facts from other services (evidence, policy revisions) enter through command inputs that the
 * application layer reads from the log, so decide stays pure.
 */
export const campaignStreamId = (campaignId: string): string => `campaign-${campaignId}`;

type Ev<T extends string, D> = { type: T; data: D };
export type CampaignEvent =
  | Ev<'CampaignStarted', DataOf<typeof CampaignStarted>>
  | Ev<'RoundStarted', DataOf<typeof RoundStarted>>
  | Ev<'SubmissionRequested', DataOf<typeof SubmissionRequested>>
  | Ev<'RoundClosed', DataOf<typeof RoundClosed>>
  | Ev<'CampaignPaused', DataOf<typeof CampaignPaused>>
  | Ev<'CampaignResumed', DataOf<typeof CampaignResumed>>
  | Ev<'CampaignAborted', DataOf<typeof CampaignAborted>>
  | Ev<'CampaignCompleted', DataOf<typeof CampaignCompleted>>;

export const CAMPAIGN_EVENT_TYPES: ReadonlySet<string> = new Set<CampaignEvent['type']>([
  'CampaignStarted',
  'RoundStarted',
  'SubmissionRequested',
  'RoundClosed',
  'CampaignPaused',
  'CampaignResumed',
  'CampaignAborted',
  'CampaignCompleted',
]);

export interface StartCampaignCommand {
  type: 'StartCampaign';
  config: CampaignConfig;
  /** Read and validated by the application layer from `config.constitutionPath`. */
  constitution: Constitution;
  /** sha256 of the constitution file's bytes. */
  constitutionSha256: string;
  /** The substrate's recipe, which round 1 inherits. */
  standingRecipe: RecipeDocument;
}

export interface StartRoundCommand {
  type: 'StartRound';
  campaignId: string;
  round: number;
  /**
   * The newest policy revision the meta-policy recorded for this campaign (PolicyRevised), if any; the aggregate
   * falls back to the policy it holds (the initial one). The chosen policy must be the one for this round.
   */
  revisedPolicy: RollingPolicy | null;
}

export type CampaignCommand = StartCampaignCommand | StartRoundCommand;

export interface RoundState {
  status: 'started' | 'closed';
  policyRevision: number;
  candidateIds: string[];
  submissions: string[];
}

export interface CampaignState {
  status: 'none' | 'running' | 'paused' | 'aborted' | 'completed';
  campaignId: string | null;
  config: CampaignConfig | null;
  constitutionSha256: string | null;
  /** The newest policy the aggregate knows (revision 0 from CampaignStarted). */
  policy: RollingPolicy | null;
  rounds: Record<number, RoundState>;
  /** Highest round started (0 before the first). */
  lastRound: number;
}

export const initialCampaignState = (): CampaignState => ({
  status: 'none',
  campaignId: null,
  config: null,
  constitutionSha256: null,
  policy: null,
  rounds: {},
  lastRound: 0,
});

export function evolve(state: CampaignState, event: CampaignEvent): CampaignState {
  switch (event.type) {
    case 'CampaignStarted':
      return {
        ...state,
        status: 'running',
        campaignId: event.data.config.campaignId,
        config: event.data.config,
        constitutionSha256: event.data.constitutionSha256,
        policy: event.data.initialPolicy,
      };
    case 'RoundStarted':
      return {
        ...state,
        lastRound: Math.max(state.lastRound, event.data.round),
        rounds: {
          ...state.rounds,
          [event.data.round]: {
            status: 'started',
            policyRevision: event.data.policyRevision,
            candidateIds: event.data.candidates.map((c) => c.candidateId),
            submissions: [],
          },
        },
      };
    case 'SubmissionRequested': {
      const r = state.rounds[event.data.round];
      if (!r) return state;
      return { ...state, rounds: { ...state.rounds, [event.data.round]: { ...r, submissions: [...r.submissions, event.data.submissionId] } } };
    }
    case 'RoundClosed': {
      const r = state.rounds[event.data.round];
      if (!r) return state;
      return { ...state, rounds: { ...state.rounds, [event.data.round]: { ...r, status: 'closed' } } };
    }
    case 'CampaignPaused':
      return state.status === 'running' ? { ...state, status: 'paused' } : state;
    case 'CampaignResumed':
      return state.status === 'paused' ? { ...state, status: 'running' } : state;
    case 'CampaignAborted':
      return { ...state, status: 'aborted' };
    case 'CampaignCompleted':
      return { ...state, status: 'completed' };
    default:
      return state;
  }
}

export function decide(command: CampaignCommand, state: CampaignState): CampaignEvent[] {
  switch (command.type) {
    case 'StartCampaign':
      return startCampaign(command, state);
    case 'StartRound':
      return startRound(command, state);
  }
}

function startCampaign(cmd: StartCampaignCommand, state: CampaignState): CampaignEvent[] {
  const { config, constitution } = cmd;
  if (state.status !== 'none')
    throw new DomainError('CAMPAIGN_EXISTS', `campaign ${config.campaignId} was already started`, [{ path: 'payload.campaignId', message: 'already in use' }]);
  const cap = constitution.rules.maxSubmissionsPerRound;
  if (cap !== undefined && config.budgets.submissionsPerRound > cap)
    throw new DomainError('CONSTITUTION_VIOLATION', `constitution "${constitution.name}" allows at most ${cap} submissions per round`, [
      { path: 'payload.budgets.submissionsPerRound', message: `expected at most ${cap} (constitution rules.maxSubmissionsPerRound)` },
    ]);
  const policy = initialPolicy(config, cmd.standingRecipe);
  return [{ type: 'CampaignStarted', data: { config, constitutionSha256: cmd.constitutionSha256, constitution, initialPolicy: policy } }];
}

function startRound(cmd: StartRoundCommand, state: CampaignState): CampaignEvent[] {
  const roundPath = [{ path: 'payload.round', message: '' }];
  const refuse = (code: string, message: string, issue: string, path = 'payload.round'): never => {
    throw new DomainError(code, message, [{ ...roundPath[0], path, message: issue }]);
  };
  if (state.status === 'none' || !state.config || !state.policy || !state.campaignId)
    return refuse('CAMPAIGN_NOT_FOUND', `campaign ${cmd.campaignId} has not been started`, 'no such campaign', 'payload.campaignId');
  if (state.status === 'aborted' || state.status === 'completed')
    return refuse('CAMPAIGN_ENDED', `campaign ${state.campaignId} is ${state.status}`, `the campaign is ${state.status}`, 'payload.campaignId');
  if (state.status === 'paused') return refuse('CAMPAIGN_PAUSED', `campaign ${state.campaignId} is paused; resume it first`, 'the campaign is paused', 'payload.campaignId');
  const round = cmd.round;
  if (state.rounds[round]) return refuse('ROUND_ALREADY_STARTED', `round ${round} of ${state.campaignId} has already started`, 'already started');
  if (round > state.config.rounds)
    return refuse('ROUNDS_EXHAUSTED', `campaign ${state.campaignId} has ${state.config.rounds} round(s)`, `expected at most ${state.config.rounds}`);
  if (round !== state.lastRound + 1) return refuse('ROUND_OUT_OF_ORDER', `the next round of ${state.campaignId} is ${state.lastRound + 1}`, `expected ${state.lastRound + 1}`);
  const previous = state.rounds[state.lastRound];
  if (previous && previous.status !== 'closed')
    return refuse('ROUND_IN_PROGRESS', `round ${state.lastRound} of ${state.campaignId} is not closed yet`, `round ${state.lastRound} must close first`);
  const policy = newest(state.policy, cmd.revisedPolicy);
  if (policy.forRound !== round)
    return refuse(
      'POLICY_NOT_READY',
      `round ${round} needs the policy revised for it; the newest policy (revision ${policy.revision}) is for round ${policy.forRound}`,
      `no policy for round ${round} yet`,
    );
  const seed = roundSeed(state.config.seed, round);
  const candidates = planRound(state.campaignId, round, seed, state.config.workersPerRound, policy);
  return [{ type: 'RoundStarted', data: { round, policyRevision: policy.revision, policySha256: contentHash(policy), candidates, seed } }];
}

const newest = (held: RollingPolicy, revised: RollingPolicy | null): RollingPolicy => (revised && revised.revision > held.revision ? revised : held);

export const campaignDecider: Decider<CampaignCommand, CampaignEvent, CampaignState> = {
  decide,
  evolve,
  initialState: initialCampaignState,
};
