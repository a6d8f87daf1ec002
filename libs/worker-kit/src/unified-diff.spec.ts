import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { unifiedDiff } from './unified-diff';

/** Applies a diff with GNU patch, the reader the format is for. */
function applyWithPatch(before: string, diff: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'udiff-'));
  try {
    fs.writeFileSync(path.join(dir, 'f.txt'), before);
    fs.writeFileSync(path.join(dir, 'd.patch'), diff);
    execFileSync('patch', ['-s', '-p1', '-i', 'd.patch'], { cwd: dir });
    return fs.readFileSync(path.join(dir, 'f.txt'), 'utf8');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('unifiedDiff', () => {
  it('is empty for equal texts', () => {
    expect(unifiedDiff('f', 'a\nb\n', 'a\nb\n')).toBe('');
  });

  it('writes the format diff -u writes for a one-line change', () => {
    const before = 'lr: 0.001\nsteps: 100\nbatch: 8\n';
    const after = 'lr: 0.002\nsteps: 100\nbatch: 8\n';
    expect(unifiedDiff('recipe.yaml', before, after)).toBe(
      [
        '--- a/recipe.yaml',
        '+++ b/recipe.yaml',
        '@@ -1,3 +1,3 @@',
        '-lr: 0.001',
        '+lr: 0.002',
        ' steps: 100',
        ' batch: 8',
        '',
      ].join('\n'),
    );
  });

  it('separates distant changes into hunks and keeps three lines of context', () => {
    const lines = Array.from({ length: 20 }, (_, i) => `line ${i}`);
    const after = lines.slice();
    after[1] = 'changed 1';
    after[18] = 'changed 18';
    const d = unifiedDiff('f', lines.join('\n') + '\n', after.join('\n') + '\n');
    expect(d.match(/^@@/gm)).toHaveLength(2);
    expect(d).toContain('@@ -1,5 +1,5 @@');
    expect(d).toContain('@@ -16,5 +16,5 @@');
  });

  it('marks a missing final newline and handles creation', () => {
    expect(unifiedDiff('f', 'a\nb', 'a\nc')).toContain('\\ No newline at end of file');
    const created = unifiedDiff('pipeline/new.py', null, 'x = 1\n');
    expect(created).toBe(['--- /dev/null', '+++ b/pipeline/new.py', '@@ -0,0 +1 @@', '+x = 1', ''].join('\n'));
  });

  it('round-trips through GNU patch for arbitrary edits (property)', () => {
    const line = fc.constantFrom('a', 'b', 'c', 'lr: 1', 'steps: 2', '', '  x');
    const text = fc
      .tuple(fc.array(line, { maxLength: 25 }), fc.boolean())
      .map(([ls, eol]) => (ls.length === 0 ? '' : ls.join('\n') + (eol ? '\n' : '')));
    fc.assert(
      fc.property(text, text, (before, after) => {
        const d = unifiedDiff('f.txt', before, after);
        if (before === after) return d === '';
        return applyWithPatch(before, d) === after;
      }),
      { numRuns: 60 },
    );
  });
});
