import {
  createEvent,
  eventDefinition,
  type AbortCampaign,
  type CommandEnvelope,
  type CommandOf,
  type Decider,
  type EventEnvelope,
  type PauseCampaign,
  type ResumeCampaign,
  type StartCampaign,
  type StartRound,
} from '@aevo/contracts';
import { checkFingerprint, handle, type EventStore } from '@aevo/eventstore';
import { commandFingerprint, commandResult, type CommandResult } from '@aevo/messaging';
import {
  CAMPAIGN_EVENTS,
  campaignStreamId,
  decide,
  evolve,
  initialCampaignState,
  type CampaignCommand,
  type CampaignEvent,
  type CampaignState,
} from '../domain/campaign';
import { newestRevision, spentOf } from '../domain/facts';
import { CampaignFactsCache } from './campaign-facts';
import type { CampaignInputsLoader } from './campaign-inputs';
import { FoldedStates } from './folded-states';

export interface CampaignStartedResult {
  campaignId: string;
  constitutionSha256: string;
  policyRevision: number;
}

export interface CampaignStatusResult {
  campaignId: string;
  status: CampaignState['status'];
}

export interface AdvanceResult {
  campaignId: string;
  /** Types of the events this step appended (empty: nothing to do). */
  appended: string[];
}

/** Who caused an orchestrator decision: a command, or an event the orchestrator reacted to. */
export interface DecisionMeta {
  /** Idempotency key (commands only): a retried command gets the first answer. */
  commandId?: string;
  /** What the commandId is bound to (commandFingerprint): the same id with another command or body is refused. */
  fingerprint?: string;
  causationId: string | null;
  correlationId: string | null;
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
 * pure decider through `handle` (read → fold → decide → append at the version read, retried on a
 * concurrency conflict, idempotent by commandId).
 */
export class OrchestratorWorkflow {
  private readonly advancing = new Map<string, Promise<unknown>>();
  /** Each campaign's state as the last decision here left it (a bounded cache; the log stays the record). */
  private readonly folded = new FoldedStates();

  constructor(
    private readonly store: EventStore,
    private readonly inputs: CampaignInputsLoader,
    readonly facts: CampaignFactsCache = new CampaignFactsCache(store),
    private readonly now: () => Date = () => new Date(),
  ) {}

  async startCampaign(cmd: CommandOf<typeof StartCampaign>): Promise<CommandResult<CampaignStartedResult>> {
    const config = cmd.payload;
    // A reused id is refused before its (possibly other) files are read.
    const earlier = this.store.commandOutcome ? await this.store.commandOutcome(cmd.commandId) : null;
    if (earlier) checkFingerprint(cmd.commandId, earlier, commandFingerprint(cmd));
    const inputs = await this.inputs.load(config);
    return this.execute(
      config.campaignId,
      cmd,
      { type: 'StartCampaign', config, ...inputs, receivedAt: this.now() },
      (events) => {
        const e = events.find((x) => x.type === 'CampaignStarted');
        if (e?.type !== 'CampaignStarted') throw new Error('StartCampaign wrote no CampaignStarted');
        return {
          campaignId: config.campaignId,
          constitutionSha256: e.data.constitutionSha256,
          policyRevision: e.data.initialPolicy.revision,
        };
      },
    );
  }

  async startRound(cmd: CommandOf<typeof StartRound>): Promise<CommandResult<RoundStartedResult>> {
    const { campaignId, round } = cmd.payload;
    const facts = await this.facts.load(campaignId);
    const revisedPolicy = newestRevision(facts)?.policy ?? null;
    return this.execute(
      campaignId,
      cmd,
      { type: 'StartRound', campaignId, round, revisedPolicy, spent: spentOf(facts) },
      (events) => {
        const e = events.find((x) => x.type === 'RoundStarted');
        if (e?.type !== 'RoundStarted') throw new Error('StartRound wrote no RoundStarted');
        return {
          campaignId,
          round: e.data.round,
          seed: e.data.seed,
          policyRevision: e.data.policyRevision,
          candidates: e.data.candidates.map((c) => ({
            candidateId: c.candidateId,
            axis: c.axis,
            isAnchor: c.isAnchor,
            seeds: c.seeds,
          })),
        };
      },
    );
  }

  pause(cmd: CommandOf<typeof PauseCampaign>): Promise<CommandResult<CampaignStatusResult>> {
    const { campaignId, reason } = cmd.payload;
    return this.execute(campaignId, cmd, { type: 'PauseCampaign', campaignId, reason }, () => ({
      campaignId,
      status: 'paused' as const,
    }));
  }

