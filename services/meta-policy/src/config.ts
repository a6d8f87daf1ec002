import * as path from 'node:path';

export interface MetaPolicySettings {
  /** Directories a relative CampaignConfig.constitutionPath is looked up in, in order. */
  constitutionsRoots: string[];
  /** The Claude meta agent, used for campaigns with metaKind "claude" (null: such campaigns fall back to the rules). */
  claude: { model: string; apiKey: string; baseURL: string | undefined; maxTokens: number } | null;
}

function positiveInt(env: NodeJS.ProcessEnv, name: string, dflt: number): number {
  const raw = env[name];
  const v = raw === undefined || raw === '' ? dflt : Number(raw);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name}: expected a positive integer, got ${JSON.stringify(raw)}`);
  return v;
}

export function metaPolicySettingsFromEnv(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): MetaPolicySettings {
  const apiKey = env.ANTHROPIC_API_KEY;
  return {
    constitutionsRoots: [...new Set([env.AEVO_CONSTITUTIONS_ROOT, env.AEVO_ROOT, '.'].filter((x): x is string => !!x).map((r) => path.resolve(cwd, r)))],
    claude: apiKey
      ? { model: env.AEVO_META_MODEL ?? 'claude-sonnet-4-5', apiKey, baseURL: env.ANTHROPIC_BASE_URL || undefined, maxTokens: positiveInt(env, 'AEVO_META_MAX_TOKENS', 8000) }
      : null,
  };
}

/** Where a constitution path may point: itself when absolute, else under each root in turn. */
export const constitutionCandidates = (roots: readonly string[], p: string): string[] => (path.isAbsolute(p) ? [p] : roots.map((r) => path.resolve(r, p)));
