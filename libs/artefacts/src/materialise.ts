import { randomBytes } from 'node:crypto';
import { constants as fsc, createReadStream, createWriteStream } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ArtefactInputError, type ArtefactStore, type ManifestEntry } from './port';
import { assertMode, assertRelativePath, assertSha256, isFrozenMode } from './validate';

/**
 * A per-node content cache: objects fetched from the store once, kept read-only under <dir>/<2 hex>/<62 hex>, and
 * linked or copied into every sandbox that needs them. A base checkpoint crosses the network once per node.
 */
export class ContentCache {
  /** Objects and bytes fetched from the store by this instance (what crossed the network). */
  readonly transfers = { objects: 0, bytes: 0 };

  constructor(
    readonly store: ArtefactStore,
    readonly dir: string,
  ) {}

  pathOf(sha256: string): string {
    assertSha256(sha256, 'sha256');
    return path.join(this.dir, sha256.slice(0, 2), sha256.slice(2));
  }

  /**
   * The cached file of `sha256`, fetched when missing. The store's stream verifies the digest, and the file only
   * enters the cache (by rename) once the stream has ended cleanly. A cached file of the wrong size is fetched
   * again; the cache trusts its own read-only files otherwise (rehashing a checkpoint on every use is the cost
   * the cache exists to avoid).
   */
  async ensure(sha256: string, size: number): Promise<string> {
    const file = this.pathOf(sha256);
    const st = await fsp.stat(file).catch(() => undefined);
    if (st?.isFile() && st.size === size) return file;
    await fsp.mkdir(path.dirname(file), { recursive: true });
    const tmp = path.join(this.dir, `.tmp-${process.pid}-${randomBytes(8).toString('hex')}`);
    try {
      await pipeline(await this.store.get(sha256), createWriteStream(tmp, { flags: 'wx', mode: 0o600 }));
      const got = (await fsp.stat(tmp)).size;
      if (got !== size) throw new ArtefactInputError(`entry ${sha256}.size`, `${got} (the object's size)`, size);
      await fsp.chmod(tmp, 0o444);
      await fsp.rename(tmp, file);
    } catch (err) {
      await fsp.rm(tmp, { force: true });
      throw err;
    }
    this.transfers.objects++;
    this.transfers.bytes += size;
    return file;
  }
}

export interface MaterialiseOptions {
  /**
   * Hard-link frozen 0444 files from the cache (default true). A link shares the cache's inode, so a job that may
   * chmod its files (same uid, no read-only bind over them) could change the cache: pass false there to copy.
   */
  linkFrozen?: boolean;
}

export interface MaterialiseResult {
  files: number;
  /** Frozen files hard-linked from the cache (no bytes copied). */
  linked: number;
  /** Files copied from the cache (editable files, and frozen ones when a link is impossible). */
  copied: number;
  /** What this materialisation fetched from the store. */
  transferred: { objects: number; bytes: number };
}

/**
 * Writes the manifest's files into `targetDir` (created; must be empty or absent) through the cache. Frozen files
 * (mode without a write bit) of mode 0444 are hard links to the cache's read-only file; other frozen modes are copies
 * set to their mode, read-only as well; editable files are copies with their mode.
 */
export async function materialise(
  store: ArtefactStore,
  manifestSha256: string,
  targetDir: string,
  cache: ContentCache,
  options: MaterialiseOptions = {},
): Promise<MaterialiseResult> {
  const linkFrozen = options.linkFrozen ?? true;
  const manifest = await store.getManifest(manifestSha256);
  const root = path.resolve(targetDir);
  await fsp.mkdir(root, { recursive: true });
  if ((await fsp.readdir(root)).length > 0) {
    throw new ArtefactInputError('targetDir', 'an empty or absent directory', targetDir);
  }
  const before = { ...cache.transfers };
  let linked = 0;
  let copied = 0;
  for (const entry of manifest.entries) {
    const dest = path.join(root, ...entry.path.split('/'));
    // Paths were validated when the manifest was read; this is the last guard before writing.
    if (!dest.startsWith(root + path.sep))
      throw new ArtefactInputError('entries.path', 'a path inside targetDir', entry.path);
    await fsp.mkdir(path.dirname(dest), { recursive: true });
    const cached = await cache.ensure(entry.sha256, entry.size);
    if (linkFrozen && entry.mode === 0o444 && (await tryLink(cached, dest))) {
      linked++;
      continue;
    }
    // COPYFILE_FICLONE: a reflink where the file system has them (no bytes copied), a plain copy otherwise.
    await fsp.copyFile(cached, dest, fsc.COPYFILE_EXCL | fsc.COPYFILE_FICLONE);
    await fsp.chmod(dest, entry.mode);
    copied++;
  }
  return {
    files: manifest.entries.length,
    linked,
    copied,
    transferred: { objects: cache.transfers.objects - before.objects, bytes: cache.transfers.bytes - before.bytes },
  };
}

