import * as path from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import {
  BudgetExhausted,
  budgetExhaustedReason,
  CampaignAborted,
  CandidateForked,
  DomainError,
  isEvent,
  type Constitution,
  type EventOf,
} from '@aevo/contracts';
import type { EventStore } from '@aevo/eventstore';
import { LocalExecutor } from '@aevo/executors';
import {
  ClaudeAgent,
  EventEvaluationPort,
  EventJobPort,
  EventStoreCandidateLog,
  HeuristicAgent,
  LeaseLostError,
  LocalEvaluationPort,
  LocalJobPort,
  candidateStreamId,
  failCandidate,
  runCandidate,
  type CandidateOutcome,
  type EvaluationPort,
  type JobPort,
  type RuntimeBudget,
  type WorkerAgent,
  type WorkerConfig,
  type WorkerInputs,
} from '@aevo/worker-kit';
import { CampaignLookup, type CampaignFacts } from './campaign-lookup';
import type { WorkerSettings } from './settings';

/** Where jobs and evaluations go: dispatch and the evaluation service (events), or this process (local). */
export interface CandidatePorts {
  jobs(campaignId: string): JobPort;
  /** `size` is the campaign's substrate size (the evaluate entrypoint may use it). */
  evaluator(campaignId: string, size: string): EvaluationPort;
  close(): Promise<void>;
}

export class EventPorts implements CandidatePorts {
  private readonly jobPorts = new Map<string, EventJobPort>();
  /** One per campaign, like the job ports: each tails the store once for every candidate of its campaign. */
  private readonly evaluationPorts = new Map<string, EventEvaluationPort>();
  constructor(private readonly store: EventStore) {}
  jobs(campaignId: string): JobPort {
    let p = this.jobPorts.get(campaignId);
    if (!p) this.jobPorts.set(campaignId, (p = new EventJobPort(this.store, { campaignId })));
    return p;
  }
  evaluator(campaignId: string): EvaluationPort {
    let p = this.evaluationPorts.get(campaignId);
    if (!p) this.evaluationPorts.set(campaignId, (p = new EventEvaluationPort(this.store, campaignId)));
    return p;
  }
  async close(): Promise<void> {}
}

export class LocalPorts implements CandidatePorts {
  readonly executor: LocalExecutor;
  private readonly home: string;
  constructor(private readonly settings: Pick<WorkerSettings, 'aevoHome' | 'localSlots' | 'device'>) {
    this.home = path.resolve(settings.aevoHome, 'worker-local');
    // AEVO_HOME is the root the jobs' isolation is planned against (sandboxes and snapshots live there).
    this.executor = new LocalExecutor({
      home: path.resolve(settings.aevoHome),
      stateDir: path.join(this.home, 'local-jobs'),
      logDir: path.join(this.home, 'logs'),
      cpuSlots: settings.localSlots,
    });
  }
  jobs(campaignId: string): JobPort {
    return new LocalJobPort(this.executor, campaignId, { logDir: path.join(this.home, 'logs') });
  }
  evaluator(campaignId: string, size: string): EvaluationPort {
    return new LocalEvaluationPort(this.jobs(campaignId), {
      scoresDir: path.join(this.home, 'scores'),
      size,
      device: this.settings.device,
    });
  }
  async close(): Promise<void> {
    await this.executor.close();
  }
}

export type AgentFactory = (campaign: CampaignFacts) => WorkerAgent;

/** What a worker is shown of the constitution: its text and meta-rules, as pinned in CampaignStarted. */
export function constitutionExcerpt(c: Constitution): string {
  const r = c.rules;
  return [
    `Constitution ${c.name} ${c.version} (read-only; pinned at campaign start).`,
    c.text.trim(),
    `Meta-rules: the leaderboard is authoritative; the dead-end registry only grows; promotion requires a leaderboard gain; rotate the axis category after ${r.plateauRoundsBeforeRotation} plateau rounds; a dev gain beyond ${r.decouplingNoiseMultiple}x the dev noise with the leaderboard within noise flags proxy decoupling.`,
  ].join('\n');
}

/** Heuristic by default; Claude when the campaign asks for it (needs ANTHROPIC_API_KEY). */
export function defaultAgentFactory(settings: WorkerSettings): AgentFactory {
  return (campaign) => {
    if (campaign.config.workerKind !== 'claude') return new HeuristicAgent();
    if (!settings.claude.apiKey)
      throw new DomainError('NO_API_KEY', 'the campaign asks for Claude workers but ANTHROPIC_API_KEY is not set', [
        { path: 'ANTHROPIC_API_KEY', message: 'required' },
      ]);
    const c = campaign.constitution;
    return new ClaudeAgent({
      client: new Anthropic({
        apiKey: settings.claude.apiKey,
        baseURL: settings.claude.baseURL ?? undefined,
        maxRetries: settings.claude.sdkMaxRetries,
      }),
      // The campaign's model as StartCampaign recorded it; the configured one only for a campaign started before it was a setting.
      model: campaign.config.claudeModel ?? settings.claude.model,
      constitutionExcerpt: constitutionExcerpt(c),
      maxTokensPerTurn: settings.claude.maxTokensPerTurn,
      retry: { patienceMs: settings.claude.retryPatienceSeconds * 1000 },
      context: { clearAtTokens: settings.claude.clearContextAtTokens },
      cacheTtl: settings.claude.cacheTtl,
    });
  };
}

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
export class CandidateRunner {
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
      const permanent =
        err instanceof DomainError &&
        !['CAMPAIGN_NOT_FOUND', 'POLICY_NOT_FOUND', 'CONCURRENCY_CONFLICT'].includes(err.code);
      if (!permanent && deliveryCount < this.settings.failAfterDeliveries) throw err;
      const reason = `${permanent ? 'cannot work this candidate' : `failed on ${deliveryCount} deliveries`}: ${(err as Error).message}`;
      if (inputs) await failCandidate(inputs, config(campaign?.config.workerKind ?? 'heuristic'), ports, reason);
      else await failCandidate({ fork, policy: null }, config('heuristic'), ports, reason);
      return { kind: 'failed-cleanly', reason };
    }
  }

  /** CampaignAborted: running candidates of the campaign stop before their next step (their jobs are cancelled by the orchestrator). */
  campaignAborted(campaignId: string, reason: string): void {
    this.campaignStopped(campaignId, `campaign aborted: ${reason}`);
  }

  /** The campaign's work stops for `reason` (an abort, or a budget that ran out mid-round). */
  campaignStopped(campaignId: string, reason: string): void {
    if (!this.stopped.has(campaignId)) this.stopped.set(campaignId, reason);
  }

  /** Reads the log for the campaign's stop (abort or budget) unless known, or (with `maxAgeMs`) unless checked that recently. */
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
