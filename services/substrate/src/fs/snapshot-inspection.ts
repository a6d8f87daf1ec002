/** Checking a published snapshot against its pins, and quarantining a damaged copy. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { comparePaths } from '@aevo/substrate-kit';
import { HashCache } from './hash';
import { makeTreeReadOnly, snapshotDamage, snapshotTreeDamage, type DamagedFile } from './damage';

import {
  lexists,
  pinnedHashes,
  quarantineDir,
  recordPath,
  snapshotIdOf,
  snapshotsDir,
  type SnapshotEntry,
  type SnapshotRecord,
} from './snapshot-record';

/** The record file as found: null with `problem` when it is missing or not a record. */
export function readRecordFile(home: string, id: string): { record: SnapshotRecord | null; problem: string | null } {
  let text: string;
  try {
    text = fs.readFileSync(recordPath(home, id), 'utf8');
  } catch {
    return { record: null, problem: 'missing' };
  }
  try {
    const r = JSON.parse(text) as SnapshotRecord;
    if (typeof r !== 'object' || r === null || !Array.isArray(r.entries))
      return { record: null, problem: 'not a snapshot record' };
    return { record: { ...r, snapshotPath: path.join(snapshotsDir(home), id) }, problem: null };
  } catch {
    return { record: null, problem: 'not a snapshot record' };
  }
}

const entryKey = (e: SnapshotEntry) =>
  JSON.stringify([e.path, e.type, e.mode, e.size, e.sha256, e.linkTarget ?? null, e.class]);
/** Same content description (the source directory and location are not content). */
export function sameRecord(a: SnapshotRecord, b: SnapshotRecord): boolean {
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
  /**
   * The record, when it is authenticated (its entries hash to the id and pin what the event pins) and the tree is
   * intact.
   */
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
    else
      damage.push({ path: recordRel, expected: snapshotId, actual: 'entries differ from a fresh copy of the source' });
  } else {
    let idOfEntries: string;
    try {
      idOfEntries = snapshotIdOf(found.record.entries);
    } catch {
      idOfEntries = 'not a snapshot record';
    }
    if (idOfEntries !== snapshotId) damage.push({ path: recordRel, expected: snapshotId, actual: idOfEntries });
    else if (!samePins(pinnedHashes(found.record), pins))
      damage.push({ path: recordRel, expected: snapshotId, actual: 'pins differ from SubstrateSnapshotted' });
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
export function quarantineSnapshot(
  home: string,
  snapshotId: string,
  opts: { rootId?: string | null; now?: Date } = {},
): string | null {
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