async function tryLink(from: string, to: string): Promise<boolean> {
  try {
    await fsp.link(from, to);
    return true;
  } catch (err) {
    // Another file system (EXDEV) or one without hard links: fall back to a copy.
    if (['EXDEV', 'EPERM', 'ENOTSUP', 'EMLINK'].includes((err as NodeJS.ErrnoException).code ?? '')) return false;
    throw err;
  }
}

export interface CollectPath {
  path: string;
  /** Overrides the file's own permission bits (e.g. 0o444 to freeze an output). */
  mode?: number;
}

export interface CollectResult {
  manifestSha256: string;
  entries: ManifestEntry[];
  /** Bytes newly written to the store (content it already held is not uploaded again). */
  storedBytes: number;
}

/**
 * The reverse of materialise: uploads the named regular files under `dir` by hash and stores their manifest.
 * Symbolic links and other non-regular files are refused (a link could point outside `dir`).
 */
export async function collect(
  store: ArtefactStore,
  dir: string,
  paths: readonly (string | CollectPath)[],
): Promise<CollectResult> {
  const root = path.resolve(dir);
  const wanted = paths.map((p, i) => {
    const item = typeof p === 'string' ? { path: p } : p;
    assertRelativePath(item.path, `paths[${i}]`);
    if (item.mode !== undefined) assertMode(item.mode, `paths[${i}].mode`);
    return item;
  });
  const entries: ManifestEntry[] = [];
  let storedBytes = 0;
  for (const [i, item] of wanted.entries()) {
    const file = path.join(root, ...item.path.split('/'));
    const st = await fsp.lstat(file).catch(() => undefined);
    if (!st || !st.isFile())
      throw new ArtefactInputError(
        `paths[${i}]`,
        `a regular file under ${root} (not a link, directory or missing path)`,
        item.path,
      );
    const put = await store.put(createReadStream(file));
    if (put.stored) storedBytes += put.size;
    entries.push({ path: item.path, sha256: put.sha256, size: put.size, mode: item.mode ?? st.mode & 0o777 });
  }
  const manifestSha256 = await store.putManifest(entries);
  return { manifestSha256, entries: [...entries].sort((a, b) => (a.path < b.path ? -1 : 1)), storedBytes };
}

/**
 * A fork: the base manifest's entries with some replaced or added and some removed. O(entries), never O(bytes):
 * only the changed files' objects (already put by the caller) and the new manifest are written.
 */
export async function deriveManifest(
  store: ArtefactStore,
  baseSha256: string,
  change: { upsert?: readonly ManifestEntry[]; remove?: readonly string[] },
): Promise<string> {
  const base = await store.getManifest(baseSha256);
  const byPath = new Map(base.entries.map((e) => [e.path, e]));
  for (const [i, p] of (change.remove ?? []).entries()) {
    assertRelativePath(p, `remove[${i}]`);
    if (!byPath.delete(p)) throw new ArtefactInputError(`remove[${i}]`, `a path of manifest ${baseSha256}`, p);
  }
  for (const e of change.upsert ?? []) byPath.set(e.path, e);
  return store.putManifest([...byPath.values()]);
}

/** True when the manifest entry is frozen (read-only to the job). */
export const isFrozenEntry = (e: ManifestEntry): boolean => isFrozenMode(e.mode);
