import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLAUDE_MODELS, DEFAULT_CLAUDE_MODEL, claudeModelProblem } from './claude-models';

// The installed SDK is the upstream definition: its package root, found the way Node finds it.
const SDK_ROOT = path.dirname(require.resolve('@anthropic-ai/sdk'));
const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

/** The literal members of `export type Model = ...;` in the SDK's messages typings. */
function sdkModelIds(): string[] {
  const dts = fs.readFileSync(path.join(SDK_ROOT, 'resources/messages/messages.d.ts'), 'utf8');
  const decl = /export type Model =([^;]+);/.exec(dts);
  if (!decl) throw new Error('no `export type Model` in the SDK typings');
  return [...decl[1].matchAll(/'([^']+)'/g)].map((m) => m[1]);
}

/** The SDK's deprecation table (not an exported path: read by file), its dates turned into YYYY-MM-DD. */
function sdkRetirements(): Record<string, string> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { DEPRECATED_MODELS } = require(path.join(SDK_ROOT, 'internal/data/deprecated-models.js')) as {
    DEPRECATED_MODELS: Record<string, string>;
  };
  return Object.fromEntries(
    Object.entries(DEPRECATED_MODELS).map(([id, when]) => {
      const m = /^(\w+) (\d{1,2})(?:st|nd|rd|th), (\d{4})$/.exec(when);
      if (!m || !MONTHS.includes(m[1]))
        throw new Error(`unexpected end-of-life date ${JSON.stringify(when)} for ${id}`);
      return [id, `${m[3]}-${String(MONTHS.indexOf(m[1]) + 1).padStart(2, '0')}-${m[2].padStart(2, '0')}`];
    }),
  );
}

describe('the Claude model table', () => {
  it('lists exactly the installed SDK’s model ids, with its end-of-life dates', () => {
    expect(CLAUDE_MODELS.map((m) => m.id)).toEqual(sdkModelIds());
    const retirements = sdkRetirements();
    for (const id of Object.keys(retirements)) expect(sdkModelIds()).toContain(id);
    expect(Object.fromEntries(CLAUDE_MODELS.map((m) => [m.id, m.retiresOn]))).toEqual(
      Object.fromEntries(sdkModelIds().map((id) => [id, retirements[id] ?? null])),
    );
  });

  it('defaults to a model the SDK does not deprecate', () => {
    expect(sdkModelIds()).toContain(DEFAULT_CLAUDE_MODEL);
    expect(sdkRetirements()[DEFAULT_CLAUDE_MODEL]).toBeUndefined();
    expect(claudeModelProblem(DEFAULT_CLAUDE_MODEL, new Date('2030-01-01T00:00:00Z'))).toBeNull();
  });

  it('refuses a model from its end-of-life day on, and an id the SDK does not know', () => {
    expect(claudeModelProblem('claude-sonnet-4-5', new Date('2026-11-29T23:59:59Z'))).toBeNull();
    expect(claudeModelProblem('claude-sonnet-4-5', new Date('2026-11-30T00:00:00Z'))).toBe(
      'Claude model claude-sonnet-4-5 was retired on 2026-11-30; use a current one, e.g. claude-sonnet-5-5',
    );
    const unknown = claudeModelProblem('claude-sonet-5-5', new Date('2026-12-07T00:00:00Z'));
    expect(unknown).toMatch(/^unknown Claude model "claude-sonet-5-5" \(the installed SDK knows: claude-fable-5-2, /);
    // The list offered in the message leaves the retired ones out.
    expect(unknown).not.toContain('claude-sonnet-4-5');
    expect(unknown).toContain('claude-opus-4-5');
  });
});
