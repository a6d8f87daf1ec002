import {
  BudgetExhausted,
  budgetExhaustedReason,
  CampaignAborted,
  CandidateForked,
  DomainError,
  isEvent,
  type EventOf,
} from '@aevo/contracts';
import type { EventStore } from '@aevo/eventstore';
import { unavailableDependency } from '@aevo/messaging';
import {
  EventStoreCandidateLog,
  LeaseLostError,
  candidateStreamId,
  failCandidate,
  runCandidate,
  type CandidateOutcome,
  type RuntimeBudget,
  type WorkerConfig,
  type WorkerInputs,
} from '@aevo/worker-kit';
import { defaultAgentFactory, type AgentFactory } from './agent-factory';
import { CampaignLookup, type CampaignFacts } from './campaign-lookup';
import type { CandidatePorts } from './candidate-ports';
import type { WorkerSettings } from '../config';

export type RunnerOutcome = CandidateOutcome | { kind: 'lease-lost' } | { kind: 'failed-cleanly'; reason: string };

/**
 * How stale a replica's knowledge of a stop (CampaignAborted, BudgetExhausted) it did not hear about may be
 * (another replica consumed the event).
 */
const STOP_CHECK_MS = 2_000;

/**
 * Handles one CandidateForked: looks up the campaign's fixed settings and the policy revision the fork names,
 * then runs (or resumes, from the candidate's trace) the candidate to its end. Errors that a retry may cure
 * (database, a policy not recorded yet) propagate so the message is redelivered; on the last allowed delivery,
 * or when the candidate can never be worked, it is failed cleanly (WorkerFailed + failed manifest).
 */
export class WorkerWorkflow {
  readonly lookup: CampaignLookup;
  /**
   * Why each campaign's work stopped while this process runs (aborted, or a budget ran out mid-round); its
   * candidates stop before their next step.
   */
  private readonly stopped = new Map<string, string>();
  private readonly stopCheckedAt = new Map<string, number>();

  constructor(
    private readonly store: EventStore,
    private readonly settings: WorkerSettings,
    private readonly ports: CandidatePorts,
    private readonly agents: AgentFactory = defaultAgentFactory(settings),
  ) {
    this.lookup = new CampaignLookup(store);
  }

  private budget(campaign: CampaignFacts): Partial<RuntimeBudget> {
    const c = campaign.config;
    const share =
      c.budgets.llmTokens > 0
        ? Math.floor(c.budgets.llmTokens / (c.rounds * c.workersPerRound))
        : this.settings.maxTokens;
    return {
      maxToolCalls: this.settings.maxToolCalls,
      maxTokens: Math.max(1, Math.min(this.settings.maxTokens, share)),
    };
  }

  async onCandidateForked(e: EventOf<typeof CandidateForked>, deliveryCount = 1): Promise<RunnerOutcome> {
    const fork = e.data;
    const log = new EventStoreCandidateLog(this.store, candidateStreamId(fork.candidateId));
    let campaign: CampaignFacts | null = null;
    const ports = { log, jobs: this.ports.jobs(e.campaignId), evaluator: this.ports.evaluator(e.campaignId, 'tiny') };
    let inputs: WorkerInputs | null = null;
    const config = (kind: WorkerConfig['agentKind']): WorkerConfig => ({
      campaignId: e.campaignId,
      workerId: this.settings.workerId,
      agentKind: kind,
      size: campaign?.config.size ?? 'tiny',
      device: this.settings.device,
      forkEventId: e.id,
      maxWaitSeconds: this.settings.maxWaitSeconds,
    });
    try {
      campaign = await this.lookup.campaign(e.campaignId);
      ports.evaluator = this.ports.evaluator(e.campaignId, campaign.config.size);
      inputs = { fork, policy: await this.lookup.policy(e.campaignId, fork.policyRevision) };
      const agent = this.agents(campaign);
      // An abort recorded before this process started (or before this candidate came) is read from the log once.
      await this.refreshStopped(e.campaignId);
      const stopRequested = async () => {
        await this.refreshStopped(e.campaignId, STOP_CHECK_MS);
        return this.stopped.get(e.campaignId) ?? null;
      };
      return await runCandidate(inputs, config(agent.kind), ports, agent, {
        budget: this.budget(campaign),
        hooks: { stopRequested },
      });
    } catch (err) {
      if (err instanceof LeaseLostError) return { kind: 'lease-lost' };
      // A store or NATS outage says nothing about the candidate: redelivered (the transport does not count it), it
      // resumes from its trace; never failed for it, however many deliveries the outage takes.
      if (unavailableDependency(err)) throw err;
      const permanent =
        err instanceof DomainError &&
        !['CAMPAIGN_NOT_FOUND', 'POLICY_NOT_FOUND', 'CONCURRENCY_CONFLICT'].includes(err.code);
      if (!permanent && deliveryCount < this.settings.failAfterDeliveries) throw err;
      const reason =
        `${permanent ? 'cannot work this candidate' : `failed on ${deliveryCount} deliveries`}: ` +
        `${(err as Error).message}`;
      if (inputs) await failCandidate(inputs, config(campaign?.config.workerKind ?? 'heuristic'), ports, reason);
      else await failCandidate({ fork, policy: null }, config('heuristic'), ports, reason);
      return { kind: 'failed-cleanly', reason };
    }
  }

  /**
   * CampaignAborted: running candidates of the campaign stop before their next step (the orchestrator cancels
   * their jobs).
   */
  campaignAborted(campaignId: string, reason: string): void {
    this.campaignStopped(campaignId, `campaign aborted: ${reason}`);
  }

  /** The campaign's work stops for `reason` (an abort, or a budget that ran out mid-round). */
  campaignStopped(campaignId: string, reason: string): void {
    if (!this.stopped.has(campaignId)) this.stopped.set(campaignId, reason);
  }

  /**
   * Reads the log for the campaign's stop (abort or budget) unless known, or (with `maxAgeMs`) unless checked that
   * recently.
   */
  private async refreshStopped(campaignId: string, maxAgeMs = 0): Promise<void> {
    if (this.stopped.has(campaignId)) return;
    const now = Date.now();
    if (maxAgeMs > 0 && now - (this.stopCheckedAt.get(campaignId) ?? 0) < maxAgeMs) return;
    this.stopCheckedAt.set(campaignId, now);
    const [e] = await this.store.readAll({ campaignId, types: [CampaignAborted.type, BudgetExhausted.type], limit: 1 });
    if (e && isEvent(e, CampaignAborted)) this.campaignAborted(campaignId, e.data.reason);
    else if (e && isEvent(e, BudgetExhausted)) this.campaignStopped(campaignId, budgetExhaustedReason(e.data));
  }

  async close(): Promise<void> {
    await this.ports.close();
  }
}
