import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { classifyPath, loadSubstrate, writeSubstrateFixture } from '@aevo/substrate-kit';
import { checkFrozenSnapshot, SnapshotMismatch } from './frozen-snapshot';

const ID = 'f'.repeat(64);
let root: string;
let dir: string;
let recorded: Record<string, string>;

beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'lb-frozen-'));
  dir = path.join(root, 'snapshots', ID);
  writeSubstrateFixture(dir);
  // What SubstrateSnapshotted records: sha256 of every file outside the editable globs.
  const loaded = loadSubstrate(dir);
  recorded = {};
  for (const e of loaded.entries)
    if (e.type === 'file' && classifyPath(loaded.rules, e.path) !== 'editable')
      recorded[e.path] = createHash('sha256')
        .update(readFileSync(path.join(dir, e.path)))
        .digest('hex');
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const mismatch = async (rec = recorded) => {
  const err = await checkFrozenSnapshot(dir, ID, rec).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SnapshotMismatch);
  return (err as SnapshotMismatch).files;
};

describe('checkFrozenSnapshot', () => {
  it('accepts the snapshot as recorded, editable files whatever they hold, and returns its manifest', async () => {
    writeFileSync(path.join(dir, 'recipe.yaml'), 'lr: 1\n');
    writeFileSync(path.join(dir, 'pipeline', 'extra.py'), 'print(1)\n');
    const s = await checkFrozenSnapshot(dir, ID, recorded);
    expect(s).toMatchObject({ snapshotId: ID, dir, manifest: { name: 'fixture' } });
  });

  it('names every pinned file that changed or is missing, substrate.yaml included, before parsing it', async () => {
    writeFileSync(path.join(dir, 'substrate.yaml'), 'not: [a manifest\n');
    writeFileSync(path.join(dir, 'harness', 'metric.py'), 'def score(a, b):\n    return True\n');
    rmSync(path.join(dir, 'harness', 'predict.py'));
    expect(await mismatch()).toEqual([
      'harness/metric.py (modified)',
      'harness/predict.py (missing)',
      'substrate.yaml (modified)',
    ]);
  });

  it('names files added outside the editable globs (a shadowing module, a bytecode cache) and symlinks', async () => {
    writeFileSync(path.join(dir, 'harness', 'json.py'), 'raise SystemExit(0)\n');
    mkdirSync(path.join(dir, 'harness', '__pycache__'));
    writeFileSync(path.join(dir, 'harness', '__pycache__', 'metric.cpython-311.pyc'), 'x');
    expect(await mismatch()).toEqual(['harness/__pycache__/metric.cpython-311.pyc (added)', 'harness/json.py (added)']);
    rmSync(path.join(dir, 'harness', 'train.py'));
    symlinkSync('/etc/passwd', path.join(dir, 'harness', 'train.py'));
    expect(await mismatch()).toEqual(['harness/train.py (missing)']);
  });

  it('refuses a record without substrate.yaml or with paths leaving the snapshot, and a missing snapshot', async () => {
    const { ['substrate.yaml']: _, ...rest } = recorded;
    expect(await mismatch(rest)).toEqual(['substrate.yaml (not recorded as pinned)']);
    expect(await mismatch({ ...recorded, '../outside': 'a'.repeat(64) })).toEqual([
      '../outside (not a path inside the snapshot)',
    ]);
    await expect(
      checkFrozenSnapshot(path.join(root, 'snapshots', 'e'.repeat(64)), 'e'.repeat(64), recorded),
    ).rejects.toThrow(/snapshot e+ is not in .*snapshots/);
  });
});
