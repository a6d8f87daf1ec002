import * as path from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { CandidateForked, DomainError, type Constitution, type EventOf } from '@aevo/contracts';
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
  constructor(private readonly store: EventStore) {}
  jobs(campaignId: string): JobPort {
    let p = this.jobPorts.get(campaignId);
    if (!p) this.jobPorts.set(campaignId, (p = new EventJobPort(this.store, { campaignId })));
    return p;
  }
  evaluator(campaignId: string): EvaluationPort {
    return new EventEvaluationPort(this.store, campaignId);
  }
  async close(): Promise<void> {}
}

export class LocalPorts implements CandidatePorts {
  readonly executor: LocalExecutor;
  private readonly home: string;
  constructor(private readonly settings: Pick<WorkerSettings, 'aevoHome' | 'localSlots' | 'device'>) {
    this.home = path.resolve(settings.aevoHome, 'worker-local');
    this.executor = new LocalExecutor({ home: this.home, cpuSlots: settings.localSlots });
  }
  jobs(campaignId: string): JobPort {
    return new LocalJobPort(this.executor, campaignId, { logDir: path.join(this.home, 'logs') });
  }
  evaluator(campaignId: string, size: string): EvaluationPort {
    return new LocalEvaluationPort(this.jobs(campaignId), { scoresDir: path.join(this.home, 'scores'), size, device: this.settings.device });
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
    if (!settings.claude.apiKey) throw new DomainError('NO_API_KEY', 'the campaign asks for Claude workers but ANTHROPIC_API_KEY is not set', [{ path: 'ANTHROPIC_API_KEY', message: 'required' }]);
    const c = campaign.constitution;
    return new ClaudeAgent({
      client: new Anthropic({ apiKey: settings.claude.apiKey, baseURL: settings.claude.baseURL ?? undefined, maxRetries: 0 }),
      model: settings.claude.model,
      constitutionExcerpt: constitutionExcerpt(c),
      maxTokensPerTurn: settings.claude.maxTokensPerTurn,
      maxAttempts: settings.claude.maxAttempts,
    });
  };
}

export type RunnerOutcome = CandidateOutcome | { kind: 'lease-lost' } | { kind: 'failed-cleanly'; reason: string };

/**
 * Handles one CandidateForked: looks up the campaign's fixed settings and the policy revision the fork names,
 * then runs (or resumes, from the candidate's trace) the candidate to its end. Errors that a retry may cure
 * (database, a policy not recorded yet) propagate so the message is redelivered; on the last allowed delivery,
 * or when the candidate can never be worked, it is failed cleanly (WorkerFailed + failed manifest).
 */
export class CandidateRunner {
  readonly lookup: CampaignLookup;

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
    const share = c.budgets.llmTokens > 0 ? Math.floor(c.budgets.llmTokens / (c.rounds * c.workersPerRound)) : this.settings.maxTokens;
    return { maxToolCalls: this.settings.maxToolCalls, maxTokens: Math.max(1, Math.min(this.settings.maxTokens, share)) };
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
      return await runCandidate(inputs, config(agent.kind), ports, agent, { budget: this.budget(campaign) });
    } catch (err) {
      if (err instanceof LeaseLostError) return { kind: 'lease-lost' };
      const permanent = err instanceof DomainError && !['CAMPAIGN_NOT_FOUND', 'POLICY_NOT_FOUND', 'CONCURRENCY_CONFLICT'].includes(err.code);
      if (!permanent && deliveryCount < this.settings.failAfterDeliveries) throw err;
      const reason = `${permanent ? 'cannot work this candidate' : `failed on ${deliveryCount} deliveries`}: ${(err as Error).message}`;
      if (inputs) await failCandidate(inputs, config(campaign?.config.workerKind ?? 'heuristic'), ports, reason);
      else await failCandidate({ fork, policy: null }, config('heuristic'), ports, reason);
      return { kind: 'failed-cleanly', reason };
    }
  }

  async close(): Promise<void> {
    await this.ports.close();
  }
}
