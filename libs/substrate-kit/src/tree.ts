import * as fs from 'node:fs';
import * as path from 'node:path';

export type EntryType = 'file' | 'symlink' | 'dir' | 'other';

export interface TreeEntry {
  /** POSIX path relative to the root, e.g. "harness/metric.py". */
  path: string;
  type: EntryType;
  /** Permission bits (`st_mode & 0o7777`). */
  mode: number;
  size: number;
  /** For symlinks: the link text as stored (not resolved). */
  linkTarget?: string;
}

/** Byte-wise order of POSIX paths: the canonical order for hashes (independent of locale). */
export function comparePaths(a: string, b: string): number {
  const ba = Buffer.from(a);
  const bb = Buffer.from(b);
  return Buffer.compare(ba, bb);
}

/**
 * Every entry under `root` (not following symlinks), sorted canonically. Directories are listed too.
 * `skip(relPath, type)` may drop an entry (and, for a directory, everything under it).
 */
export function walkTree(root: string, skip?: (relPath: string, type: EntryType) => boolean): TreeEntry[] {
  const out: TreeEntry[] = [];
  const visit = (absDir: string, relDir: string) => {
    for (const name of fs.readdirSync(absDir)) {
      const abs = path.join(absDir, name);
      const rel = relDir ? `${relDir}/${name}` : name;
      const st = fs.lstatSync(abs);
      const type: EntryType = st.isSymbolicLink()
        ? 'symlink'
        : st.isDirectory()
          ? 'dir'
          : st.isFile()
            ? 'file'
            : 'other';
      if (skip?.(rel, type)) continue;
      const entry: TreeEntry = { path: rel, type, mode: st.mode & 0o7777, size: type === 'file' ? st.size : 0 };
      if (type === 'symlink') entry.linkTarget = fs.readlinkSync(abs);
      out.push(entry);
      if (type === 'dir') visit(abs, rel);
    }
  };
  visit(root, '');
  return out.sort((a, b) => comparePaths(a.path, b.path));
}

/**
 * Where a symlink at `linkRel` (relative to a root) points, as a root-relative POSIX path, judged lexically;
 * null when it leaves the root (absolute target outside, or too many "..").
 */
export function symlinkTargetWithin(linkRel: string, target: string): string | null {
  if (path.posix.isAbsolute(target)) return null;
  const joined = path.posix.normalize(path.posix.join(path.posix.dirname(linkRel), target));
  if (joined === '..' || joined.startsWith('../') || path.posix.isAbsolute(joined)) return null;
  return joined === '.' ? '' : joined;
}

/** A requested relative path, normalised; null when it is absolute or climbs out with "..". */
export function normaliseWithin(rel: string): string | null {
  if (rel.length === 0 || rel.includes('\0') || path.posix.isAbsolute(rel) || rel.includes('\\')) return null;
  const n = path.posix.normalize(rel);
  if (n === '..' || n.startsWith('../')) return null;
  return n === '.' ? '' : n.replace(/\/$/, '');
}
