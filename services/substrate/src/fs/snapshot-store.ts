import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { loadSubstrate, walkTree, classifyPath, comparePaths, type FileClass, type LoadedSubstrate } from '@aevo/substrate-kit';
import { HashCache, hashFile, sha256Text } from './hash';
import { makeTreeReadOnly, snapshotDamage, snapshotTreeDamage, type DamagedFile } from './damage';

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

async function describeTree(root: string, loaded: LoadedSubstrate, hashCache?: HashCache): Promise<SnapshotEntry[]> {
  const out: SnapshotEntry[] = [];
  for (const e of walkTree(root)) {
    if (e.type === 'other') throw new Error(`${e.path} is not a regular file, directory or symlink`);
    const abs = path.join(root, e.path);
    const sha256 = e.type === 'file' ? await (hashCache ? hashCache.hash(abs) : hashFile(abs)) : e.type === 'symlink' ? sha256Text(e.linkTarget!) : '';
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
export async function takeSnapshot(substrateDir: string, home: string, opts: TakeSnapshotOptions = {}): Promise<SnapshotRecord> {
  const prepared = await prepareSnapshot(substrateDir, home, opts.hashCache);
  try {
    return await withSnapshotLock(prepared.record.snapshotId, () => publishSnapshot(prepared, home, opts));
  } finally {
    removeTree(prepared.tmp);
  }
}

/** The copy and its hashes, under `<home>/snapshots/.tmp-*`; the caller publishes it or removes `tmp`. */
export async function prepareSnapshot(substrateDir: string, home: string, hashCache: HashCache = new HashCache()): Promise<PreparedSnapshot> {
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
export async function publishSnapshot(prepared: PreparedSnapshot, home: string, opts: TakeSnapshotOptions = {}): Promise<SnapshotRecord> {
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

/** Canonical read-only modes on a fresh copy: files 0444 (0555 if executable), directories 0555. */
function makeCopyReadOnly(root: string) {
  const entries = walkTree(root);
  for (const e of entries) if (e.type === 'file') fs.chmodSync(path.join(root, e.path), (e.mode & 0o111) !== 0 ? 0o555 : 0o444);
  for (const e of [...entries].reverse()) if (e.type === 'dir') fs.chmodSync(path.join(root, e.path), 0o555);
  fs.chmodSync(root, 0o555);
}

function lexists(p: string): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/** The record file as found: null with `problem` when it is missing or not a record. */
function readRecordFile(home: string, id: string): { record: SnapshotRecord | null; problem: string | null } {
  let text: string;
  try {
    text = fs.readFileSync(recordPath(home, id), 'utf8');
  } catch {
    return { record: null, problem: 'missing' };
  }
  try {
    const r = JSON.parse(text) as SnapshotRecord;
    if (typeof r !== 'object' || r === null || !Array.isArray(r.entries)) return { record: null, problem: 'not a snapshot record' };
    return { record: { ...r, snapshotPath: path.join(snapshotsDir(home), id) }, problem: null };
  } catch {
    return { record: null, problem: 'not a snapshot record' };
  }
}

const entryKey = (e: SnapshotEntry) => JSON.stringify([e.path, e.type, e.mode, e.size, e.sha256, e.linkTarget ?? null, e.class]);
/** Same content description (the source directory and location are not content). */
function sameRecord(a: SnapshotRecord, b: SnapshotRecord): boolean {
  return (
    a.snapshotId === b.snapshotId &&
    a.name === b.name &&
    a.version === b.version &&
    a.entries.length === b.entries.length &&
    a.entries.every((e, i) => entryKey(e) === entryKey(b.entries[i]))
  );
}

const samePins = (a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>) =>
  Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);

/** sha256 of every regular file of a record (pinned and editable). */
export function fileHashes(record: SnapshotRecord): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of record.entries) if (e.type === 'file') out[e.path] = e.sha256;
  return out;
}

export interface SnapshotInspection {
  /** Empty when the snapshot is intact. */
  damage: DamagedFile[];
  /** The record, when it is authenticated (its entries hash to the id and pin what the event pins) and the tree is intact. */
  record: SnapshotRecord | null;
  /** device:inode of the snapshot directory inspected (null when missing): quarantine moves only that one. */
  rootId: string | null;
}

/**
 * Compares a snapshot on disk with what SubstrateSnapshotted pinned (`pins`, and the id itself). The record
 * `<id>.json` is trusted only once authenticated: its entries must hash to the id (so editable files, modes and
 * symlinks are covered too, by a sha256 preimage) and its pinned files must be exactly `pins`; a record that
 * disagrees is itself damage, and then only `pins` are checked. With `expected` (a fresh copy of the same id), the
 * record on disk must describe the same content and every file is checked against it.
 * Cost: one lstat per entry plus snapshotDamage's (a stat per file once each file is in the HashCache).
 */
export async function inspectSnapshot(
  home: string,
  snapshotId: string,
  pins: Readonly<Record<string, string>>,
  hashCache: HashCache,
  expected?: SnapshotRecord,
): Promise<SnapshotInspection> {
  const dir = path.join(snapshotsDir(home), snapshotId);
  const recordRel = `../${snapshotId}.json`;
  const damage: DamagedFile[] = [];
  const found = readRecordFile(home, snapshotId);
  let trusted: SnapshotRecord | null = null;
  if (found.record === null) damage.push({ path: recordRel, expected: snapshotId, actual: found.problem ?? 'missing' });
  else if (expected) {
    if (sameRecord(found.record, expected)) trusted = found.record;
    else damage.push({ path: recordRel, expected: snapshotId, actual: 'entries differ from a fresh copy of the source' });
  } else {
    let idOfEntries: string;
    try {
      idOfEntries = snapshotIdOf(found.record.entries);
    } catch {
      idOfEntries = 'not a snapshot record';
    }
    if (idOfEntries !== snapshotId) damage.push({ path: recordRel, expected: snapshotId, actual: idOfEntries });
    else if (!samePins(pinnedHashes(found.record), pins)) damage.push({ path: recordRel, expected: snapshotId, actual: 'pins differ from SubstrateSnapshotted' });
    else trusted = found.record;
  }
  const entries = expected?.entries ?? trusted?.entries ?? null;

  let rootId: string | null = null;
  try {
    const st = fs.lstatSync(dir);
    rootId = `${st.dev}:${st.ino}`;
  } catch {
    damage.push({ path: '.', expected: 'directory', actual: 'missing' });
    return { damage, record: null, rootId };
  }
  // Pinned files against the event's pins; editable ones against the authenticated entries (new forks copy them).
  const hashes: Record<string, string> = { ...(entries ? fileHashes({ entries } as SnapshotRecord) : {}), ...pins };
  const files = await snapshotDamage(dir, hashes, hashCache);
  const named = new Set([...damage, ...files].map((d) => d.path));
  damage.push(...files);
  if (entries) for (const d of snapshotTreeDamage(dir, entries)) if (!named.has(d.path)) damage.push(d);
  damage.sort((a, b) => comparePaths(a.path, b.path));
  return { damage, record: damage.length === 0 ? trusted : null, rootId };
}

/**
 * Moves a snapshot tree to `<home>/snapshots/.quarantine/<id>-<time>/` and its record to `…/<id>-<time>.json`, both
 * read-only, kept for forensics. Only the directory inspected (`rootId`) is moved: one that another process has
 * meanwhile put in its place is left alone. Returns the quarantine path, or null when nothing was left to move.
 * Sandboxes forked earlier keep their hard links into the moved tree (a rename keeps inodes).
 */
export function quarantineSnapshot(home: string, snapshotId: string, opts: { rootId?: string | null; now?: Date } = {}): string | null {
  const q = quarantineDir(home);
  fs.mkdirSync(q, { recursive: true, mode: 0o700 });
  const stamp = (opts.now ?? new Date()).toISOString().replace(/[-:.]/g, '');
  let base = path.join(q, `${snapshotId}-${stamp}`);
  if (lexists(base) || lexists(`${base}.json`)) base = `${base}-${randomBytes(3).toString('hex')}`;
  const tree = path.join(snapshotsDir(home), snapshotId);
  let moved = false;
  try {
    const st = fs.lstatSync(tree);
    if (opts.rootId === undefined || opts.rootId === null || opts.rootId === `${st.dev}:${st.ino}`) {
      fs.renameSync(tree, base);
      moved = true;
      makeTreeReadOnly(base);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  try {
    fs.renameSync(recordPath(home, snapshotId), `${base}.json`);
    fs.chmodSync(`${base}.json`, 0o444);
    moved = true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return moved ? base : null;
}

/** Quarantined copies of a snapshot id, oldest first. */
export function quarantinedCopies(home: string, snapshotId: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(quarantineDir(home));
  } catch {
    return [];
  }
  return names
    .filter((n) => n.startsWith(`${snapshotId}-`) && !n.endsWith('.json'))
    .sort()
    .map((n) => path.join(quarantineDir(home), n));
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
