import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeSubstrateFixture } from '@aevo/substrate-kit';
import { snapshotDamage, snapshotTreeDamage } from './damage';
import { HashCache, hashFile, sha256Text } from './hash';
import {
  fileHashes,
  inspectSnapshot,
  pinnedHashes,
  quarantineDir,
  quarantineSnapshot,
  readSnapshot,
  recordPath,
  removeTree,
  takeSnapshot,
  type ReplacedSnapshot,
  type SnapshotRecord,
} from './snapshot-store';

jest.setTimeout(60_000);

let tmp: string;
let home: string;
let src: string;
let snap: SnapshotRecord;
beforeEach(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'substrate-damage-'));
  home = path.join(tmp, 'home');
  src = writeSubstrateFixture(path.join(tmp, 'src'));
  snap = await takeSnapshot(src, home);
});
afterEach(() => removeTree(tmp));

/** What a hostile process with the owner's (or root's) rights can do to a read-only file: chmod +w, then write. */
function tamper(file: string, text = '# tampered\n') {
  fs.chmodSync(file, 0o644);
  fs.appendFileSync(file, text);
}
/** A cache that trusts every file at once (as if each had been written long ago). */
const settledCache = () => new HashCache(1000, 2_000, () => Date.now() + 60_000);
const at = (rel: string) => path.join(snap.snapshotPath, rel);

describe('snapshotDamage (pinned files against the pins of SubstrateSnapshotted)', () => {
  it('given an intact snapshot, then nothing; and a second check of settled files is a stat, not a read', async () => {
    const cache = settledCache();
    expect(await snapshotDamage(snap.snapshotPath, pinnedHashes(snap), cache)).toEqual([]);
    const read = cache.fullHashes;
    expect(read).toBe(Object.keys(pinnedHashes(snap)).length);
    expect(await snapshotDamage(snap.snapshotPath, pinnedHashes(snap), cache)).toEqual([]);
    expect(cache.fullHashes).toBe(read);
  });

  it(
    'given a pinned file written in place (chmod +w, append), then it is named with ' +
      'the pinned and the found sha256, even from a warm cache',
    async () => {
      const cache = settledCache();
      const pins = pinnedHashes(snap);
      await snapshotDamage(snap.snapshotPath, pins, cache);
      tamper(at('harness/metric.py'));
      expect(await snapshotDamage(snap.snapshotPath, pins, cache)).toEqual([
        {
          path: 'harness/metric.py',
          expected: pins['harness/metric.py'],
          actual: await hashFile(at('harness/metric.py')),
        },
      ]);
    },
  );

  it('given missing, replaced and symlinked pinned files, then each is named; `paths` narrows the check', async () => {
    const pins = pinnedHashes(snap);
    fs.chmodSync(at('harness'), 0o755);
    fs.unlinkSync(at('harness/metric.py'));
    fs.unlinkSync(at('harness/predict.py'));
    fs.mkdirSync(at('harness/predict.py'));
    fs.renameSync(at('harness/evaluate.py'), at('harness/evaluate.real'));
    fs.symlinkSync('evaluate.real', at('harness/evaluate.py'));
    // a pinned directory swapped for a symlink to a copy elsewhere: the bytes match, the place does not
    fs.chmodSync(snap.snapshotPath, 0o755);
    fs.cpSync(at('base'), path.join(tmp, 'elsewhere'), { recursive: true });
    fs.chmodSync(at('base'), 0o755);
    removeTree(at('base'));
    fs.symlinkSync(path.join(tmp, 'elsewhere'), at('base'));
    const damage = await snapshotDamage(snap.snapshotPath, pins, new HashCache());
    expect(damage.map((d) => [d.path, d.actual])).toEqual([
      ['base/checkpoint.pt', 'reached through a symlink'],
      ['harness/evaluate.py', 'not a regular file'],
      ['harness/metric.py', 'missing'],
      ['harness/predict.py', 'not a regular file'],
    ]);
    expect(
      await snapshotDamage(snap.snapshotPath, pins, new HashCache(), ['harness/metric.py', 'recipe.yaml']),
    ).toEqual([{ path: 'harness/metric.py', expected: pins['harness/metric.py'], actual: 'missing' }]);
  });

  it(
    'costs one read per process for a large checkpoint, then a ' + 'stat per check (a write makes it read again)',
    async () => {
      const big = writeSubstrateFixture(path.join(tmp, 'big'), { baseCheckpointBytes: 64 * 1024 * 1024 });
      const s = await takeSnapshot(big, home);
      const cache = settledCache();
      const pins = { 'base/checkpoint.pt': pinnedHashes(s)['base/checkpoint.pt'] };
      for (let i = 0; i < 5; i++) expect(await snapshotDamage(s.snapshotPath, pins, cache)).toEqual([]);
      expect(cache.fullHashes).toBe(1);
      tamper(path.join(s.snapshotPath, 'base/checkpoint.pt'), 'x');
      expect(await snapshotDamage(s.snapshotPath, pins, cache)).toHaveLength(1);
      expect(cache.fullHashes).toBe(2);
    },
  );
});

