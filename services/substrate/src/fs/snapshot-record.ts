/** What a snapshot is: its entries, its id, where it lives, and reading it back. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  loadSubstrate,
  walkTree,
  classifyPath,
  comparePaths,
  type FileClass,
  type LoadedSubstrate,
} from '@aevo/substrate-kit';
import { HashCache, hashFile, sha256Text } from './hash';

/** One entry of a snapshot, in canonical form (the form the snapshot id hashes). */
export interface SnapshotEntry {
  path: string;
  type: 'file' | 'symlink' | 'dir';
  /** Canonical mode: 0o755 for executables and directories, 0o644 for other files, 0o777 for symlinks. */
  mode: number;
  size: number;
  /** Files: sha256 of the content; symlinks: sha256 of the link text; directories: "". */
  sha256: string;
  linkTarget?: string;
  /** null for directories. */
  class: FileClass | null;
}

export interface SnapshotRecord {
  snapshotId: string;
  name: string;
  version: string;
  /** Absolute path of the snapshot tree (read-only). */
  snapshotPath: string;
  /** The directory it was taken from. */
  source: string;
  files: number;
  bytes: number;
  entries: SnapshotEntry[];
}

export const snapshotsDir = (home: string) => path.join(home, 'snapshots');
export const sandboxesDir = (home: string) => path.join(home, 'sandboxes');
export const recordPath = (home: string, id: string) => path.join(snapshotsDir(home), `${id}.json`);
export const quarantineDir = (home: string) => path.join(snapshotsDir(home), '.quarantine');

/**
 * The snapshot id: sha256 over one line per entry — type, canonical mode, content hash and JSON-quoted path — in
 * byte order of the paths. Any added, removed, renamed, re-moded or edited file changes it.
 */
export function snapshotIdOf(entries: readonly SnapshotEntry[]): string {
  const lines = [...entries]
    .sort((a, b) => comparePaths(a.path, b.path))
    .map((e) => `${e.type} ${e.mode.toString(8)} ${e.sha256 || '-'} ${JSON.stringify(e.path)}\n`);
  return sha256Text(lines.join(''));
}

const canonicalMode = (type: SnapshotEntry['type'], mode: number) =>
  type === 'symlink' ? 0o777 : type === 'dir' || (mode & 0o111) !== 0 ? 0o755 : 0o644;

export async function describeTree(
  root: string,
  loaded: LoadedSubstrate,
  hashCache?: HashCache,
): Promise<SnapshotEntry[]> {
  const out: SnapshotEntry[] = [];
  for (const e of walkTree(root)) {
    if (e.type === 'other') throw new Error(`${e.path} is not a regular file, directory or symlink`);
    const abs = path.join(root, e.path);
    const sha256 =
      e.type === 'file'
        ? await (hashCache ? hashCache.hash(abs) : hashFile(abs))
        : e.type === 'symlink'
          ? sha256Text(e.linkTarget!)
          : '';
    out.push({
      path: e.path,
      type: e.type,
      mode: canonicalMode(e.type, e.mode),
      size: e.size,
      sha256,
      ...(e.type === 'symlink' ? { linkTarget: e.linkTarget } : {}),
      class: e.type === 'dir' ? null : classifyPath(loaded.rules, e.path),
    });
  }
  return out;
}

/** Deletes a tree that may contain read-only directories; never follows symlinks. */
export function removeTree(p: string): void {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(p);
  } catch {
    return;
  }
  if (st.isDirectory()) {
    fs.chmodSync(p, 0o755);
    for (const name of fs.readdirSync(p)) removeTree(path.join(p, name));
    fs.rmdirSync(p);
  } else fs.unlinkSync(p);
}

export function readSnapshot(home: string, snapshotId: string): SnapshotRecord {
  const file = recordPath(home, snapshotId);
  if (!fs.existsSync(file)) throw new Error(`snapshot ${snapshotId} is not in ${snapshotsDir(home)}`);
  const record = JSON.parse(fs.readFileSync(file, 'utf8')) as SnapshotRecord;
  if (!fs.existsSync(path.join(snapshotsDir(home), snapshotId)))
    throw new Error(`snapshot tree ${snapshotId} is missing from ${snapshotsDir(home)}`);
  return { ...record, snapshotPath: path.join(snapshotsDir(home), snapshotId) };
}

/** sha256 of every pinned file (frozen and protected), for SubstrateSnapshotted. */
export function pinnedHashes(record: SnapshotRecord): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of record.entries) if (e.type === 'file' && e.class !== 'editable') out[e.path] = e.sha256;
  return out;
}

const loadedById = new Map<string, LoadedSubstrate>();
/** The snapshot's validated manifest and rules (a snapshot never changes, so this is parsed once per id). */
export function loadedSnapshot(record: SnapshotRecord): LoadedSubstrate {
  let hit = loadedById.get(record.snapshotId);
  if (!hit) {
    hit = loadSubstrate(record.snapshotPath);
    loadedById.set(record.snapshotId, hit);
  }
  return hit;
}

export function lexists(p: string): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

const snapshotLocks = new Map<string, Promise<unknown>>();
/**
 * Runs `f` alone among this process's users of one snapshot id (check-then-use, quarantine, rebuild, publish).
 * Across processes, quarantine moves only the directory it inspected and publication is an atomic rename.
 */
export function withSnapshotLock<T>(snapshotId: string, f: () => Promise<T>): Promise<T> {
  const prev = snapshotLocks.get(snapshotId) ?? Promise.resolve();
  const next = prev.then(f, f);
  const settled = next.catch(() => undefined);
  snapshotLocks.set(snapshotId, settled);
  void settled.then(() => {
    if (snapshotLocks.get(snapshotId) === settled) snapshotLocks.delete(snapshotId);
  });
  return next;
}
