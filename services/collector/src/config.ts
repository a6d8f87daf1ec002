import { positiveIntSetting } from '@aevo/messaging';
import { DEFAULT_CLAUDE_MODEL, claudeModelProblem } from '@aevo/contracts';

export interface CollectorSettings {
  /** How long after RoundStarted the collector stops waiting for manifests and scores. */
  deadlineSeconds: number;
  /** How often each replica checks open rounds (deadlines, and readiness missed by a lost message). */
  tickMs: number;
  /** How long one replica's claim on a round's prose pass holds before another may take over. */
  claimSeconds: number;
  /**
   * The optional Claude prose pass. It asks the campaign's model (CampaignStarted's claudeModel); `model` is the
   * operator default, asked only for a campaign that names none (one started before the model was a setting).
   */
  prose:
    { kind: 'off' } | { kind: 'claude'; model: string; apiKey: string; baseURL: string | undefined; maxTokens: number };
}

/** Reads the collector's settings; a bad value is refused naming the variable. */
export function collectorSettingsFromEnv(env: NodeJS.ProcessEnv = process.env, now = new Date()): CollectorSettings {
  const kind = env.AEVO_COLLECTOR_PROSE ?? 'off';
  if (kind !== 'off' && kind !== 'claude')
    throw new Error(`AEVO_COLLECTOR_PROSE: expected "off" or "claude", got ${JSON.stringify(kind)}`);
  const settings: CollectorSettings = {
    deadlineSeconds: positiveIntSetting(env, 'AEVO_COLLECTOR_DEADLINE_SECONDS', 6 * 3600),
    tickMs: positiveIntSetting(env, 'AEVO_COLLECTOR_TICK_MS', 5000),
    claimSeconds: positiveIntSetting(env, 'AEVO_COLLECTOR_CLAIM_SECONDS', 300),
    prose: { kind: 'off' },
  };
  if (kind === 'claude') {
    const apiKey = env.ANTHROPIC_API_KEY;
    if (!apiKey) throw new Error('AEVO_COLLECTOR_PROSE=claude needs ANTHROPIC_API_KEY');
    const model = env.AEVO_COLLECTOR_MODEL || DEFAULT_CLAUDE_MODEL;
    const problem = claudeModelProblem(model, now);
    if (problem !== null) throw new Error(`AEVO_COLLECTOR_MODEL: ${problem}`);
    settings.prose = {
      kind: 'claude',
      model,
      apiKey,
      baseURL: env.ANTHROPIC_BASE_URL || undefined,
      maxTokens: positiveIntSetting(env, 'AEVO_COLLECTOR_MAX_TOKENS', 2000),
    };
  }
  return settings;
}
