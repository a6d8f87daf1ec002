import * as fs from 'node:fs';
import * as path from 'node:path';
import { comparePaths, normaliseWithin } from '@aevo/substrate-kit';
import { sha256Text, type HashCache } from './hash';
import type { SnapshotEntry } from './snapshot-store';

/** One difference between a snapshot on disk and what its id and SubstrateSnapshotted pin. */
export interface DamagedFile {
  /** Snapshot-relative; `.` is the snapshot directory, `../<id>.json` its record. */
  path: string;
  /** The pinned sha256, or the kind, mode or absence expected. */
  expected: string;
  /** The sha256 found, `missing`, `not a regular file`, or what was found instead. */
  actual: string;
}

const kindOf = (st: fs.Stats) =>
  st.isSymbolicLink()
    ? 'symlink'
    : st.isDirectory()
      ? 'directory'
      : st.isFile()
        ? 'regular file'
        : st.isFIFO()
          ? 'fifo'
          : st.isSocket()
            ? 'socket'
            : 'device';
const octal = (m: number) => `mode ${(m & 0o7777).toString(8)}`;
/** The only modes a snapshot holds: files 0444 or 0555 (executable), directories 0555. */
export const snapshotMode = (e: Pick<SnapshotEntry, 'type' | 'mode'>): number =>
  e.type === 'dir' ? 0o555 : e.mode & 0o555;

/**
 * Which pinned files (`pins`: snapshot-relative path → sha256) no longer hold their pinned bytes; `paths` narrows
 * the check to the files one use depends on. A pin is met only by a regular file reached without a symlink on
 * the way (its directory's real path is checked), whose sha256 matches.
 *
 * Cost: per pinned file one lstat and one realpath (microseconds). Bytes are read only when `hashCache` holds no
 * entry for the file's (device, inode, size, mtime, ctime): a 2 GB checkpoint is read once per process (measured on
 * a 2-core VM: 1.7 s from the page cache, 4.1 s from disk), and every later check of it is a stat — until a write or
 * chmod moves its ctime, which user space cannot set back, and which makes the next check read it again. A file
 * changed less than 2 s before its read is never trusted from the cache. Nothing here writes.
 */
export async function snapshotDamage(
  snapshotPath: string,
  pins: Readonly<Record<string, string>>,
  hashCache: HashCache,
  paths?: readonly string[],
): Promise<DamagedFile[]> {
  const out: DamagedFile[] = [];
  let root: string;
  try {
    root = fs.realpathSync(snapshotPath);
  } catch {
    return [{ path: '.', expected: 'directory', actual: 'missing' }];
  }
  const wanted = paths === undefined ? Object.keys(pins) : paths.filter((p) => pins[p] !== undefined);
  for (const rel of [...new Set(wanted)].sort(comparePaths)) {
    const expected = pins[rel];
    if (normaliseWithin(rel) !== rel) {
      out.push({ path: rel, expected, actual: 'not a path inside the snapshot' });
      continue;
    }
    const abs = path.join(root, rel);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(abs);
    } catch {
      out.push({ path: rel, expected, actual: 'missing' });
      continue;
    }
    if (!st.isFile()) {
      out.push({ path: rel, expected, actual: 'not a regular file' });
      continue;
    }
    // A directory on the way swapped for a symlink would let the pinned bytes live anywhere (and change later).
    if (fs.realpathSync(path.dirname(abs)) !== path.dirname(abs)) {
      out.push({ path: rel, expected, actual: 'reached through a symlink' });
      continue;
    }
    let actual: string;
    try {
      actual = await hashCache.hash(abs);
    } catch {
      actual = 'missing'; // removed between the stat and the read
    }
    if (actual !== expected) out.push({ path: rel, expected, actual });
  }
  return out;
}

/**
 * The shape of a snapshot tree against its (authenticated) entries: nothing added, nothing missing, every entry of
 * its type, read-only mode, and symlink text. Contents are snapshotDamage's business. Cost: one lstat per entry.
 */
