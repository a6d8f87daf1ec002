import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeSubstrateFixture } from '@aevo/substrate-kit';
import { checkSnapshotIntegrity, removeTree, takeSnapshot } from './snapshot-store';
import { forkSandbox } from './fork';
import { bytesFreedBy, removeSandbox } from './collect';

jest.setTimeout(60_000);

let tmp: string;
let home: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'substrate-collect-'));
  home = path.join(tmp, 'home');
});
afterEach(() => removeTree(tmp));

const substrate = (opts: Parameters<typeof writeSubstrateFixture>[1] = {}) =>
  writeSubstrateFixture(path.join(tmp, 'src'), opts);

describe('collection', () => {
  it('frees the sandbox’s own bytes and leaves the shared snapshot inodes alone', async () => {
    const snap = await takeSnapshot(substrate({ baseCheckpointBytes: 1 << 20 }), home);
    const r = await forkSandbox(snap, path.join(home, 'sandboxes', 'c1', 'x'), {});
    fs.writeFileSync(path.join(r.sandboxPath, 'pipeline/out.bin'), Buffer.alloc(64 * 1024, 1));
    const expected = bytesFreedBy(r.sandboxPath);
    expect(expected).toBeGreaterThanOrEqual(64 * 1024);
    expect(expected).toBeLessThan(1 << 20); // the 1 MiB checkpoint is shared, not freed
    expect(removeSandbox(r.sandboxPath)).toBe(expected);
    expect(fs.existsSync(r.sandboxPath)).toBe(false);
    expect(fs.readdirSync(path.dirname(r.sandboxPath))).toEqual([]);
    expect(await checkSnapshotIntegrity(home, snap.snapshotId)).toEqual([]);
    expect(fs.statSync(path.join(snap.snapshotPath, 'base/checkpoint.pt')).nlink).toBe(1);
    expect(removeSandbox(r.sandboxPath)).toBe(0);
  });
});
