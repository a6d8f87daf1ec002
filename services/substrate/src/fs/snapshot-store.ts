import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { loadSubstrate, walkTree, comparePaths } from '@aevo/substrate-kit';
import { HashCache } from './hash';
import { type DamagedFile } from './damage';

import {
  describeTree,
  lexists,
  readSnapshot,
  recordPath,
  snapshotIdOf,
  snapshotsDir,
  withSnapshotLock,
  removeTree,
  type SnapshotRecord,
} from './snapshot-record';
import { fileHashes, inspectSnapshot, quarantineSnapshot, readRecordFile, sameRecord } from './snapshot-inspection';

export * from './snapshot-record';
export * from './snapshot-inspection';

export interface TakeSnapshotOptions {
  /** Hashes the copy and any existing copy it would reuse (share the caller's, so a reused copy is read once). */
  hashCache?: HashCache;
  /** An existing copy of this id differed from the fresh one: it was quarantined and the fresh one published. */
  onReplaced?: (replaced: ReplacedSnapshot) => void;
  now?: () => Date;
}

export interface ReplacedSnapshot {
  snapshotId: string;
  files: DamagedFile[];
  quarantinedAt: string | null;
}

/** A hashed, read-only copy under a temporary name, not yet published. */
export interface PreparedSnapshot {
  tmp: string;
  record: SnapshotRecord;
}

/**
 * Copies a substrate directory into `<home>/snapshots/<sha256>/`, read-only, and records its entries in
 * `<home>/snapshots/<sha256>.json`. The copy is validated and hashed (not the source, which may change while it is
 * read). Taking the same content twice yields the same snapshot, but an existing copy is reused only when it still
 * matches the fresh one entry for entry (paths, types, modes, bytes, record); otherwise it is quarantined and the
 * fresh copy takes its place, so a copy damaged on the host never reaches a later campaign.
 * Throws SubstrateInvalid (from @aevo/substrate-kit) when the substrate or its copy breaks the contract.
 */
export async function takeSnapshot(
  substrateDir: string,
  home: string,
  opts: TakeSnapshotOptions = {},
): Promise<SnapshotRecord> {
  const prepared = await prepareSnapshot(substrateDir, home, opts.hashCache);
  try {
    return await withSnapshotLock(prepared.record.snapshotId, () => publishSnapshot(prepared, home, opts));
  } finally {
    removeTree(prepared.tmp);
  }
}

/** The copy and its hashes, under `<home>/snapshots/.tmp-*`; the caller publishes it or removes `tmp`. */
export async function prepareSnapshot(
  substrateDir: string,
  home: string,
  hashCache: HashCache = new HashCache(),
): Promise<PreparedSnapshot> {
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
    // Read-only before hashing: the chmod moves each ctime, so a hash taken after it (and cached, when the chmod is
    // old enough by then) stays valid once the copy is published (a rename keeps the inodes).
    makeCopyReadOnly(tmp);
    const copy = loadSubstrate(tmp);
    const entries = await describeTree(tmp, copy, hashCache);
    const snapshotId = snapshotIdOf(entries);
    const record: SnapshotRecord = {
      snapshotId,
      name: copy.manifest.name,
      version: copy.manifest.version,
      snapshotPath: path.join(dir, snapshotId),
      source: source.dir,
      files: entries.filter((e) => e.type !== 'dir').length,
      bytes: entries.reduce((n, e) => n + e.size, 0),
      entries,
    };
    return { tmp, record };
  } catch (err) {
    removeTree(tmp);
    throw err;
  }
}

/**
 * Publishes a prepared copy under its id. The caller holds `withSnapshotLock(id)`. An existing copy is compared with
 * the prepared one and kept when identical (nothing is rewritten); a differing one is quarantined first.
 */
export async function publishSnapshot(
  prepared: PreparedSnapshot,
  home: string,
  opts: TakeSnapshotOptions = {},
): Promise<SnapshotRecord> {
  const { tmp, record } = prepared;
  const id = record.snapshotId;
  const final = path.join(snapshotsDir(home), id);
  const recordFile = recordPath(home, id);
  const existing = readRecordFile(home, id);
  let writeRecord = existing.record === null || !sameRecord(existing.record, record);
  if (lexists(final) || (lexists(recordFile) && writeRecord)) {
    // (A record alone that matches is a publish interrupted between record and tree: the tree follows now.)
    const found = await inspectSnapshot(home, id, fileHashes(record), opts.hashCache ?? new HashCache(), record);
    if (found.damage.length === 0) return readSnapshot(home, id);
    const quarantinedAt = quarantineSnapshot(home, id, { rootId: found.rootId, now: opts.now?.() });
    opts.onReplaced?.({ snapshotId: id, files: found.damage, quarantinedAt });
    writeRecord = true;
  }
  if (writeRecord) writeFileAtomic(recordFile, JSON.stringify(record, null, 1), 0o444);
  try {
    fs.renameSync(tmp, final);
  } catch (err) {
    // Another process published the same content first; its copy is checked at its first use like any other.
    if (!fs.existsSync(final)) throw err;
  }
  return readSnapshot(home, id);
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

/** Canonical read-only modes on a fresh copy: files 0444 (0555 if executable), directories 0555. */
function makeCopyReadOnly(root: string) {
  const entries = walkTree(root);
  for (const e of entries)
    if (e.type === 'file') fs.chmodSync(path.join(root, e.path), (e.mode & 0o111) !== 0 ? 0o555 : 0o444);
  for (const e of [...entries].reverse()) if (e.type === 'dir') fs.chmodSync(path.join(root, e.path), 0o555);
  fs.chmodSync(root, 0o555);
}