  resume(cmd: CommandOf<typeof ResumeCampaign>): Promise<CommandResult<CampaignStatusResult>> {
    const { campaignId } = cmd.payload;
    return this.execute(campaignId, cmd, { type: 'ResumeCampaign', campaignId }, () => ({
      campaignId,
      status: 'running' as const,
    }));
  }

  abort(cmd: CommandOf<typeof AbortCampaign>): Promise<CommandResult<CampaignStatusResult>> {
    const { campaignId, reason } = cmd.payload;
    return this.execute(campaignId, cmd, { type: 'AbortCampaign', campaignId, reason }, () => ({
      campaignId,
      status: 'aborted' as const,
    }));
  }

  /**
   * Takes the campaign's next step(s) from the facts in the log (see the Advance command). Safe to call at any
   * time and any number of times, from any replica: it appends at the version it read and decides again on a
   * conflict, and it has no command id on purpose — the same trigger may find more to do later.
   */
  advance(
    campaignId: string,
    cause: { causationId: string | null; correlationId?: string | null } = { causationId: null },
  ): Promise<AdvanceResult> {
    // One step per campaign at a time in this process; other replicas are kept apart by the expected version.
    const prev = this.advancing.get(campaignId) ?? Promise.resolve();
    const run = async (): Promise<AdvanceResult> => {
      const facts = await this.facts.load(campaignId);
      const outcome = await this.run(
        campaignId,
        { causationId: cause.causationId, correlationId: cause.correlationId ?? cause.causationId },
        { type: 'Advance', campaignId, facts },
        (events) => events.map((e) => e.type),
      );
      return { campaignId, appended: outcome.result };
    };
    const next = prev.then(run, run);
    const settled = next.catch(() => undefined);
    this.advancing.set(campaignId, settled);
    void settled.then(() => {
      if (this.advancing.get(campaignId) === settled) this.advancing.delete(campaignId);
    });
    return next;
  }

  /** The campaign's folded state (for handlers and tests). */
  async state(campaignId: string): Promise<CampaignState> {
    const events = await this.store.readStream(campaignStreamId(campaignId));
    return events.reduce((s, e) => (CAMPAIGN_EVENTS.is(e) ? evolve(s, e) : s), initialCampaignState());
  }

  /**
   * Runs any campaign command: inputs already gathered, events stamped with the command as cause, idempotent by
   * commandId.
   */
  async execute<R>(
    campaignId: string,
    cmd: CommandEnvelope,
    command: CampaignCommand,
    result: (events: CampaignEvent[]) => R,
  ): Promise<CommandResult<R>> {
    const meta = {
      commandId: cmd.commandId,
      fingerprint: commandFingerprint(cmd),
      causationId: cmd.commandId,
      correlationId: cmd.correlationId ?? cmd.commandId,
    };
    const outcome = await this.run(campaignId, meta, command, result);
    return commandResult(outcome.result, { duplicate: outcome.duplicate });
  }

  /** Read the campaign stream → fold → decide → append at the version read (retried on a conflict). */
  async run<R>(
    campaignId: string,
    meta: DecisionMeta,
    command: CampaignCommand,
    result: (events: CampaignEvent[]) => R,
  ): Promise<{ result: R; duplicate: boolean }> {
    const streamId = campaignStreamId(campaignId);
    const decider: Decider<CampaignCommand, EventEnvelope, CampaignState> = {
      initialState: initialCampaignState,
      evolve: (s, e) => (CAMPAIGN_EVENTS.is(e) ? evolve(s, e) : s),
      decide: (c, s) =>
        decide(c, s).map((e) => {
          const def = eventDefinition(e.type);
          if (!def) throw new Error(`event type ${e.type} is not registered`);
          return createEvent(def, e.data, {
            campaignId,
            streamId,
            source: 'orchestrator',
            causationId: meta.causationId,
            correlationId: meta.correlationId,
          });
        }),
    };
    const outcome = await handle(this.store, streamId, decider, command, {
      from: this.folded.get(campaignId),
      commandId: meta.commandId,
      fingerprint: meta.fingerprint,
      result: ({ events }) => result(events.filter((e) => CAMPAIGN_EVENTS.is(e))),
    });
    this.folded.record(campaignId, { state: outcome.state, version: outcome.version });
    return { result: outcome.result, duplicate: outcome.duplicate };
  }
}
