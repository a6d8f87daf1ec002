/**
 * The Claude model ids the installed `@anthropic-ai/sdk` (1.14.0) knows, and the end-of-life dates its deprecation
 * data gives. The SDK has them only as a TypeScript union (`Model` in resources/messages/messages.d.ts) and in an
 * unexported module (internal/data/deprecated-models), so they are copied here; `claude-models.spec.ts` reads both
 * from the installed SDK and fails when they no longer match (an SDK upgrade must update this file).
 */
export const CLAUDE_MODEL_IDS = [
  'claude-fable-5-2',
  'claude-mythos-5-2',
  'claude-haiku-5-5',
  'claude-sonnet-5-5',
  'claude-fable-5-1',
  'claude-opus-5-5',
  'claude-mythos-5-1',
  'claude-sonnet-5',
  'claude-fable-5',
  'claude-mythos-5',
  'claude-opus-5',
  'claude-opus-4-8',
  'claude-opus-4-7',
  'claude-mythos-preview',
  'claude-opus-4-6',
  'claude-sonnet-4-6',
  'claude-haiku-4-5',
  'claude-haiku-4-5-20251001',
  'claude-opus-4-5',
  'claude-opus-4-5-20251101',
  'claude-sonnet-4-5',
  'claude-sonnet-4-5-20250929',
] as const;

/** End of life (UTC day, inclusive: from that day on the API refuses the model) of the SDK's deprecated models. */
export const CLAUDE_MODEL_END_OF_LIFE: Readonly<Record<string, string>> = {
  'claude-mythos-preview': '2026-06-30',
  'claude-opus-4-5': '2027-01-22',
  'claude-opus-4-5-20251101': '2027-01-22',
  'claude-sonnet-4-5': '2026-11-30',
  'claude-sonnet-4-5-20250929': '2026-11-30',
};

/** The worker's default: the newest Sonnet of the SDK's list, not deprecated. */
export const DEFAULT_CLAUDE_MODEL = 'claude-sonnet-5-5';

export type ClaudeModelStatus = { kind: 'current' } | { kind: 'deprecated'; endOfLife: string } | { kind: 'retired'; endOfLife: string } | { kind: 'unknown' };

export function claudeModelStatus(model: string, now: Date = new Date()): ClaudeModelStatus {
  if (!(CLAUDE_MODEL_IDS as readonly string[]).includes(model)) return { kind: 'unknown' };
  const eol = CLAUDE_MODEL_END_OF_LIFE[model];
  if (!eol) return { kind: 'current' };
  return now.toISOString().slice(0, 10) >= eol ? { kind: 'retired', endOfLife: eol } : { kind: 'deprecated', endOfLife: eol };
}

/**
 * Null when `model` can be used; otherwise why not (retired, or not a model the SDK knows). A deprecated model that
 * has not reached its end of life is usable (the SDK itself warns on each request).
 */
export function claudeModelProblem(model: string, now: Date = new Date()): string | null {
  const s = claudeModelStatus(model, now);
  if (s.kind === 'retired') return `model ${JSON.stringify(model)} was retired on ${s.endOfLife} (the SDK's deprecation list); use a current model such as ${DEFAULT_CLAUDE_MODEL}`;
  if (s.kind === 'unknown')
    return `model ${JSON.stringify(model)} is not a model id the installed @anthropic-ai/sdk knows; known ids: ${CLAUDE_MODEL_IDS.filter((m) => claudeModelStatus(m, now).kind !== 'retired').join(', ')}`;
  return null;
}
