import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp, type BigIntStats } from 'node:fs';

/** sha256 of a file's bytes, streamed (a 2 GB checkpoint does not block the event loop or fill memory). */
export async function hashFile(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

export const sha256Text = (s: string): string => createHash('sha256').update(s).digest('hex');

/**
 * Remembers file hashes by inode so that verifying a shared (hard-linked) 2 GB checkpoint before every evaluation
 * costs a stat, not a read. An entry is reused only while size, mtime and ctime are unchanged; the ctime cannot be
 * set back from user space, so any write shows. Files changed in the last `racyMs` are never cached (a write in
 * the same clock tick as the hash could otherwise leave the times unchanged: git's "racily clean" problem).
 */
export class HashCache {
  private readonly entries = new Map<string, { size: bigint; mtimeNs: bigint; ctimeNs: bigint; sha256: string }>();
  /** Reads in progress by inode and times: concurrent checks of one 2 GB file read it once. */
  private readonly reading = new Map<string, Promise<string>>();
  /** Files read in full so far (the rest were answered from a stat). */
  fullHashes = 0;

  constructor(
    private readonly maxEntries = 100_000,
    private readonly racyMs = 2_000,
    private readonly now: () => number = Date.now,
  ) {}

  async hash(file: string): Promise<string> {
    const st = await fsp.lstat(file, { bigint: true });
    const key = `${st.dev}:${st.ino}`;
    const hit = this.entries.get(key);
    if (hit && hit.size === st.size && hit.mtimeNs === st.mtimeNs && hit.ctimeNs === st.ctimeNs) return hit.sha256;
    const version = `${key}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
    const inFlight = this.reading.get(version);
    if (inFlight) return inFlight;
    const p = this.read(file, key, st).finally(() => this.reading.delete(version));
    this.reading.set(version, p);
    return p;
  }

  private async read(file: string, key: string, st: BigIntStats): Promise<string> {
    this.fullHashes++;
    // Judged from when the read starts: a write in the ctime's own clock tick after that could go unseen.
    const settled = this.now() - Number(st.ctimeNs / 1_000_000n) > this.racyMs;
    const sha256 = await hashFile(file);
    const after = await fsp.lstat(file, { bigint: true });
    const stable =
      after.ino === st.ino && after.ctimeNs === st.ctimeNs && after.mtimeNs === st.mtimeNs && after.size === st.size;
    if (stable && settled) {
      if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
      this.entries.set(key, { size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs, sha256 });
    }
    return sha256;
  }

  get size(): number {
    return this.entries.size;
  }
}
