/**
 * The Claude model ids a campaign may name, as the installed `@anthropic-ai/sdk` (1.14.0) knows them: the literal
 * members of its `Model` type (resources/messages/messages.d.ts), each with the end-of-life date its deprecation
 * list gives (internal/data/deprecated-models.js, the table behind the SDK's own "is deprecated and will reach
 * end-of-life" warning). The contracts carry no runtime dependency on the SDK, so the table is written out here;
 * claude-models.spec.ts reads the installed SDK and fails when the two disagree, so an SDK upgrade forces an update.
 */
export interface ClaudeModelInfo {
  id: string;
  /**
   * The SDK's end-of-life date (UTC day, YYYY-MM-DD) for a deprecated model; null for one not on its deprecation list.
   */
  retiresOn: string | null;
}

export const CLAUDE_MODELS: readonly ClaudeModelInfo[] = [
  { id: 'claude-fable-5-2', retiresOn: null },
  { id: 'claude-mythos-5-2', retiresOn: null },
  { id: 'claude-haiku-5-5', retiresOn: null },
  { id: 'claude-sonnet-5-5', retiresOn: null },
  { id: 'claude-fable-5-1', retiresOn: null },
  { id: 'claude-opus-5-5', retiresOn: null },
  { id: 'claude-mythos-5-1', retiresOn: null },
  { id: 'claude-sonnet-5', retiresOn: null },
  { id: 'claude-fable-5', retiresOn: null },
  { id: 'claude-mythos-5', retiresOn: null },
  { id: 'claude-opus-5', retiresOn: null },
  { id: 'claude-opus-4-8', retiresOn: null },
  { id: 'claude-opus-4-7', retiresOn: null },
  { id: 'claude-mythos-preview', retiresOn: '2026-06-30' },
  { id: 'claude-opus-4-6', retiresOn: null },
  { id: 'claude-sonnet-4-6', retiresOn: null },
  { id: 'claude-haiku-4-5', retiresOn: null },
  { id: 'claude-haiku-4-5-20251001', retiresOn: null },
  { id: 'claude-opus-4-5', retiresOn: '2027-01-22' },
  { id: 'claude-opus-4-5-20251101', retiresOn: '2027-01-22' },
  { id: 'claude-sonnet-4-5', retiresOn: '2026-11-30' },
  { id: 'claude-sonnet-4-5-20250929', retiresOn: '2026-11-30' },
];

/**
 * The model a campaign gets when it names none (and the services' operator default): the Sonnet the SDK's own
 * examples use (`messages.parse` / `messages.stream` in resources/messages/messages.d.ts), not on its deprecation list.
 */
export const DEFAULT_CLAUDE_MODEL = 'claude-sonnet-5-5';

/**
 * Why `model` cannot be used at `at`, or null when it can: an id the SDK does not know (a typo, or a model newer
 * than the installed SDK: upgrade the SDK first), or one whose end-of-life date has come (the API refuses it).
 */
export function claudeModelProblem(model: string, at: Date): string | null {
  const known = CLAUDE_MODELS.find((m) => m.id === model);
  const current = CLAUDE_MODELS.filter((m) => m.retiresOn === null || !retiredAt(m.retiresOn, at)).map((m) => m.id);
  if (!known) return `unknown Claude model ${JSON.stringify(model)} (the installed SDK knows: ${current.join(', ')})`;
  if (known.retiresOn !== null && retiredAt(known.retiresOn, at))
    return `Claude model ${model} was retired on ${known.retiresOn}; use a current one, e.g. ${DEFAULT_CLAUDE_MODEL}`;
  return null;
}

/** A model is gone from the start of its end-of-life day (UTC): the API may refuse it any time that day. */
const retiredAt = (retiresOn: string, at: Date): boolean => at.getTime() >= Date.parse(`${retiresOn}T00:00:00Z`);
