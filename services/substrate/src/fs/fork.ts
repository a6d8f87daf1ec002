import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { mergeRecipeYaml } from '@aevo/substrate-kit';
import { hashFile } from './hash';
import { loadedSnapshot, removeTree, type SnapshotRecord } from './snapshot-store';

export interface ForkResult {
  sandboxPath: string;
  /** True when the sandbox was already complete (an earlier delivery forked it); nothing was touched. */
  existed: boolean;
  /** Pinned files shared with the snapshot by hard link (no bytes copied). */
  linked: number;
  /** Pinned files that had to be copied because the sandbox is on another device (reflink when possible). */
  copiedShared: number;
  /** Editable files copied (the only per-sandbox bytes). */
  copiedEditable: number;
  recipeSha256: string;
}

/**
 * Forks a snapshot into `sandboxPath`. Cost is per file, not per byte: every pinned file (frozen, and files in
 * neither list) is a hard link to the snapshot's read-only inode — the base checkpoint is shared, never copied —
 * and only editable files are copied. Across devices, where hard links are impossible, pinned files are cloned
 * (`COPYFILE_FICLONE`: a reflink where the file system can, a copy otherwise) and made read-only.
 * The standing recipe is deep-merged onto the sandbox's recipe. The sandbox is built under a temporary name and
 * renamed into place, so an existing `sandboxPath` is always a complete fork.
 */
export async function forkSandbox(
  snapshot: SnapshotRecord,
  sandboxPath: string,
  standingRecipe: Record<string, unknown>,
): Promise<ForkResult> {
  const recipeRel = path.posix.normalize(loadedSnapshot(snapshot).manifest.recipe);
  if (fs.existsSync(sandboxPath)) {
    return {
      sandboxPath,
      existed: true,
      linked: 0,
      copiedShared: 0,
      copiedEditable: 0,
      recipeSha256: await hashFile(path.join(sandboxPath, recipeRel)),
    };
  }
  const parent = path.dirname(sandboxPath);
  fs.mkdirSync(parent, { recursive: true });
  const tmp = path.join(parent, `.${path.basename(sandboxPath)}.tmp-${randomBytes(6).toString('hex')}`);
  let linked = 0;
  let copiedShared = 0;
  let copiedEditable = 0;
  try {
    fs.mkdirSync(tmp, { mode: 0o755 });
    for (const e of snapshot.entries) {
      const from = path.join(snapshot.snapshotPath, e.path);
      const to = path.join(tmp, e.path);
      if (e.type === 'dir') fs.mkdirSync(to, { mode: 0o755 });
      else if (e.type === 'symlink') fs.symlinkSync(e.linkTarget!, to);
      else if (e.class === 'editable') {
        fs.copyFileSync(from, to, fs.constants.COPYFILE_FICLONE);
        fs.chmodSync(to, e.mode);
        copiedEditable++;
      } else {
        try {
          fs.linkSync(from, to);
          linked++;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
          fs.copyFileSync(from, to, fs.constants.COPYFILE_FICLONE);
          fs.chmodSync(to, e.mode & 0o555);
          copiedShared++;
        }
      }
    }
    const recipeFile = path.join(tmp, recipeRel);
    const merged = mergeRecipeYaml(fs.readFileSync(recipeFile, 'utf8'), standingRecipe);
    fs.writeFileSync(recipeFile, merged);
    const recipeSha256 = await hashFile(recipeFile);
    try {
      fs.renameSync(tmp, sandboxPath);
    } catch (err) {
      // A concurrent fork of the same candidate won the rename; its sandbox is complete and equivalent.
      if (!fs.existsSync(sandboxPath)) throw err;
      removeTree(tmp);
      return {
        sandboxPath,
        existed: true,
        linked: 0,
        copiedShared: 0,
        copiedEditable: 0,
        recipeSha256: await hashFile(path.join(sandboxPath, recipeRel)),
      };
    }
    return { sandboxPath, existed: false, linked, copiedShared, copiedEditable, recipeSha256 };
  } catch (err) {
    removeTree(tmp);
    throw err;
  }
}
