import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeSubstrateFixture } from '@aevo/substrate-kit';
import { removeTree, takeSnapshot, type SnapshotRecord } from './snapshot-store';
import { forkSandbox } from './fork';
import { verifySandbox } from './verify';

jest.setTimeout(60_000);

/** verifySandbox on hard links: which ones let a write reach the snapshot or another file, and which are harmless. */
describe('verifySandbox and hard links', () => {
  let tmp: string;
  let home: string;
  let snap: SnapshotRecord;
  const sandboxes: Record<string, string> = {};
  beforeEach(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'substrate-links-'));
    home = path.join(tmp, 'home');
    snap = await takeSnapshot(writeSubstrateFixture(path.join(tmp, 'src')), home);
    for (const id of ['a', 'b', 'c'])
      sandboxes[id] = (await forkSandbox(snap, path.join(home, 'sandboxes', 'c1', id), {})).sandboxPath;
  });
  afterEach(() => removeTree(tmp));

  it(
    'given a frozen file hard-linked into pipeline/, when verified, then the ' +
      "link is a path-escape naming the snapshot's file",
    async () => {
      const s = sandboxes.a;
      fs.linkSync(path.join(s, 'harness/metric.py'), path.join(s, 'pipeline/metric.py'));
      const v = await verifySandbox(s, snap);
      expect(v).toEqual([
        {
          path: 'pipeline/metric.py',
          kind: 'path-escape',
          detail:
            "hard link to the snapshot's harness/metric.py (a write to it would change the snapshot and " +
            'every sandbox forked from it)',
        },
      ]);
      // the other sandboxes share the same inode legitimately, as pinned files
      expect(await verifySandbox(sandboxes.b, snap)).toEqual([]);
    },
  );

  it(
    'given an editable file replaced by a hard link to the base ' + 'checkpoint, when verified, then it is flagged',
    async () => {
      const s = sandboxes.a;
      fs.unlinkSync(path.join(s, 'recipe.yaml'));
      fs.linkSync(path.join(s, 'base/checkpoint.pt'), path.join(s, 'recipe.yaml'));
      const v = await verifySandbox(s, snap);
      expect(v).toEqual([
        expect.objectContaining({
          path: 'recipe.yaml',
          kind: 'path-escape',
          detail: expect.stringMatching(/^hard link to the snapshot's base\/checkpoint\.pt /),
        }),
      ]);
    },
  );

  it(
    "given a hard link made straight from the snapshot's own file, " + 'when verified, then it is flagged the same way',
    async () => {
      const s = sandboxes.c;
      fs.linkSync(path.join(snap.snapshotPath, 'harness/evaluate.py'), path.join(s, 'pipeline/evaluate.py'));
      expect(await verifySandbox(s, snap)).toEqual([
        expect.objectContaining({
          path: 'pipeline/evaluate.py',
          kind: 'path-escape',
          detail: expect.stringContaining("snapshot's harness/evaluate.py"),
        }),
      ]);
    },
  );

  it('given two editable files sharing an inode, when verified, then both names are flagged', async () => {
    const s = sandboxes.a;
    fs.linkSync(path.join(s, 'pipeline/build.py'), path.join(s, 'pipeline/twin.py'));
    expect(await verifySandbox(s, snap)).toEqual([
      {
        path: 'pipeline/build.py',
        kind: 'path-escape',
        detail: 'hard link shared with pipeline/twin.py inside the sandbox (a write to one changes the other)',
      },
      {
        path: 'pipeline/twin.py',
        kind: 'path-escape',
        detail: 'hard link shared with pipeline/build.py inside the sandbox (a write to one changes the other)',
      },
    ]);
  });

  it('given an editable file linked into the outputs, when verified, then the output name is flagged too', async () => {
    const s = sandboxes.a;
    fs.mkdirSync(path.join(s, 'runs/seed-1'), { recursive: true });
    fs.linkSync(path.join(s, 'recipe.yaml'), path.join(s, 'runs/seed-1/recipe.yaml'));
    expect((await verifySandbox(s, snap)).map((x) => `${x.kind} ${x.path}`)).toEqual([
      'path-escape recipe.yaml',
      'path-escape runs/seed-1/recipe.yaml',
    ]);
  });

  it(
    'given hard links only between job outputs, when verified, ' +
      'then they are accepted (nothing edits outputs in place)',
    async () => {
      const s = sandboxes.a;
      fs.mkdirSync(path.join(s, 'runs/seed-1/step-000010'), { recursive: true });
      fs.writeFileSync(path.join(s, 'runs/seed-1/step-000010/weights.bin'), 'w');
      fs.linkSync(path.join(s, 'runs/seed-1/step-000010/weights.bin'), path.join(s, 'runs/seed-1/latest.bin'));
      expect(await verifySandbox(s, snap)).toEqual([]);
    },
  );

  it(
    'given a cross-device fork, when a pinned copy is hard-linked into pipeline/, ' +
      'then the link is flagged as shared with the pinned file',
    async () => {
      const shm = fs.mkdtempSync('/dev/shm/aevo-verify-');
      try {
        const r = await forkSandbox(snap, path.join(shm, 'cand'), {});
        fs.linkSync(path.join(r.sandboxPath, 'harness/metric.py'), path.join(r.sandboxPath, 'pipeline/metric.py'));
        expect(await verifySandbox(r.sandboxPath, snap)).toEqual([
          {
            path: 'pipeline/metric.py',
            kind: 'path-escape',
            detail: 'hard link shared with harness/metric.py inside the sandbox (a write to one changes the other)',
          },
        ]);
      } finally {
        removeTree(shm);
      }
    },
  );
});
