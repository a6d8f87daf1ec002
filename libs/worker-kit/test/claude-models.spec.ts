import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLAUDE_MODEL_END_OF_LIFE, CLAUDE_MODEL_IDS, DEFAULT_CLAUDE_MODEL, claudeModelProblem, claudeModelStatus } from '../src';

/** The installed SDK's own files: the Model union of its types and its (unexported) deprecation data. */
const sdkDir = path.dirname(require.resolve('@anthropic-ai/sdk'));

describe('Claude model ids, checked against the installed @anthropic-ai/sdk', () => {
  it('lists exactly the ids of the SDK Model type', () => {
    const dts = fs.readFileSync(path.join(sdkDir, 'resources/messages/messages.d.ts'), 'utf8');
    const union = /export type Model =([^;]*);/.exec(dts);
    expect(union).not.toBeNull();
    const ids = [...union![1].matchAll(/'([^']+)'/g)].map((m) => m[1]);
    expect(ids.length).toBeGreaterThan(5);
    expect([...CLAUDE_MODEL_IDS]).toEqual(ids);
  });

  it('has the end-of-life dates of the SDK deprecation list', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { DEPRECATED_MODELS } = require(path.join(sdkDir, 'internal/data/deprecated-models.js')) as { DEPRECATED_MODELS: Record<string, string> };
    const asDay = (s: string): string => {
      const d = new Date(`${s.replace(/(\d+)(st|nd|rd|th)/, '$1')} UTC`);
      return d.toISOString().slice(0, 10);
    };
    expect(Object.keys(CLAUDE_MODEL_END_OF_LIFE).sort()).toEqual(Object.keys(DEPRECATED_MODELS).sort());
    for (const [id, when] of Object.entries(DEPRECATED_MODELS)) expect([id, CLAUDE_MODEL_END_OF_LIFE[id]]).toEqual([id, asDay(when)]);
  });

  it('refuses a retired or unknown model with a clear reason and accepts the default and a deprecated one still live', () => {
    const day = new Date('2026-12-07T08:00:00Z');
    expect(claudeModelStatus('claude-sonnet-4-5', day)).toEqual({ kind: 'retired', endOfLife: '2026-11-30' });
    expect(claudeModelProblem('claude-sonnet-4-5', day)).toMatch(/retired on 2026-11-30/);
    expect(claudeModelProblem('claude-sonnet-4-5', new Date('2026-11-29T23:59:00Z'))).toBeNull();
    expect(claudeModelStatus('claude-opus-4-5', day)).toEqual({ kind: 'deprecated', endOfLife: '2027-01-22' });
    expect(claudeModelProblem('claude-opus-4-5', day)).toBeNull();
    expect(claudeModelProblem('claude-test-1', day)).toMatch(/not a model id the installed @anthropic-ai\/sdk knows/);
    expect(claudeModelProblem(DEFAULT_CLAUDE_MODEL, day)).toBeNull();
    expect(DEFAULT_CLAUDE_MODEL).toMatch(/sonnet/);
  });
});
