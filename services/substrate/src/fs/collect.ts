import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { removeTree } from './snapshot-store';

/** Bytes the file system gets back when `dir` goes: blocks of files whose last link is inside it. */
export function bytesFreedBy(dir: string): number {
  const links = new Map<string, { nlink: number; seen: number; bytes: number }>();
  const walk = (p: string) => {
    for (const name of fs.readdirSync(p)) {
      const abs = path.join(p, name);
      const st = fs.lstatSync(abs);
      if (st.isDirectory()) walk(abs);
      else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        const e = links.get(key) ?? { nlink: st.nlink, seen: 0, bytes: st.blocks * 512 };
        e.seen++;
        links.set(key, e);
      }
    }
  };
  walk(dir);
  let freed = 0;
  for (const e of links.values()) if (e.seen >= e.nlink) freed += e.bytes;
  return freed;
}

/**
 * Deletes a sandbox. It is first renamed to a hidden name in the same directory (atomic), so nothing can start
 * in a half-deleted sandbox; shared snapshot inodes only lose a link. Returns the bytes freed (0 if it was gone).
 */
export function removeSandbox(sandboxPath: string): number {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(sandboxPath);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) {
    // a job replaced its sandbox by a link or file: remove that entry, never what it points to
    fs.unlinkSync(sandboxPath);
    return 0;
  }
  const doomed = path.join(
    path.dirname(sandboxPath),
    `.${path.basename(sandboxPath)}.collecting-${randomBytes(4).toString('hex')}`,
  );
  fs.renameSync(sandboxPath, doomed);
  const freed = bytesFreedBy(doomed);
  removeTree(doomed);
  return freed;
}
