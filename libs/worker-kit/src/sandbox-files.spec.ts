import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PathRefusedError, SandboxFiles } from './sandbox-files';

describe('SandboxFiles', () => {
  let root: string;
  let outside: string;
  let files: SandboxFiles;

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'sbx-'));
    outside = fs.mkdtempSync(path.join(os.tmpdir(), 'outside-'));
    fs.writeFileSync(path.join(outside, 'secret.txt'), 'secret');
    fs.writeFileSync(path.join(root, 'recipe.yaml'), 'lr: 0.001\n');
    fs.mkdirSync(path.join(root, 'pipeline'));
    fs.writeFileSync(path.join(root, 'pipeline', 'build.py'), 'print(1)\n');
    fs.mkdirSync(path.join(root, 'harness'));
    fs.writeFileSync(path.join(root, 'harness', 'eval.py'), 'frozen\n');
    fs.mkdirSync(path.join(root, 'runs', 'x'), { recursive: true });
    fs.writeFileSync(path.join(root, 'runs', 'x', 'log.txt'), 'log\n');
    fs.symlinkSync(outside, path.join(root, 'pipeline', 'escape'));
    fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(root, 'pipeline', 'secret.py'));
    files = new SandboxFiles(root, { editable: ['recipe.yaml', 'pipeline/**'], frozen: ['harness/**', 'substrate.yaml'], outputDirs: ['runs'] });
  });
  afterEach(() => {
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(outside, { recursive: true, force: true });
  });

  const refusal = (fn: () => unknown): PathRefusedError => {
    try {
      fn();
    } catch (err) {
      if (err instanceof PathRefusedError) return err;
      throw err;
    }
    throw new Error('expected a refusal');
  };

  it('writes editable files and reports the previous content', () => {
    const w = files.write('pipeline/build.py', 'print(2)\n');
    expect(w).toEqual({ path: 'pipeline/build.py', bytes: 9, previous: 'print(1)\n' });
    expect(fs.readFileSync(path.join(root, 'pipeline/build.py'), 'utf8')).toBe('print(2)\n');
    files.write('pipeline/new/dir/x.py', 'x\n');
    expect(fs.existsSync(path.join(root, 'pipeline/new/dir/x.py'))).toBe(true);
  });

  it.each([
    ['../outside.txt', 'escape'],
    ['pipeline/../../x', 'escape'],
    ['pipeline/../recipe.yaml', 'escape'],
    ['/etc/passwd', 'absolute'],
    ['~/x', 'absolute'],
    ['harness/eval.py', 'frozen'],
    ['substrate.yaml', 'frozen'],
    ['runs/x/log.txt', 'not-editable'],
    ['pipeline/escape/pwned.py', 'symlink'],
    ['pipeline/secret.py', 'symlink'],
  ])('refuses to write %s (%s) and touches nothing', (p, kind) => {
    const e = refusal(() => files.write(p, 'pwned'));
    expect(e.kind).toBe(kind);
    expect(e.message).toContain(JSON.stringify(p));
    expect(fs.readFileSync(path.join(outside, 'secret.txt'), 'utf8')).toBe('secret');
    expect(fs.existsSync(path.join(outside, 'pwned.py'))).toBe(false);
    expect(fs.readFileSync(path.join(root, 'harness/eval.py'), 'utf8')).toBe('frozen\n');
  });

  it('refuses to read through symlinks or outside the sandbox', () => {
    expect(refusal(() => files.read('pipeline/secret.py')).kind).toBe('symlink');
    expect(refusal(() => files.read('pipeline/escape/secret.txt')).kind).toBe('symlink');
    expect(refusal(() => files.read('../x')).kind).toBe('escape');
    expect(refusal(() => files.read(path.join(outside, 'secret.txt'))).kind).toBe('absolute');
    expect(files.read('harness/eval.py').content).toBe('frozen\n');
  });

  it('lists files with their flags, skipping output dirs unless named, never following symlinks', () => {
    const { files: listed } = files.list();
    const byPath = Object.fromEntries(listed.map((f) => [f.path, f]));
    expect(Object.keys(byPath).sort()).toEqual(['harness/eval.py', 'pipeline/build.py', 'pipeline/escape', 'pipeline/secret.py', 'recipe.yaml']);
    expect(byPath['recipe.yaml'].editable).toBe(true);
    expect(byPath['harness/eval.py'].frozen).toBe(true);
    expect(byPath['pipeline/escape'].symlink).toBe(true);
    expect(files.list('runs').files.map((f) => f.path)).toEqual(['runs/x/log.txt']);
  });

  it('records every access with its absolute path, all inside the sandbox', () => {
    files.read('recipe.yaml');
    files.write('recipe.yaml', 'lr: 0.002\n');
    refusal(() => files.read('pipeline/secret.py'));
    const real = fs.realpathSync(root);
    expect(files.accesses.length).toBeGreaterThanOrEqual(3);
    for (const a of files.accesses) expect(a.absPath.startsWith(real + path.sep)).toBe(true);
  });

  it('reads in pages', () => {
    fs.writeFileSync(path.join(root, 'pipeline', 'big.txt'), 'abcdefghij');
    expect(files.read('pipeline/big.txt', { offset: 2, limit: 3 })).toEqual({ path: 'pipeline/big.txt', content: 'cde', bytes: 10, truncated: true });
  });
});
