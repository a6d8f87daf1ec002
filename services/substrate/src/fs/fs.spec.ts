import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { parse } from 'yaml';
import { SubstrateInvalid, writeSubstrateFixture } from '@aevo/substrate-kit';
import {
  checkSnapshotIntegrity,
  pinnedHashes,
  readSnapshot,
  removeTree,
  snapshotsDir,
  takeSnapshot,
  type SnapshotRecord,
} from './snapshot-store';
import { forkSandbox } from './fork';
import { verifySandbox } from './verify';
import { HashCache, hashFile } from './hash';

jest.setTimeout(60_000);

let tmp: string;
let home: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'substrate-fs-'));
  fs.chmodSync(tmp, 0o755); // an unprivileged user must be able to reach the snapshot to prove it cannot write it
  home = path.join(tmp, 'home');
});
afterEach(() => removeTree(tmp));

const ino = (p: string) => fs.statSync(p).ino;
const substrate = (opts: Parameters<typeof writeSubstrateFixture>[1] = {}) =>
  writeSubstrateFixture(path.join(tmp, `src-${Math.random().toString(36).slice(2)}`), opts);

/** Appends to `file` as an unprivileged user (nobody): how a sandboxed job that is not root would try it. */
function appendAsNobody(file: string): { status: number | null; stderr: string } {
  const r = spawnSync(
    'setpriv',
    ['--reuid=65534', '--regid=65534', '--clear-groups', 'sh', '-c', 'echo tampered >> "$1"', 'sh', file],
    { encoding: 'utf8' },
  );
  return { status: r.status, stderr: r.stderr };
}

describe('snapshot store', () => {
  it('content-addresses the substrate: same content → same id, any change → another id', async () => {
    const src = substrate();
    const a = await takeSnapshot(src, home);
    expect(a.snapshotId).toMatch(/^[0-9a-f]{64}$/);
    expect(a.snapshotPath).toBe(path.join(snapshotsDir(home), a.snapshotId));
    const before = fs.statSync(path.join(a.snapshotPath, 'harness/metric.py'));
    const again = await takeSnapshot(src, home);
    expect(again.snapshotId).toBe(a.snapshotId);
    // the existing snapshot is not rewritten
    expect(fs.statSync(path.join(a.snapshotPath, 'harness/metric.py')).ino).toBe(before.ino);
    expect(fs.statSync(path.join(a.snapshotPath, 'harness/metric.py')).mtimeMs).toBe(before.mtimeMs);

    fs.chmodSync(path.join(src, 'pipeline/build.py'), 0o755);
    const moded = await takeSnapshot(src, home);
    expect(moded.snapshotId).not.toBe(a.snapshotId);
    fs.appendFileSync(path.join(src, 'README.md'), 'x');
    const edited = await takeSnapshot(src, home);
    expect(new Set([a.snapshotId, moded.snapshotId, edited.snapshotId]).size).toBe(3);
    fs.renameSync(path.join(src, 'README.md'), path.join(src, 'READ.md'));
    expect((await takeSnapshot(src, home)).snapshotId).not.toBe(edited.snapshotId);
    // an identical substrate elsewhere has the same id (the source location is not part of the content)
    const twin = substrate();
    expect((await takeSnapshot(twin, home)).snapshotId).toBe(a.snapshotId);
  });

  it('is read-only: an unprivileged writer is refused, and a privileged one is caught by the hash', async () => {
    const snap = await takeSnapshot(substrate(), home);
    const metric = path.join(snap.snapshotPath, 'harness/metric.py');
    expect(fs.statSync(metric).mode & 0o777).toBe(0o444);
    expect(fs.statSync(path.join(snap.snapshotPath, 'harness/train.py')).mode & 0o777).toBe(0o555);
    expect(fs.statSync(path.join(snap.snapshotPath, 'harness')).mode & 0o777).toBe(0o555);
    expect(fs.statSync(snap.snapshotPath).mode & 0o777).toBe(0o555);

    if (process.getuid?.() === 0) {
      const r = appendAsNobody(metric);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/Permission denied/);
      const created = spawnSync(
        'setpriv',
        ['--reuid=65534', '--regid=65534', '--clear-groups', 'touch', path.join(snap.snapshotPath, 'harness/new.py')],
        { encoding: 'utf8' },
      );
      expect(created.status).not.toBe(0);
    } else {
      expect(() => fs.appendFileSync(metric, 'x')).toThrow(/EACCES/);
    }
    expect(await checkSnapshotIntegrity(home, snap.snapshotId)).toEqual([]);

    if (process.getuid?.() === 0) {
      // root ignores modes: the tampering is not prevented but it is evident
      fs.appendFileSync(metric, '# tampered\n');
      expect(await checkSnapshotIntegrity(home, snap.snapshotId)).toEqual(['harness/metric.py']);
    }
  });

  it('records per-file hashes and pins frozen and unlisted files', async () => {
    const snap = await takeSnapshot(substrate(), home);
    const pins = pinnedHashes(snap);
    expect(Object.keys(pins)).toEqual(
      expect.arrayContaining(['base/checkpoint.pt', 'harness/metric.py', 'substrate.yaml', 'README.md']),
    );
    expect(Object.keys(pins)).not.toContain('recipe.yaml');
    expect(pins['harness/metric.py']).toBe(await hashFile(path.join(snap.snapshotPath, 'harness/metric.py')));
    expect(readSnapshot(home, snap.snapshotId)).toEqual(snap);
  });

  it('refuses an invalid substrate and leaves nothing behind', async () => {
    const src = substrate({ manifest: { frozen: ['harness/**', 'base/**', 'pipeline/**'] } });
    await expect(takeSnapshot(src, home)).rejects.toThrow(SubstrateInvalid);
    expect(fs.existsSync(snapshotsDir(home)) ? fs.readdirSync(snapshotsDir(home)) : []).toEqual([]);
  });
});

