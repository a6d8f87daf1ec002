import { createHash, randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { chunksOf, sha256Hex, verifyingStream } from './hashing';
import { getManifestFrom, putManifestInto } from './manifest';
import {
  DigestMismatchError,
  ObjectNotFoundError,
  type ArtefactContent,
  type ArtefactStore,
  type Manifest,
  type ManifestEntry,
  type ObjectStat,
  type PutOptions,
  type PutResult,
} from './port';
import { assertSha256 } from './validate';

export interface FsArtefactStoreOptions {
  /** The store's root directory (created if missing). Objects live under <root>/objects/ab/cdef…. */
  root: string;
}

/**
 * The filesystem adapter, the single-box default: objects under <root>/objects/<2 hex>/<62 hex>, each written to
 * <root>/tmp, fsynced and renamed into place (a reader never sees a partial object), then made read-only (0444).
 * Object paths are built only from validated digests, so no call can reach outside the root.
 */
export class FsArtefactStore implements ArtefactStore {
  readonly root: string;

  private constructor(root: string) {
    this.root = root;
  }

  static async open(options: FsArtefactStoreOptions): Promise<FsArtefactStore> {
    if (typeof options.root !== 'string' || options.root.length === 0) {
      throw new TypeError('root: expected the store directory');
    }
    const root = path.resolve(options.root);
    await fsp.mkdir(path.join(root, 'objects'), { recursive: true });
    await fsp.mkdir(path.join(root, 'tmp'), { recursive: true });
    return new FsArtefactStore(root);
  }

  /** Where the object named `sha256` lives (for tests and tools; validated). */
  objectPath(sha256: string): string {
    assertSha256(sha256, 'sha256');
    return path.join(this.root, 'objects', sha256.slice(0, 2), sha256.slice(2));
  }

  async put(content: ArtefactContent, options: PutOptions = {}): Promise<PutResult> {
    if (options.expectedSha256 !== undefined) assertSha256(options.expectedSha256, 'expectedSha256');
    if (content instanceof Uint8Array) {
      // In memory: hash first, so existing content and refused content write nothing at all.
      const sha256 = sha256Hex(content);
      if (options.expectedSha256 !== undefined && options.expectedSha256 !== sha256) {
        throw new DigestMismatchError(options.expectedSha256, sha256);
      }
      if (await this.has(sha256)) return { sha256, size: content.length, stored: false };
      const tmp = await this.writeTemp(chunksOf(content));
      return this.commit(tmp.file, sha256, tmp.size);
    }
    // A stream is hashed while written to a temp file; the object directory is touched only once it is verified.
    const tmp = await this.writeTemp(chunksOf(content));
    try {
      if (options.expectedSha256 !== undefined && options.expectedSha256 !== tmp.sha256) {
        throw new DigestMismatchError(options.expectedSha256, tmp.sha256);
      }
      if (await this.has(tmp.sha256)) {
        await fsp.rm(tmp.file, { force: true });
        return { sha256: tmp.sha256, size: tmp.size, stored: false };
      }
    } catch (err) {
      await fsp.rm(tmp.file, { force: true });
      throw err;
    }
    return this.commit(tmp.file, tmp.sha256, tmp.size);
  }

  async get(sha256: string): Promise<Readable> {
    const file = this.objectPath(sha256);
    const handle = await fsp.open(file, 'r').catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'ENOENT' ? new ObjectNotFoundError(sha256) : err;
    });
    return verifyingStream(handle.createReadStream({ autoClose: true }), sha256);
  }

  async has(sha256: string): Promise<boolean> {
    return (await this.stat(sha256)) !== undefined;
  }

  async stat(sha256: string): Promise<ObjectStat | undefined> {
    try {
      const st = await fsp.stat(this.objectPath(sha256));
      return st.isFile() ? { sha256, size: st.size } : undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async putManifest(entries: readonly ManifestEntry[]): Promise<string> {
    return putManifestInto(this, entries);
  }

  async getManifest(sha256: string): Promise<Manifest> {
    assertSha256(sha256, 'sha256');
    return getManifestFrom(this, sha256);
  }

  private async writeTemp(chunks: AsyncIterable<Uint8Array>): Promise<{ file: string; sha256: string; size: number }> {
    const file = path.join(this.root, 'tmp', `${process.pid}-${randomBytes(8).toString('hex')}`);
    const handle = await fsp.open(file, 'wx', 0o600);
    const hash = createHash('sha256');
    let size = 0;
    try {
      for await (const chunk of chunks) {
        hash.update(chunk);
        size += chunk.length;
        await handle.write(chunk);
      }
      await handle.sync();
    } catch (err) {
      await handle.close();
      await fsp.rm(file, { force: true });
      throw err;
    }
    await handle.close();
    return { file, sha256: hash.digest('hex'), size };
  }

  private async commit(tmpFile: string, sha256: string, size: number): Promise<PutResult> {
    const final = this.objectPath(sha256);
    try {
      await fsp.chmod(tmpFile, 0o444);
      await fsp.mkdir(path.dirname(final), { recursive: true });
      // rename is atomic: a concurrent put of the same content replaces identical bytes.
      await fsp.rename(tmpFile, final);
      const dir = await fsp.open(path.dirname(final), 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    } catch (err) {
      await fsp.rm(tmpFile, { force: true });
      throw err;
    }
    return { sha256, size, stored: true };
  }
}
