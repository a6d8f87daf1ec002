import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { writeSubstrateFixture, type FixtureOptions } from '@aevo/substrate-kit';

/**
 * For executor tests: a small substrate placed as `<home>/snapshots/<id>` (read-only, like the substrate service
 * leaves it) and sandboxes forked from it by plain copy, so that a job spec's isolation can be planned and mounted.
 */
export function writeJobSnapshot(
  home: string,
  opts: FixtureOptions = {},
): { snapshotId: string; snapshotPath: string } {
  const staging = fs.mkdtempSync(path.join(home, '.snap-'));
  writeSubstrateFixture(staging, opts);
  const snapshotId = createHash('sha256').update(staging).digest('hex');
  const snapshotPath = path.join(home, 'snapshots', snapshotId);
  fs.mkdirSync(path.dirname(snapshotPath), { recursive: true });
  fs.renameSync(staging, snapshotPath);
  makeReadOnly(snapshotPath);
  return { snapshotId, snapshotPath };
}

/** Copies the snapshot into `sandboxPath` (what a fork holds, without the hard links). */
export function forkJobSandbox(snapshotPath: string, sandboxPath: string): string {
  fs.cpSync(snapshotPath, sandboxPath, { recursive: true });
  return sandboxPath;
}

/** As the substrate service leaves a snapshot: files r--r--r-- (r-x where executable), directories r-xr-xr-x. */
function makeReadOnly(p: string): void {
  const st = fs.lstatSync(p);
  if (st.isSymbolicLink()) return;
  if (st.isDirectory()) {
    for (const name of fs.readdirSync(p)) makeReadOnly(path.join(p, name));
    fs.chmodSync(p, 0o555);
  } else fs.chmodSync(p, st.mode & 0o111 ? 0o555 : 0o444);
}
