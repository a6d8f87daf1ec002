import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { SubstrateManifest } from '@aevo/contracts';
import {
  classifyPath,
  comparePaths,
  loadSubstrate,
  MANIFEST_FILE,
  normaliseWithin,
  walkTree,
} from '@aevo/substrate-kit';

/** A campaign's snapshot whose pinned files were found byte for byte as SubstrateSnapshotted recorded them. */
export interface FrozenSnapshot {
  snapshotId: string;
  dir: string;
  manifest: SubstrateManifest;
}

/** The snapshot on disk is not the one the substrate service announced; `files` name each difference. */
export class SnapshotMismatch extends Error {
  constructor(
    readonly snapshotId: string,
    readonly files: string[],
  ) {
    const shown = files.slice(0, 8).join(', ') + (files.length > 8 ? ` and ${files.length - 8} more` : '');
    super(`snapshot ${snapshotId} does not match its SubstrateSnapshotted: ${shown}`);
    this.name = 'SnapshotMismatch';
  }
}

async function sha256OfFile(file: string): Promise<string | null> {
  const st = await fs.lstat(file).catch(() => null);
  if (!st?.isFile()) return null;
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/**
 * Checks every pinned file of the snapshot against `frozenSha256` (the event's record) before the leaderboard runs
 * anything from it: the substrate.yaml whose commands it renders and every script or module they may load. A pinned
 * file that differs or is missing is named, and so is a file that appeared outside the editable globs (a module that
 * would shadow the harness's own, a bytecode cache). Symlinks are not covered by the record.
 */
export async function checkFrozenSnapshot(
  dir: string,
  snapshotId: string,
  frozenSha256: Readonly<Record<string, string>>,
): Promise<FrozenSnapshot> {
  const st = await fs.stat(dir).catch(() => null);
  if (!st?.isDirectory()) throw new Error(`snapshot ${snapshotId} is not in ${path.dirname(dir)}`);
  const recorded = new Map(Object.entries(frozenSha256));
  const problems: string[] = [];
  if (!recorded.has(MANIFEST_FILE)) problems.push(`${MANIFEST_FILE} (not recorded as pinned)`);
  for (const [rel, want] of [...recorded].sort(([a], [b]) => comparePaths(a, b))) {
    if (normaliseWithin(rel) !== rel) {
      problems.push(`${rel} (not a path inside the snapshot)`);
      continue;
    }
    const got = await sha256OfFile(path.join(dir, rel));
    if (got === null) problems.push(`${rel} (missing)`);
    else if (got !== want) problems.push(`${rel} (modified)`);
  }
  // The manifest is parsed only once its bytes are known to be the recorded ones.
  if (problems.length > 0) throw new SnapshotMismatch(snapshotId, problems);
  const loaded = loadSubstrate(dir);
  // Unfiltered walk: a legitimate snapshot holds no ignored files, so any there was put in afterwards.
  for (const e of walkTree(dir)) {
    if (e.type === 'other') problems.push(`${e.path} (not a file, directory or symlink)`);
    else if (e.type === 'file' && !recorded.has(e.path) && classifyPath(loaded.rules, e.path) !== 'editable')
      problems.push(`${e.path} (added)`);
  }
  if (problems.length > 0) throw new SnapshotMismatch(snapshotId, problems);
  return { snapshotId, dir: loaded.dir, manifest: loaded.manifest };
}
