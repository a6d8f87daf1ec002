import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { loadSubstrate, walkTree, classifyPath, comparePaths, type FileClass, type LoadedSubstrate } from '@aevo/substrate-kit';
import { hashFile, sha256Text } from './hash';

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
const recordPath = (home: string, id: string) => path.join(snapshotsDir(home), `${id}.json`);

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

async function describeTree(root: string, loaded: LoadedSubstrate): Promise<SnapshotEntry[]> {
  const out: SnapshotEntry[] = [];
  for (const e of walkTree(root)) {
    if (e.type === 'other') throw new Error(`${e.path} is not a regular file, directory or symlink`);
    const abs = path.join(root, e.path);
    const sha256 = e.type === 'file' ? await hashFile(abs) : e.type === 'symlink' ? sha256Text(e.linkTarget!) : '';
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

/** Removes write permission everywhere below `root` (directories last, so the walk can still read them). */
function makeReadOnly(root: string, entries: readonly SnapshotEntry[]) {
  for (const e of entries) if (e.type === 'file') fs.chmodSync(path.join(root, e.path), e.mode & 0o555);
  for (const e of [...entries].reverse()) if (e.type === 'dir') fs.chmodSync(path.join(root, e.path), 0o555);
  fs.chmodSync(root, 0o555);
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

/**
 * Copies a substrate directory into `<home>/snapshots/<sha256>/`, read-only, and records its entries in
 * `<home>/snapshots/<sha256>.json`. The copy is validated and hashed (not the source, which may change while it is
 * read). Taking the same content twice yields the same snapshot; an existing snapshot is never written again.
 * Throws SubstrateInvalid (from @aevo/substrate-kit) when the substrate or its copy breaks the contract.
 */
export async function takeSnapshot(substrateDir: string, home: string): Promise<SnapshotRecord> {
  const source = loadSubstrate(substrateDir);
  const dir = snapshotsDir(home);
  fs.mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, `.tmp-${randomBytes(6).toString('hex')}`);
  try {
    fs.mkdirSync(tmp);
    for (const e of source.entries) {
      const from = path.join(source.dir, e.path);
      const to = path.join(tmp, e.path);
      if (e.type === 'dir') fs.mkdirSync(to);
      else if (e.type === 'symlink') fs.symlinkSync(e.linkTarget!, to);
      else if (e.type === 'file') copyInto(from, to, e.size);
    }
    const copy = loadSubstrate(tmp);
    const entries = await describeTree(tmp, copy);
    const snapshotId = snapshotIdOf(entries);
    const final = path.join(dir, snapshotId);
    const record: SnapshotRecord = {
      snapshotId,
      name: copy.manifest.name,
      version: copy.manifest.version,
      snapshotPath: final,
      source: source.dir,
      files: entries.filter((e) => e.type !== 'dir').length,
      bytes: entries.reduce((n, e) => n + e.size, 0),
      entries,
    };
    if (!fs.existsSync(recordPath(home, snapshotId))) writeFileAtomic(recordPath(home, snapshotId), JSON.stringify(record, null, 1), 0o444);
    if (fs.existsSync(final)) {
      removeTree(tmp);
      return readSnapshot(home, snapshotId);
    }
    makeReadOnly(tmp, entries);
    try {
      fs.renameSync(tmp, final);
    } catch (err) {
      // Another process published the same content first: theirs is identical by construction.
      if (!fs.existsSync(final)) throw err;
      removeTree(tmp);
    }
    return readSnapshot(home, snapshotId);
  } catch (err) {
    removeTree(tmp);
    throw err;
  }
}

/** Above this size a file is copied by GNU cp, which reflinks where it can and keeps holes of sparse files. */
const LARGE_FILE = 64 * 1024 * 1024;

function copyInto(from: string, to: string, size: number) {
  if (size >= LARGE_FILE) {
    const r = spawnSync('cp', ['--reflink=auto', '--sparse=auto', '--', from, to], { encoding: 'utf8' });
    if (r.status === 0) return;
    if (r.error === undefined) throw new Error(`cp ${from}: ${r.stderr.trim()}`);
    // no cp on this machine: fall through to a plain copy
  }
  fs.copyFileSync(from, to, fs.constants.COPYFILE_FICLONE);
}

function writeFileAtomic(file: string, content: string, mode: number) {
  const tmp = `${file}.tmp-${randomBytes(4).toString('hex')}`;
  fs.writeFileSync(tmp, content, { mode });
  fs.renameSync(tmp, file);
}

export function readSnapshot(home: string, snapshotId: string): SnapshotRecord {
  const file = recordPath(home, snapshotId);
  if (!fs.existsSync(file)) throw new Error(`snapshot ${snapshotId} is not in ${snapshotsDir(home)}`);
  const record = JSON.parse(fs.readFileSync(file, 'utf8')) as SnapshotRecord;
  if (!fs.existsSync(path.join(snapshotsDir(home), snapshotId))) throw new Error(`snapshot tree ${snapshotId} is missing from ${snapshotsDir(home)}`);
  return { ...record, snapshotPath: path.join(snapshotsDir(home), snapshotId) };
}

/** Re-hashes a snapshot tree and compares it with its id; returns the paths that differ (empty = intact). */
export async function checkSnapshotIntegrity(home: string, snapshotId: string): Promise<string[]> {
  const record = readSnapshot(home, snapshotId);
  const loaded = loadSubstrate(record.snapshotPath);
  const now = await describeTree(record.snapshotPath, loaded);
  if (snapshotIdOf(now) === snapshotId) return [];
  const before = new Map(record.entries.map((e) => [e.path, e]));
  const after = new Map(now.map((e) => [e.path, e]));
  const diff = new Set<string>();
  for (const [p, e] of before) {
    const a = after.get(p);
    if (!a || a.sha256 !== e.sha256 || a.mode !== e.mode || a.type !== e.type) diff.add(p);
  }
  for (const p of after.keys()) if (!before.has(p)) diff.add(p);
  return [...diff].sort(comparePaths);
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
