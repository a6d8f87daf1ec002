import { positiveIntSetting } from '@aevo/messaging';
import * as path from 'node:path';
import { DEFAULT_CLAUDE_MODEL, claudeModelProblem } from '@aevo/contracts';

export interface MetaPolicySettings {
  /** Directories a relative CampaignConfig.constitutionPath is looked up in, in order. */
  constitutionsRoots: string[];
  /**
   * The Claude meta agent, used for campaigns with metaKind "claude" (null: such campaigns fall back to the rules,
   * recorded as ClaudeFellBack). `model` is the operator default, asked only for a campaign whose CampaignStarted
   * names no claudeModel (one started before the model was a campaign setting).
   */
  claude: { model: string; apiKey: string; baseURL: string | undefined; maxTokens: number } | null;
}

/** AEVO_META_MODEL, or the SDK-current default; an id the installed SDK does not know or has retired is refused. */
function metaModel(env: NodeJS.ProcessEnv, now: Date): string {
  const model = env.AEVO_META_MODEL || DEFAULT_CLAUDE_MODEL;
  const problem = claudeModelProblem(model, now);
  if (problem !== null) throw new Error(`AEVO_META_MODEL: ${problem}`);
  return model;
}

export function metaPolicySettingsFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
  now = new Date(),
): MetaPolicySettings {
  const apiKey = env.ANTHROPIC_API_KEY;
  return {
    constitutionsRoots: [
      ...new Set(
        [env.AEVO_CONSTITUTIONS_ROOT, env.AEVO_ROOT, '.']
          .filter((x): x is string => !!x)
          .map((r) => path.resolve(cwd, r)),
      ),
    ],
    claude: apiKey
      ? {
          model: metaModel(env, now),
          apiKey,
          baseURL: env.ANTHROPIC_BASE_URL || undefined,
          maxTokens: positiveIntSetting(env, 'AEVO_META_MAX_TOKENS', 8000),
        }
      : null,
  };
}

/** Where a constitution path may point: itself when absolute, else under each root in turn. */
export const constitutionCandidates = (roots: readonly string[], p: string): string[] =>
  path.isAbsolute(p) ? [p] : roots.map((r) => path.resolve(r, p));