describe('snapshotTreeDamage (shape against the authenticated entries)', () => {
  it('names an added file, a writable file and directory, and a missing directory', async () => {
    const linked = await takeSnapshot(writeSubstrateFixture(path.join(tmp, 'linked')), home);
    expect(snapshotTreeDamage(linked.snapshotPath, linked.entries)).toEqual([]);
    const p = (rel: string) => path.join(linked.snapshotPath, rel);
    fs.chmodSync(p('harness'), 0o755);
    fs.writeFileSync(p('harness/sitecustomize.py'), 'import os\n');
    fs.chmodSync(p('harness'), 0o555);
    fs.chmodSync(p('harness/metric.py'), 0o644);
    fs.chmodSync(p('pipeline'), 0o755); // what removing a directory takes without root
    removeTree(p('pipeline/mix'));
    expect(snapshotTreeDamage(linked.snapshotPath, linked.entries)).toEqual([
      { path: 'harness/metric.py', expected: 'mode 444', actual: 'mode 644' },
      { path: 'harness/sitecustomize.py', expected: 'absent', actual: 'regular file' },
      { path: 'pipeline', expected: 'mode 555', actual: 'mode 755' },
      { path: 'pipeline/mix', expected: 'directory', actual: 'missing' },
    ]);
  });
});

describe('inspectSnapshot (the record is trusted only once it is authenticated by the event)', () => {
  const rewriteRecord = (f: (r: SnapshotRecord) => void) => {
    const file = recordPath(home, snap.snapshotId);
    const r = JSON.parse(fs.readFileSync(file, 'utf8')) as SnapshotRecord;
    f(r);
    fs.chmodSync(file, 0o644);
    fs.writeFileSync(file, JSON.stringify(r));
  };

  it('given an intact snapshot, then no damage and the authenticated record', async () => {
    expect(await inspectSnapshot(home, snap.snapshotId, pinnedHashes(snap), new HashCache())).toMatchObject({
      damage: [],
      record: readSnapshot(home, snap.snapshotId),
    });
  });

  it(
    'given a record whose hash of a pinned file was edited, then the record ' +
      'itself is damage (its entries no longer hash to the id)',
    async () => {
      rewriteRecord((r) => (r.entries.find((e) => e.path === 'harness/metric.py')!.sha256 = 'f'.repeat(64)));
      const found = await inspectSnapshot(home, snap.snapshotId, pinnedHashes(snap), new HashCache());
      expect(found.damage).toEqual([
        {
          path: `../${snap.snapshotId}.json`,
          expected: snap.snapshotId,
          actual: expect.stringMatching(/^[0-9a-f]{64}$/),
        },
      ]);
      expect(found.record).toBeNull();
    },
  );

  it(
    'given a record that unpins a frozen file (class is not in ' + 'the id), then it disagrees with the event',
    async () => {
      rewriteRecord((r) => (r.entries.find((e) => e.path === 'harness/metric.py')!.class = 'editable'));
      const found = await inspectSnapshot(home, snap.snapshotId, pinnedHashes(snap), new HashCache());
      expect(found.damage).toEqual([
        {
          path: `../${snap.snapshotId}.json`,
          expected: snap.snapshotId,
          actual: 'pins differ from SubstrateSnapshotted',
        },
      ]);
    },
  );

  it('given an editable file of the snapshot edited (new forks would copy it), then it is damage too', async () => {
    tamper(at('recipe.yaml'), 'lr: 1000\n');
    const found = await inspectSnapshot(home, snap.snapshotId, pinnedHashes(snap), new HashCache());
    expect(found.damage.map((d) => d.path)).toEqual(['recipe.yaml']);
  });
});