export function snapshotTreeDamage(snapshotPath: string, entries: readonly SnapshotEntry[]): DamagedFile[] {
  const out: DamagedFile[] = [];
  const byPath = new Map(entries.map((e) => [e.path, e]));
  const seen = new Set<string>();
  /** Directories whose listing was compared: only their absent children are reported missing. */
  const walked = new Set<string>();
  let rootSt: fs.Stats;
  try {
    rootSt = fs.lstatSync(snapshotPath);
  } catch {
    return [{ path: '.', expected: 'directory', actual: 'missing' }];
  }
  if (!rootSt.isDirectory()) return [{ path: '.', expected: 'directory', actual: kindOf(rootSt) }];
  if ((rootSt.mode & 0o7777) !== 0o555) out.push({ path: '.', expected: octal(0o555), actual: octal(rootSt.mode) });

  const walk = (absDir: string, relDir: string) => {
    let names: string[];
    try {
      names = fs.readdirSync(absDir);
    } catch {
      out.push({ path: relDir || '.', expected: 'a readable directory', actual: 'unreadable' });
      return;
    }
    walked.add(relDir);
    for (const name of names) {
      const abs = path.join(absDir, name);
      const rel = relDir ? `${relDir}/${name}` : name;
      const st = fs.lstatSync(abs);
      const e = byPath.get(rel);
      seen.add(rel);
      if (!e) {
        out.push({ path: rel, expected: 'absent', actual: kindOf(st) });
        continue;
      }
      const typeOk = e.type === 'dir' ? st.isDirectory() : e.type === 'symlink' ? st.isSymbolicLink() : st.isFile();
      if (!typeOk) {
        out.push({
          path: rel,
          expected: e.type === 'dir' ? 'directory' : e.type === 'symlink' ? 'symlink' : 'regular file',
          actual: kindOf(st),
        });
        continue;
      }
      if (e.type === 'symlink') {
        const target = fs.readlinkSync(abs);
        // The entry's sha256 (covered by the id) is what counts, not its linkTarget field.
        if (sha256Text(target) !== e.sha256)
          out.push({ path: rel, expected: `symlink to ${e.linkTarget ?? '?'}`, actual: `symlink to ${target}` });
        continue;
      }
      if ((st.mode & 0o7777) !== snapshotMode(e))
        out.push({ path: rel, expected: octal(snapshotMode(e)), actual: octal(st.mode) });
      if (e.type === 'dir') walk(abs, rel);
    }
  };
  walk(snapshotPath, '');
  for (const e of entries) {
    if (seen.has(e.path)) continue;
    // Children of a directory already reported (missing or replaced) are not listed again.
    const parent = e.path.includes('/') ? e.path.slice(0, e.path.lastIndexOf('/')) : '';
    if (!walked.has(parent)) continue;
    out.push({
      path: e.path,
      expected: e.type === 'file' ? e.sha256 : e.type === 'dir' ? 'directory' : `symlink to ${e.linkTarget ?? '?'}`,
      actual: 'missing',
    });
  }
  return out.sort((a, b) => comparePaths(a.path, b.path));
}

/** Makes a tree read-only without following symlinks (a damaged tree may hold links to anywhere). */
export function makeTreeReadOnly(root: string): void {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(root);
  } catch {
    return;
  }
  if (st.isSymbolicLink()) return;
  const chmod = (mode: number) => {
    try {
      fs.chmodSync(root, mode);
    } catch {
      // best effort: a file another user planted there stays as it was found
    }
  };
  if (!st.isDirectory()) {
    chmod(st.mode & 0o555);
    return;
  }
  chmod(0o555);
  let names: string[] = [];
  try {
    names = fs.readdirSync(root);
  } catch {
    return; // best effort: what cannot be read stays as it was found
  }
  for (const name of names) makeTreeReadOnly(path.join(root, name));
}
