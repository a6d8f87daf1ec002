import Anthropic from '@anthropic-ai/sdk';
import { DomainError, type Constitution } from '@aevo/contracts';
import { ClaudeAgent, HeuristicAgent, type WorkerAgent } from '@aevo/worker-kit';
import type { CampaignFacts } from './campaign-lookup';
import type { WorkerSettings } from '../config';

export type AgentFactory = (campaign: CampaignFacts) => WorkerAgent;

/** What a worker is shown of the constitution: its text and meta-rules, as pinned in CampaignStarted. */
export function constitutionExcerpt(c: Constitution): string {
  const r = c.rules;
  return [
    `Constitution ${c.name} ${c.version} (read-only; pinned at campaign start).`,
    c.text.trim(),
    `Meta-rules: the leaderboard is authoritative; the dead-end registry only grows; promotion requires a ` +
      `leaderboard gain; rotate the axis category after ${r.plateauRoundsBeforeRotation} plateau rounds; a ` +
      `dev gain beyond ${r.decouplingNoiseMultiple}x the dev noise with the leaderboard within noise flags ` +
      `proxy decoupling.`,
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
      // The campaign's model as StartCampaign recorded it; the configured one only for a campaign started before
      // the model was a campaign setting.
      model: campaign.config.claudeModel ?? settings.claude.model,
      constitutionExcerpt: constitutionExcerpt(c),
      maxTokensPerTurn: settings.claude.maxTokensPerTurn,
      retry: { patienceMs: settings.claude.retryPatienceSeconds * 1000 },
      context: { clearAtTokens: settings.claude.clearContextAtTokens },
      cacheTtl: settings.claude.cacheTtl,
    });
  };
}