describe('quarantine and takeSnapshot over a damaged copy', () => {
  it('moves the tree and its record aside, read-only; sandbox hard links keep the damaged inode', async () => {
    const linkedFromSandbox = path.join(tmp, 'sandbox-metric.py');
    fs.linkSync(at('harness/metric.py'), linkedFromSandbox);
    tamper(at('harness/metric.py'));
    const q = quarantineSnapshot(home, snap.snapshotId, { now: new Date('2030-01-02T03:04:05.678Z') });
    expect(q).toBe(path.join(quarantineDir(home), `${snap.snapshotId}-20300102T030405678Z`));
    expect(fs.existsSync(snap.snapshotPath)).toBe(false);
    expect(fs.existsSync(recordPath(home, snap.snapshotId))).toBe(false);
    expect(fs.statSync(path.join(q!, 'harness/metric.py')).mode & 0o777).toBe(0o444);
    expect(fs.statSync(path.join(q!, 'harness')).mode & 0o777).toBe(0o555);
    expect(fs.statSync(`${q}.json`).mode & 0o777).toBe(0o444);
    expect(fs.statSync(linkedFromSandbox).ino).toBe(fs.statSync(path.join(q!, 'harness/metric.py')).ino);
    expect(quarantineSnapshot(home, snap.snapshotId)).toBeNull(); // nothing left to move
  });

  it('leaves alone a directory that is not the one inspected (another process already replaced it)', async () => {
    expect(quarantineSnapshot(home, snap.snapshotId, { rootId: '0:0' })).toEqual(expect.any(String)); // the record went
    expect(fs.existsSync(snap.snapshotPath)).toBe(true);
  });

  it(
    'given a damaged existing copy, when the same content is snapshotted again, then ' +
      'the old copy is quarantined and a pristine one published',
    async () => {
      const before = fs.statSync(at('harness/metric.py')).ino;
      tamper(at('harness/metric.py'));
      fs.chmodSync(snap.snapshotPath, 0o755);
      fs.writeFileSync(at('planted.py'), 'print(1)\n');
      const replaced: ReplacedSnapshot[] = [];
      const again = await takeSnapshot(src, home, { onReplaced: (r) => replaced.push(r) });
      expect(again.snapshotId).toBe(snap.snapshotId);
      expect(replaced).toEqual([
        {
          snapshotId: snap.snapshotId,
          files: [
            { path: '.', expected: 'mode 555', actual: 'mode 755' },
            {
              path: 'harness/metric.py',
              expected: pinnedHashes(snap)['harness/metric.py'],
              actual: expect.stringMatching(/^[0-9a-f]{64}$/),
            },
            { path: 'planted.py', expected: 'absent', actual: 'regular file' },
          ],
          quarantinedAt: expect.stringContaining(`${quarantineDir(home)}/${snap.snapshotId}-`),
        },
      ]);
      expect(fs.statSync(at('harness/metric.py')).ino).not.toBe(before);
      expect(await hashFile(at('harness/metric.py'))).toBe(pinnedHashes(snap)['harness/metric.py']);
      expect(fs.existsSync(at('planted.py'))).toBe(false);
      expect(fs.statSync(at('harness/metric.py')).mode & 0o777).toBe(0o444);
      expect(fs.statSync(snap.snapshotPath).mode & 0o777).toBe(0o555);
      expect((await inspectSnapshot(home, snap.snapshotId, pinnedHashes(snap), new HashCache())).damage).toEqual([]);
      // and a third time, nothing is replaced (the fresh copy is reused untouched)
      const ino = fs.statSync(at('harness/metric.py')).ino;
      await takeSnapshot(src, home, { onReplaced: (r) => replaced.push(r) });
      expect(replaced).toHaveLength(1);
      expect(fs.statSync(at('harness/metric.py')).ino).toBe(ino);
    },
  );

  it(
    'given a damaged record beside an intact tree, then both are replaced; a ' +
      'record whose tree never arrived is completed quietly',
    async () => {
      const file = recordPath(home, snap.snapshotId);
      fs.chmodSync(file, 0o644);
      fs.writeFileSync(file, '{"entries": "nope"}');
      const replaced: ReplacedSnapshot[] = [];
      await takeSnapshot(src, home, { onReplaced: (r) => replaced.push(r) });
      expect(replaced.map((r) => r.files)).toEqual([
        [{ path: `../${snap.snapshotId}.json`, expected: snap.snapshotId, actual: 'not a snapshot record' }],
      ]);
      expect(readSnapshot(home, snap.snapshotId).entries).toEqual(snap.entries);

      // an interrupted publish: the record was written, the tree not
      fs.chmodSync(snap.snapshotPath, 0o755);
      removeTree(snap.snapshotPath);
      await takeSnapshot(src, home, { onReplaced: (r) => replaced.push(r) });
      expect(replaced).toHaveLength(1);
      expect(fileHashes(readSnapshot(home, snap.snapshotId))).toEqual(fileHashes(snap));
    },
  );
});

it('hashes symlinks by their text in the id, so a retargeted snapshot symlink cannot pass as intact', async () => {
  const withLink = writeSubstrateFixture(path.join(tmp, 'withlink'));
  fs.symlinkSync('metric.py', path.join(withLink, 'harness/alias.py'));
  const s = await takeSnapshot(withLink, home);
  const p = path.join(s.snapshotPath, 'harness/alias.py');
  expect(s.entries.find((e) => e.path === 'harness/alias.py')?.sha256).toBe(sha256Text('metric.py'));
  fs.chmodSync(path.dirname(p), 0o755);
  fs.unlinkSync(p);
  fs.symlinkSync('/etc/passwd', p);
  fs.chmodSync(path.dirname(p), 0o555);
  expect(snapshotTreeDamage(s.snapshotPath, s.entries)).toEqual([
    { path: 'harness/alias.py', expected: 'symlink to metric.py', actual: 'symlink to /etc/passwd' },
  ]);
});
