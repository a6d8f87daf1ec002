import { GlobSet, globToRegExp } from './glob';

describe('glob matching of substrate paths', () => {
  it.each([
    ['recipe.yaml', 'recipe.yaml', true],
    ['recipe.yaml', 'x/recipe.yaml', false],
    ['pipeline/**', 'pipeline/build.py', true],
    ['pipeline/**', 'pipeline/sub/dir/x.py', true],
    ['pipeline/**', 'pipeline', true],
    ['pipeline/**', 'pipelines/x.py', false],
    ['*.py', 'a.py', true],
    ['*.py', 'dir/a.py', false],
    ['**/*.py', 'dir/a.py', true],
    ['**/*.py', 'a.py', true],
    ['harness/**', 'harness/eval.py', true],
    ['data/dev?.csv', 'data/dev1.csv', true],
    ['data/dev?.csv', 'data/dev12.csv', false],
    ['a.b', 'aXb', false],
  ])('%s matches %s: %s', (glob, path, expected) => {
    expect(globToRegExp(glob).test(path)).toBe(expected);
  });

  it('a set matches when any glob does', () => {
    const set = new GlobSet(['recipe.yaml', 'pipeline/**']);
    expect(set.matches('pipeline/mix.py')).toBe(true);
    expect(set.matches('harness/x.py')).toBe(false);
  });
});
