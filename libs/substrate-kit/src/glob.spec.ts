import fc from 'fast-check';
import { GlobSet, globProblems, globsOverlap, matchesGlob } from './glob';

describe('matchesGlob', () => {
  it.each([
    ['recipe.yaml', 'recipe.yaml', true],
    ['recipe.yaml', 'sub/recipe.yaml', false],
    ['*.py', 'a.py', true],
    ['*.py', 'dir/a.py', false],
    ['pipeline/**', 'pipeline/a.py', true],
    ['pipeline/**', 'pipeline/x/y/z.py', true],
    ['pipeline/**', 'pipeline', true],
    ['pipeline/**', 'pipelines/a.py', false],
    ['**/*.py', 'a.py', true],
    ['**/*.py', 'x/y/a.py', true],
    ['**/*.py', 'x/y/a.pyc', false],
    ['a/**/b', 'a/b', true],
    ['a/**/b', 'a/x/y/b', true],
    ['a/**/b', 'a/xb', false],
    ['harness/**', 'harness/.hidden', true],
    ['base/ckpt-?.pt', 'base/ckpt-1.pt', true],
    ['base/ckpt-?.pt', 'base/ckpt-10.pt', false],
    ['a.b', 'axb', false],
    ['**', 'any/thing', true],
  ])('%s vs %s → %s', (pattern, p, expected) => {
    expect(matchesGlob(pattern, p)).toBe(expected);
  });
});

describe('globProblems', () => {
  it('refuses syntax other consumers would read differently', () => {
    expect(globProblems('{a,b}/**')[0]).toMatch(/brace/);
    expect(globProblems('[ab].py')[0]).toMatch(/character classes/);
    expect(globProblems('/abs/**')[0]).toMatch(/relative/);
    expect(globProblems('../x')[0]).toMatch(/\.\./);
    expect(globProblems('dir/')[0]).toMatch(/trailing/);
    expect(globProblems('a//b')[0]).toMatch(/empty/);
    expect(globProblems('harness/**')).toEqual([]);
  });
});

describe('globsOverlap (exact)', () => {
  it.each([
    ['pipeline/**', 'pipeline/**', true],
    ['pipeline/**', 'pipeline/eval/**', true],
    ['pipeline/**', 'pipeline/eval.py', true],
    ['**/*.py', 'harness/**', true],
    ['*.py', 'harness/**', false],
    ['recipe.yaml', 'harness/**', false],
    ['recipe.yaml', '*.yaml', true],
    ['pipeline/*.py', 'pipeline/data/**', false],
    ['a/**/z', 'a/b/**', true],
    ['a?c', 'abd', false],
    ['a*', '*b', true],
    ['x/*', 'x/*/y', false],
  ])('%s ∩ %s → %s', (a, b, expected) => {
    expect(globsOverlap(a, b)).toBe(expected);
    expect(globsOverlap(b, a)).toBe(expected);
  });

  it('never claims overlap without a witness and finds every witness among sample paths', () => {
    const seg = fc.constantFrom('a', 'b', 'ab', '*', '?', '**', 'a*', '*.py', 'x.py');
    const pattern = fc.array(seg, { minLength: 1, maxLength: 4 }).map((s) => s.join('/'));
    const pathSeg = fc.constantFrom('a', 'b', 'ab', 'x.py', 'ba', 'c');
    const paths = fc.array(
      fc.array(pathSeg, { minLength: 1, maxLength: 5 }).map((s) => s.join('/')),
      { minLength: 30, maxLength: 60 },
    );
    fc.assert(
      fc.property(pattern, pattern, paths, (p, q, ps) => {
        const witness = ps.find((x) => matchesGlob(p, x) && matchesGlob(q, x));
        if (witness !== undefined) expect(globsOverlap(p, q)).toBe(true);
      }),
      { numRuns: 400, seed: 42 },
    );
  });
});

describe('GlobSet', () => {
  it('names the matching patterns', () => {
    const s = new GlobSet(['harness/**', '**/*.py']);
    expect(s.matches('harness/m.py')).toBe(true);
    expect(s.matching('harness/m.py')).toEqual(['harness/**', '**/*.py']);
    expect(s.matches('README.md')).toBe(false);
  });
});
