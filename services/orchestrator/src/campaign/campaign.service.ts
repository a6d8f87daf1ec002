import {
  createEvent,
  eventDefinition,
  PolicyRevised,
  type CommandEnvelope,
  type CommandOf,
  type DataOf,
  type Decider,
  type EventEnvelope,
  type RollingPolicy,
  type StartCampaign,
  type StartRound,
} from '@aevo/contracts';
import { executeDecider, type EventStore } from '@aevo/eventstore';
import { commandResult, type CommandResult } from '@aevo/messaging';
import {
  CAMPAIGN_EVENT_TYPES,
  campaignStreamId,
  decide,
  evolve,
  initialCampaignState,
  type CampaignCommand,
  type CampaignEvent,
  type CampaignState,
} from '../domain/campaign';
import type { CampaignInputsLoader } from './campaign-inputs';

export interface CampaignStartedResult {
  campaignId: string;
  constitutionSha256: string;
  policyRevision: number;
}

export interface RoundStartedResult {
  campaignId: string;
  round: number;
  seed: number;
  policyRevision: number;
  candidates: Array<{ candidateId: string; axis: string; isAnchor: boolean; seeds: number[] }>;
}

/**
 * The application side of the campaign aggregate: gathers command inputs from files and the log, then runs the
 * pure decider through executeDecider (read → fold → decide → append at the version read, retried on a
 * concurrency conflict, idempotent by commandId).
 */
export class CampaignService {
  constructor(
    private readonly store: EventStore,
    private readonly inputs: CampaignInputsLoader,
  ) {}

  async startCampaign(cmd: CommandOf<typeof StartCampaign>): Promise<CommandResult<CampaignStartedResult>> {
    const config = cmd.payload;
    const inputs = await this.inputs.load(config);
    return this.execute(config.campaignId, cmd, { type: 'StartCampaign', config, ...inputs }, (events) => {
      const e = events.find((x) => x.type === 'CampaignStarted');
      if (e?.type !== 'CampaignStarted') throw new Error('StartCampaign wrote no CampaignStarted');
      return { campaignId: config.campaignId, constitutionSha256: e.data.constitutionSha256, policyRevision: e.data.initialPolicy.revision };
    });
  }

  async startRound(cmd: CommandOf<typeof StartRound>): Promise<CommandResult<RoundStartedResult>> {
    const { campaignId, round } = cmd.payload;
    const revisedPolicy = await this.newestRevisedPolicy(campaignId);
    return this.execute(campaignId, cmd, { type: 'StartRound', campaignId, round, revisedPolicy }, (events) => {
      const e = events.find((x) => x.type === 'RoundStarted');
      if (e?.type !== 'RoundStarted') throw new Error('StartRound wrote no RoundStarted');
      return {
        campaignId,
        round: e.data.round,
        seed: e.data.seed,
        policyRevision: e.data.policyRevision,
        candidates: e.data.candidates.map((c) => ({ candidateId: c.candidateId, axis: c.axis, isAnchor: c.isAnchor, seeds: c.seeds })),
      };
    });
  }

  /** The campaign's folded state (for handlers and tests). */
  async state(campaignId: string): Promise<CampaignState> {
    const events = await this.store.readStream(campaignStreamId(campaignId));
    return events.reduce((s, e) => (CAMPAIGN_EVENT_TYPES.has(e.type) ? evolve(s, e as unknown as CampaignEvent) : s), initialCampaignState());
  }

  /** The meta-policy's newest revision of this campaign's policy (PolicyRevised lives in its own streams). */
  private async newestRevisedPolicy(campaignId: string): Promise<RollingPolicy | null> {
    const revisions = await this.store.readAll({ campaignId, types: [PolicyRevised.type] });
    let newest: RollingPolicy | null = null;
    for (const e of revisions) {
      const policy = (e.data as DataOf<typeof PolicyRevised>).policy;
      if (!newest || policy.revision > newest.revision) newest = policy;
    }
    return newest;
  }

  /** Runs any campaign command: inputs already gathered, events stamped with the command as cause, idempotent by commandId. */
  async execute<R>(campaignId: string, cmd: CommandEnvelope, command: CampaignCommand, result: (events: CampaignEvent[]) => R): Promise<CommandResult<R>> {
    const streamId = campaignStreamId(campaignId);
    const decider: Decider<CampaignCommand, EventEnvelope, CampaignState> = {
      initialState: initialCampaignState,
      evolve: (s, e) => (CAMPAIGN_EVENT_TYPES.has(e.type) ? evolve(s, e as unknown as CampaignEvent) : s),
      decide: (c, s) =>
        decide(c, s).map((e) => {
          const def = eventDefinition(e.type);
          if (!def) throw new Error(`event type ${e.type} is not registered`);
          return createEvent(def, e.data, {
            campaignId,
            streamId,
            source: 'orchestrator',
            causationId: cmd.commandId,
            correlationId: cmd.correlationId ?? cmd.commandId,
          });
        }),
    };
    const outcome = await executeDecider({
      store: this.store,
      streamId,
      decider,
      command,
      commandId: cmd.commandId,
      maxRetries: 5,
      result: ({ events }) => result(events as unknown as CampaignEvent[]),
    });
    return commandResult(outcome.result, { duplicate: outcome.duplicate });
  }
}
