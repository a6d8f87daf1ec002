import type { SubstrateManifest } from '@aevo/contracts';
import { SubstrateManifest as Schema } from '@aevo/contracts';
import { defaultFixtureManifest } from './fixture';
import { checkpointDirName, placeholdersIn, renderEntrypoint, renderTemplate } from './placeholders';

const manifest: SubstrateManifest = Schema.parse(defaultFixtureManifest());

describe('renderEntrypoint', () => {
  it('substitutes every placeholder', () => {
    const argv = renderEntrypoint(manifest, 'evaluate', {
      checkpoint: 'runs/s1/step-000100',
      split: 'dev',
      scores: 'out/scores.json',
    });
    expect(argv).toEqual([
      'python3',
      'harness/evaluate.py',
      '--checkpoint',
      'runs/s1/step-000100',
      '--split',
      'dev',
      '--out',
      'out/scores.json',
    ]);
  });

  it('names every missing placeholder', () => {
    expect(() => renderEntrypoint(manifest, 'evaluate', { checkpoint: 'c' })).toThrow(/\{split\}, \{scores\}/);
    try {
      renderEntrypoint(manifest, 'evaluate', { checkpoint: 'c' });
    } catch (err) {
      expect((err as { issues: unknown }).issues).toEqual([
        { path: 'values.split', message: "required by evaluate's command" },
        { path: 'values.scores', message: "required by evaluate's command" },
      ]);
    }
  });

  it('refuses an unknown entrypoint and absent leaderboard commands', () => {
    expect(() => renderEntrypoint(manifest, 'deploy' as never, {})).toThrow(/unknown entrypoint "deploy"/);
    expect(() => renderEntrypoint(manifest, 'leaderboard.score', {})).toThrow(/no leaderboard section/);
  });
});

describe('templates', () => {
  it('formats integers and keeps doubled braces literal', () => {
    expect(renderTemplate('step-{step:06d}', { step: 42 })).toBe('step-000042');
    expect(renderTemplate('{n:4d}|', { n: 7 })).toBe('   7|');
    expect(renderTemplate('print({{"a": 1}})', {})).toBe('print({"a": 1})');
    expect(checkpointDirName(manifest, 100)).toBe('step-000100');
  });

  it('reports malformed placeholders', () => {
    expect(() => placeholdersIn('{oops')).toThrow(/unclosed/);
    expect(() => placeholdersIn('a}b')).toThrow(/unmatched/);
    expect(() => placeholdersIn('{Bad Name}')).toThrow(/malformed/);
    expect(() => placeholdersIn('{step:.2f}')).toThrow(/unsupported format/);
    expect(placeholdersIn('--x={seed}/{size}').map((r) => r.name)).toEqual(['seed', 'size']);
  });
});
