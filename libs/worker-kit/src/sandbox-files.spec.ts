import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PathRefusedError, SandboxFiles, printablePath } from './sandbox-files';

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
    files = new SandboxFiles(root, {
      editable: ['recipe.yaml', 'pipeline/**'],
      frozen: ['harness/**', 'substrate.yaml'],
      outputDirs: ['runs'],
    });
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
    expect(Object.keys(byPath).sort()).toEqual([
      'harness/eval.py',
      'pipeline/build.py',
      'pipeline/escape',
      'pipeline/secret.py',
      'recipe.yaml',
    ]);
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
    expect(files.read('pipeline/big.txt', { offset: 2, limit: 3 })).toEqual({
      path: 'pipeline/big.txt',
      content: 'cde',
      bytes: 10,
      truncated: true,
    });
  });

  describe('writes replace the file, never write through it', () => {
    const inode = (rel: string) => fs.statSync(path.join(root, rel)).ino;

    it(
      'given an executable pipeline script, when it is rewritten, then it is a new ' +
        'inode with the same mode and no temp file is left',
      () => {
        fs.chmodSync(path.join(root, 'pipeline/build.py'), 0o755);
        const before = inode('pipeline/build.py');
        const w = files.write('pipeline/build.py', 'print(3)\n');
        expect(w.previous).toBe('print(1)\n');
        expect(fs.readFileSync(path.join(root, 'pipeline/build.py'), 'utf8')).toBe('print(3)\n');
        expect(fs.statSync(path.join(root, 'pipeline/build.py')).mode & 0o777).toBe(0o755);
        expect(inode('pipeline/build.py')).not.toBe(before);
        expect(fs.readdirSync(path.join(root, 'pipeline')).sort()).toEqual(['build.py', 'escape', 'secret.py']);
      },
    );

    it('given a new file, when it is written, then it gets mode 644 whatever the umask', () => {
      const old = process.umask(0o077);
      try {
        files.write('pipeline/fresh.py', 'x\n');
      } finally {
        process.umask(old);
      }
      expect(fs.statSync(path.join(root, 'pipeline/fresh.py')).mode & 0o777).toBe(0o644);
    });

    it(
      'given a frozen file hard-linked into pipeline/, when the worker writes the ' +
        'link, then it is refused and the frozen file is intact',
      () => {
        fs.linkSync(path.join(root, 'harness/eval.py'), path.join(root, 'pipeline/eval.py'));
        const e = refusal(() => files.write('pipeline/eval.py', 'def score(): return 1.0\n'));
        expect(e.kind).toBe('hard-link');
        expect(e.message).toContain('pipeline/eval.py has 2 hard links');
        expect(fs.readFileSync(path.join(root, 'harness/eval.py'), 'utf8')).toBe('frozen\n');
        expect(files.accesses.at(-1)).toEqual({
          op: 'write',
          absPath: path.join(fs.realpathSync(root), 'pipeline/eval.py'),
          ok: false,
        });
      },
    );

    it(
      'given a file of an outside "snapshot" hard-linked as the recipe, when the ' +
        'recipe is written, then the snapshot copy keeps its bytes',
      () => {
        const snapshotFile = path.join(outside, 'metric.py');
        fs.writeFileSync(snapshotFile, 'pinned\n');
        fs.rmSync(path.join(root, 'recipe.yaml'));
        fs.linkSync(snapshotFile, path.join(root, 'recipe.yaml'));
        expect(refusal(() => files.write('recipe.yaml', 'lr: 1\n')).kind).toBe('hard-link');
        expect(fs.readFileSync(snapshotFile, 'utf8')).toBe('pinned\n');
      },
    );

    it(
      'given a hard link planted after the checks (a race), when the write ' +
        'completes, then the link is replaced, not written through',
      () => {
        // Plants the link between the lstat checks and the rename: the first directory the write creates or confirms.
        const realFs = jest.requireActual<typeof fs>('node:fs');
        let planted = false;
        const mkdir = jest.spyOn(realFs, 'mkdirSync').mockImplementationOnce(() => {
          realFs.linkSync(path.join(root, 'harness/eval.py'), path.join(root, 'pipeline/late.py'));
          planted = true;
          return undefined; // pipeline/ exists already
        });
        try {
          files.write('pipeline/late.py', 'pwned\n');
        } finally {
          mkdir.mockRestore();
        }
        expect(planted).toBe(true);
        expect(fs.readFileSync(path.join(root, 'harness/eval.py'), 'utf8')).toBe('frozen\n');
        expect(fs.readFileSync(path.join(root, 'pipeline/late.py'), 'utf8')).toBe('pwned\n');
        expect(fs.statSync(path.join(root, 'harness/eval.py')).nlink).toBe(1);
      },
    );

    it('given two editable files sharing an inode, when either is written, then it is refused', () => {
      fs.linkSync(path.join(root, 'pipeline/build.py'), path.join(root, 'pipeline/twin.py'));
      expect(refusal(() => files.write('pipeline/twin.py', 'x')).kind).toBe('hard-link');
      expect(refusal(() => files.write('pipeline/build.py', 'x')).kind).toBe('hard-link');
      expect(fs.readFileSync(path.join(root, 'pipeline/build.py'), 'utf8')).toBe('print(1)\n');
    });

    it(
      'given a hard link planted at a runtime output path, when the runtime writes its recipe ' +
        'copy there, then it is refused and the linked file is intact',
      () => {
        fs.linkSync(path.join(root, 'harness/eval.py'), path.join(root, 'runs/x/recipe.yaml'));
        expect(refusal(() => files.writeOutput('runs/x/recipe.yaml', 'lr: 1\n')).kind).toBe('hard-link');
        expect(fs.readFileSync(path.join(root, 'harness/eval.py'), 'utf8')).toBe('frozen\n');
      },
    );

    it('given an existing runtime output, when it is written again, then it is replaced', () => {
      files.writeOutput('runs/x/log.txt', 'new\n');
      expect(fs.readFileSync(path.join(root, 'runs/x/log.txt'), 'utf8')).toBe('new\n');
      expect(fs.readdirSync(path.join(root, 'runs/x'))).toEqual(['log.txt']);
    });

    it('given a directory at the path, when it is written, then it is refused as not a regular file', () => {
      fs.mkdirSync(path.join(root, 'pipeline/pkg'));
      expect(refusal(() => files.write('pipeline/pkg', 'x')).kind).toBe('invalid');
      expect(fs.statSync(path.join(root, 'pipeline/pkg')).isDirectory()).toBe(true);
    });

    it(
      'given a symlink as the final component, when it is written, ' + 'then the symlink and its target are left alone',
      () => {
        fs.symlinkSync('build.py', path.join(root, 'pipeline/alias.py'));
        expect(refusal(() => files.write('pipeline/alias.py', 'x')).kind).toBe('symlink');
        expect(fs.readlinkSync(path.join(root, 'pipeline/alias.py'))).toBe('build.py');
        expect(fs.readFileSync(path.join(root, 'pipeline/build.py'), 'utf8')).toBe('print(1)\n');
      },
    );
  });

  describe('names with invisible or reordering characters', () => {
    it.each(
      [
        ['pipeline/build\u202Eyp.py', '202E', 'bidirectional control'],
        ['pipeline/\u2066x\u2069.py', '2066', 'bidirectional control'],
        ['pipeline/a\u200Eb.py', '200E', 'bidirectional control'],
        ['pipeline/a\u200Fb.py', '200F', 'bidirectional control'],
        ['pipeline/a\u061Cb.py', '061C', 'bidirectional control'],
        ['pipeline/bu\u200Bild.py', '200B', 'zero-width'],
        ['pipeline/bu\u200Dild.py', '200D', 'zero-width'],
        ['pipeline/\u2060build.py', '2060', 'zero-width'],
        ['\uFEFFrecipe.yaml', 'FEFF', 'zero-width'],
        ['pipeline/soft\u00ADhyphen.py', '00AD', 'invisible format'],
        ['pipeline/tag\u{E0041}.py', 'E0041', 'invisible format'],
        ['pipeline/line\nbreak.py', '000A', 'control character'],
        ['pipeline/esc\u001B.py', '001B', 'control character'],
        ['pipeline/c1\u0085.py', '0085', 'control character'],
        ['pipeline/sep\u2028.py', '2028', 'line or paragraph separator'],
        ['pipe\u202Eline/x.py', '202E', 'bidirectional control'],
      ].map(([p, cp, what]) => [printablePath(p), cp, p, what]),
    )('given %s, when it is written, then it is refused naming U+%s and nothing is created', (_label, cp, p, what) => {
      const e = refusal(() => files.write(p, 'x'));
      expect(e.kind).toBe('unsafe-name');
      expect(e.message).toContain(`U+${cp} (a`);
      expect(e.message).toContain(what);
      const component = p
        .split('/')
        .find((seg) => [...seg].some((c) => c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0') === cp))!;
      expect(e.message).toContain(`path component ${printablePath(component)}`);
      // the message itself shows escapes, not the characters
      expect(e.message).not.toContain(String.fromCodePoint(parseInt(cp, 16)));
      expect(fs.readdirSync(path.join(root, 'pipeline')).sort()).toEqual(['build.py', 'escape', 'secret.py']);
      expect(fs.readdirSync(root).sort()).toEqual(['harness', 'pipeline', 'recipe.yaml', 'runs']);
    });

    it('given an unsafe name under an output directory, when the runtime writes it, then it is refused too', () => {
      expect(refusal(() => files.writeOutput('runs/x\u202E/recipe.yaml', 'x')).kind).toBe('unsafe-name');
    });

    it('given ordinary non-ASCII names, when they are written, then they are accepted', () => {
      files.write('pipeline/données_été.py', 'x\n');
      files.write('pipeline/数据 prep.py', 'x\n');
      expect(fs.existsSync(path.join(root, 'pipeline/données_été.py'))).toBe(true);
      expect(fs.existsSync(path.join(root, 'pipeline/数据 prep.py'))).toBe(true);
    });

    it('escapes the characters in printable paths', () => {
      expect(printablePath('a\u202Eb\u{E0041}')).toBe('"a\\u202Eb\\u{E0041}"');
      expect(printablePath('pipeline/x.py')).toBe('"pipeline/x.py"');
    });
  });
});