describe('fork', () => {
  let snap: SnapshotRecord;
  beforeEach(async () => {
    snap = await takeSnapshot(substrate(), home);
  });
  const sandbox = (id: string) => path.join(home, 'sandboxes', 'c1', id);

  it('shares the base checkpoint and frozen files by hard link and copies only editable files', async () => {
    const r = await forkSandbox(snap, sandbox('cand-0'), {});
    expect(r.existed).toBe(false);
    expect(r.copiedEditable).toBe(3);
    expect(r.copiedShared).toBe(0);
    expect(ino(path.join(r.sandboxPath, 'base/checkpoint.pt'))).toBe(
      ino(path.join(snap.snapshotPath, 'base/checkpoint.pt')),
    );
    expect(ino(path.join(r.sandboxPath, 'harness/metric.py'))).toBe(
      ino(path.join(snap.snapshotPath, 'harness/metric.py')),
    );
    expect(ino(path.join(r.sandboxPath, 'README.md'))).toBe(ino(path.join(snap.snapshotPath, 'README.md')));
    for (const f of ['recipe.yaml', 'pipeline/build.py']) {
      expect(ino(path.join(r.sandboxPath, f))).not.toBe(ino(path.join(snap.snapshotPath, f)));
      expect(fs.statSync(path.join(r.sandboxPath, f)).mode & 0o200).toBe(0o200);
    }
    expect(fs.statSync(path.join(r.sandboxPath, 'base/checkpoint.pt')).mode & 0o222).toBe(0);
  });

  it('editing the sandbox recipe leaves the snapshot untouched', async () => {
    const r = await forkSandbox(snap, sandbox('cand-0'), {});
    const before = fs.readFileSync(path.join(snap.snapshotPath, 'recipe.yaml'), 'utf8');
    fs.writeFileSync(path.join(r.sandboxPath, 'recipe.yaml'), 'lr: 99\n');
    fs.appendFileSync(path.join(r.sandboxPath, 'pipeline/build.py'), '# worker edit\n');
    expect(fs.readFileSync(path.join(snap.snapshotPath, 'recipe.yaml'), 'utf8')).toBe(before);
    expect(await checkSnapshotIntegrity(home, snap.snapshotId)).toEqual([]);
    expect(await verifySandbox(r.sandboxPath, snap)).toEqual([]);
  });

  it('applies the standing recipe as a deep merge and reports its hash', async () => {
    const r = await forkSandbox(snap, sandbox('cand-1'), { lr: 0.003, mix: { equation: 2 } });
    const recipe = parse(fs.readFileSync(path.join(r.sandboxPath, 'recipe.yaml'), 'utf8'));
    expect(recipe).toEqual({ lr: 0.003, steps: 100, mix: { gravity: 1, cipher: 1, equation: 2 } });
    expect(r.recipeSha256).toBe(await hashFile(path.join(r.sandboxPath, 'recipe.yaml')));
    expect(parse(fs.readFileSync(path.join(snap.snapshotPath, 'recipe.yaml'), 'utf8')).lr).toBe(0.001);
  });

  it('does not fork twice into the same sandbox', async () => {
    const first = await forkSandbox(snap, sandbox('cand-2'), { lr: 1 });
    fs.writeFileSync(path.join(first.sandboxPath, 'pipeline/worker-note.txt'), 'work in progress');
    const second = await forkSandbox(snap, sandbox('cand-2'), { lr: 2 });
    expect(second).toEqual({ ...first, existed: true, linked: 0, copiedEditable: 0, copiedShared: 0 });
    expect(fs.readFileSync(path.join(first.sandboxPath, 'pipeline/worker-note.txt'), 'utf8')).toBe('work in progress');
    expect(fs.readdirSync(path.dirname(first.sandboxPath)).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('falls back to read-only copies across devices', async () => {
    const shm = fs.mkdtempSync('/dev/shm/aevo-fork-');
    try {
      const r = await forkSandbox(snap, path.join(shm, 'cand'), {});
      expect(r.linked).toBe(0);
      expect(r.copiedShared).toBeGreaterThan(0);
      expect(fs.statSync(path.join(r.sandboxPath, 'base/checkpoint.pt')).mode & 0o222).toBe(0);
      expect(await verifySandbox(r.sandboxPath, snap)).toEqual([]);
    } finally {
      removeTree(shm);
    }
  });
});

describe('verifySandbox', () => {
  let snap: SnapshotRecord;
  const sandboxes: Record<string, string> = {};
  beforeEach(async () => {
    snap = await takeSnapshot(substrate(), home);
    for (const id of ['a', 'b', 'c'])
      sandboxes[id] = (await forkSandbox(snap, path.join(home, 'sandboxes', 'c1', id), {})).sandboxPath;
  });

  it('finds nothing in untouched sandboxes or in worker edits of editable files and outputs', async () => {
    const s = sandboxes.a;
    fs.writeFileSync(path.join(s, 'recipe.yaml'), 'lr: 5\n');
    fs.mkdirSync(path.join(s, 'runs/seed-1/step-000010'), { recursive: true });
    fs.writeFileSync(path.join(s, 'runs/seed-1/step-000010/checkpoint.json'), '{}');
    fs.symlinkSync('step-000010', path.join(s, 'runs/seed-1/latest'));
    fs.mkdirSync(path.join(s, 'harness/__pycache__'));
    fs.writeFileSync(path.join(s, 'harness/__pycache__/metric.cpython-311.pyc'), 'bytecode');
    expect(await verifySandbox(s, snap, { paths: ['runs/seed-1/step-000010', 'runs/seed-1/latest'] })).toEqual([]);
  });

  it('refuses each escape attempt in one sandbox while the others stay valid', async () => {
    const s = sandboxes.b;
    const outside = path.join(tmp, 'outside.txt');
    fs.writeFileSync(outside, 'secret');
    // frozen file modified by replacing it (new inode), frozen file deleted, module added next to the harness
    fs.unlinkSync(path.join(s, 'harness/metric.py'));
    fs.writeFileSync(path.join(s, 'harness/metric.py'), 'def score(a, b):\n    return True\n');
    fs.unlinkSync(path.join(s, 'harness/predict.py'));
    fs.writeFileSync(path.join(s, 'harness/json.py'), 'shadow');
    // symlinks: to /etc/passwd, climbing out with ../, into a frozen file and a frozen directory, chained out
    fs.symlinkSync('/etc/passwd', path.join(s, 'pipeline/passwd'));
    fs.symlinkSync('../../../..', path.join(s, 'pipeline/up'));
    fs.symlinkSync('../harness/evaluate.py', path.join(s, 'pipeline/eval.py'));
    fs.symlinkSync('../harness', path.join(s, 'pipeline/h'));
    fs.symlinkSync('hop2', path.join(s, 'pipeline/hop1'));
    fs.symlinkSync('/etc', path.join(s, 'pipeline/hop2'));
    // a hard link to a file outside the sandbox
    fs.linkSync(outside, path.join(s, 'pipeline/linked.txt'));

    const v = await verifySandbox(s, snap, { paths: ['../a/recipe.yaml', 'pipeline/up/etc', 'runs/ok'] });
    const got = v.map((x) => `${x.kind} ${x.path}`).sort();
    expect(got).toEqual(
      [
        'path-escape ../a/recipe.yaml',
        'frozen-added harness/json.py',
        'frozen-modified harness/metric.py',
        'frozen-deleted harness/predict.py',
        'symlink-into-frozen pipeline/eval.py',
        'symlink-into-frozen pipeline/h',
        'symlink-escape pipeline/hop1',
        'symlink-escape pipeline/hop2',
        'path-escape pipeline/linked.txt',
        'symlink-escape pipeline/passwd',
        'symlink-escape pipeline/up',
        'path-escape pipeline/up/etc',
      ].sort(),
    );
    expect(v.find((x) => x.path === 'harness/metric.py')!.detail).toMatch(
      /content changed \(sha256 [0-9a-f]{12}, pinned [0-9a-f]{12}\)$/,
    );
    expect(v.find((x) => x.path === 'pipeline/passwd')!.detail).toBe(
      'symlink points outside the sandbox (-> /etc/passwd)',
    );
    // the other candidates of the round are unaffected and the snapshot is intact
    expect(await verifySandbox(sandboxes.a, snap)).toEqual([]);
    expect(await verifySandbox(sandboxes.c, snap)).toEqual([]);
    expect(await checkSnapshotIntegrity(home, snap.snapshotId)).toEqual([]);
  });

  it(
    'notices a frozen file written in place through the shared ' + 'hard link (and says the snapshot is damaged)',
    async () => {
      const cache = new HashCache();
      expect(await verifySandbox(sandboxes.a, snap, { hashCache: cache })).toEqual([]);
      fs.chmodSync(path.join(sandboxes.a, 'harness/evaluate.py'), 0o644); // root could; a job as root would
      fs.appendFileSync(path.join(sandboxes.a, 'harness/evaluate.py'), 'print("always 1.0")\n');
      const v = await verifySandbox(sandboxes.a, snap, { hashCache: cache });
      expect(v).toEqual([
        expect.objectContaining({
          path: 'harness/evaluate.py',
          kind: 'frozen-modified',
          detail: expect.stringMatching(/snapshot copy is damaged/),
        }),
      ]);
      expect(await checkSnapshotIntegrity(home, snap.snapshotId)).toEqual(['harness/evaluate.py']);
    },
  );

  it('notices a changed mode and a replaced file type', async () => {
    const s = sandboxes.c;
    fs.unlinkSync(path.join(s, 'harness/train.py'));
    fs.writeFileSync(path.join(s, 'harness/train.py'), 'print("train")\n'); // same content, not executable any more
    fs.unlinkSync(path.join(s, 'substrate.yaml'));
    fs.mkdirSync(path.join(s, 'substrate.yaml'));
    const v = await verifySandbox(s, snap);
    expect(v).toEqual([
      { path: 'harness/train.py', kind: 'frozen-modified', detail: 'mode changed from 755 to 644' },
      { path: 'substrate.yaml', kind: 'frozen-modified', detail: 'pinned file was replaced by a directory' },
    ]);
  });

  it('reports a vanished sandbox', async () => {
    removeTree(sandboxes.c);
    expect(await verifySandbox(sandboxes.c, snap)).toEqual([
      { path: '.', kind: 'frozen-deleted', detail: expect.stringMatching(/is gone/) },
    ]);
  });
});
