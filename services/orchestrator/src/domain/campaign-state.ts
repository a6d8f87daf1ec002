import {
  BudgetExhausted,
  CampaignAborted,
  CampaignCompleted,
  CampaignPaused,
  CampaignResumed,
  CampaignStarted,
  eventUnion,
  FinalAuditStarted,
  RoundClosed,
  RoundStarted,
  SubmissionRequested,
  type BudgetSpent,
  type CampaignConfig,
  type Constitution,
  type DataOf,
  type EventOfUnion,
  type RecipeDocument,
  type RollingPolicy,
} from '@aevo/contracts';
import { type CampaignFacts } from './facts';
import { type PlannedRef } from './selection';

/**
 * The campaign aggregate: stream `campaign-<campaignId>`, written only by the orchestrator. Its events are the
 * orchestrator's own; facts from other services (evidence, policy revisions) enter through command inputs that the
 * application layer reads from the log, so decide stays pure.
 */
export const campaignStreamId = (campaignId: string): string => `campaign-${campaignId}`;

/** The campaign stream's events, listed once: the union, its names and its guard derive from this list. */
export const CAMPAIGN_EVENTS = eventUnion(
  CampaignStarted,
  RoundStarted,
  SubmissionRequested,
  RoundClosed,
  CampaignPaused,
  CampaignResumed,
  CampaignAborted,
  BudgetExhausted,
  FinalAuditStarted,
  CampaignCompleted,
);
export type CampaignEvent = EventOfUnion<typeof CAMPAIGN_EVENTS>;
export const CAMPAIGN_EVENT_TYPES: ReadonlySet<string> = CAMPAIGN_EVENTS.types;

export interface StartCampaignCommand {
  type: 'StartCampaign';
  config: CampaignConfig;
  /** Read and validated by the application layer from `config.constitutionPath`. */
  constitution: Constitution;
  /** sha256 of the constitution file's bytes. */
  constitutionSha256: string;
  /** The substrate's recipe, which round 1 inherits. */
  standingRecipe: RecipeDocument;
  /** When the command is handled: whether the Claude model is retired is judged at this instant. */
  receivedAt: Date;
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
  /** Budget spent so far (from the log); absent: not checked. */
  spent?: BudgetSpent;
}

export interface PauseCampaignCommand {
  type: 'PauseCampaign';
  campaignId: string;
  reason: string;
}

export interface ResumeCampaignCommand {
  type: 'ResumeCampaign';
  campaignId: string;
}

export interface AbortCampaignCommand {
  type: 'AbortCampaign';
  campaignId: string;
  reason: string;
}

/**
 * The orchestrator's reaction to anything that happened: given what the other services recorded (facts folded
 * from the log), take the campaign's next step(s) — request the round's submissions once every candidate is done,
 * close the round once its policy revision is recorded, start the next round or the final audit, complete the
 * campaign once the private scores are revealed. Returns nothing when there is nothing to do, so redeliveries and
 * racing replicas are harmless (the append is at the version read).
 */
export interface AdvanceCommand {
  type: 'Advance';
  campaignId: string;
  facts: CampaignFacts;
}

export type CampaignCommand =
  | StartCampaignCommand
  | StartRoundCommand
  | PauseCampaignCommand
  | ResumeCampaignCommand
  | AbortCampaignCommand
  | AdvanceCommand;

export interface RoundState {
  status: 'started' | 'closed';
  policyRevision: number;
  candidateIds: string[];
  candidates: PlannedRef[];
  submissions: string[];
  /**
   * A budget ran out while the round was running (BudgetExhausted): its candidates stop, it closes with what it has.
   */
  budgetExhausted?: boolean;
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
  /** Rounds closed. */
  roundsClosed: number;
  /** Set once the final audit started: no round starts any more. */
  audit: { reason: DataOf<typeof FinalAuditStarted>['reason'] } | null;
}

export const initialCampaignState = (): CampaignState => ({
  status: 'none',
  campaignId: null,
  config: null,
  constitutionSha256: null,
  policy: null,
  rounds: {},
  lastRound: 0,
  roundsClosed: 0,
  audit: null,
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
            // The plan as recorded, prescribed runs included: selection ranks confirmations, combinations and
            // probes by their kind.
            candidates: event.data.candidates.map((c) => ({
              candidateId: c.candidateId,
              index: c.index,
              isAnchor: c.isAnchor,
              ...(c.prescribed ? { prescribed: c.prescribed } : {}),
            })),
            submissions: [],
          },
        },
      };
    case 'SubmissionRequested': {
      const r = state.rounds[event.data.round];
      if (!r) return state;
      return {
        ...state,
        rounds: {
          ...state.rounds,
          [event.data.round]: { ...r, submissions: [...r.submissions, event.data.submissionId] },
        },
      };
    }
    case 'RoundClosed': {
      const r = state.rounds[event.data.round];
      if (!r || r.status === 'closed') return state;
      return {
        ...state,
        roundsClosed: state.roundsClosed + 1,
        rounds: { ...state.rounds, [event.data.round]: { ...r, status: 'closed' } },
      };
    }
    case 'CampaignPaused':
      return state.status === 'running' ? { ...state, status: 'paused' } : state;
    case 'CampaignResumed':
      return state.status === 'paused' ? { ...state, status: 'running' } : state;
    case 'CampaignAborted':
      return { ...state, status: 'aborted' };
    case 'BudgetExhausted': {
      const r = state.rounds[event.data.round];
      if (!r) return state;
      return { ...state, rounds: { ...state.rounds, [event.data.round]: { ...r, budgetExhausted: true } } };
    }
    case 'FinalAuditStarted':
      return { ...state, audit: { reason: event.data.reason } };
    case 'CampaignCompleted':
      return { ...state, status: 'completed' };
    default:
      return state;
  }
}
