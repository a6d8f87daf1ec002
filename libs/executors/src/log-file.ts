import { createReadStream, promises as fs } from 'node:fs';
import { createInterface } from 'node:readline';
import { SecretScrubber } from './secrets';

// The scrubbing API lives beside the log helpers that use it; re-exported so the package index needs no change.
export * from './secrets';
export * from './scrub-stream';

/** The substrate contract: a diverged run prints a line starting with DIVERGED (and exits 3). */
export const DIVERGED_LINE = /^\s*DIVERGED\b/;
/** Exit code a substrate uses for a diverged run. */
export const DIVERGED_EXIT_CODE = 3;

/**
 * The last `lines` lines of a log file, at most `maxChars` characters (cut at the start), with secrets redacted
 * (`scrubber`, by default this process's configured secrets and common token shapes). Reads only the end of the
 * file, so a multi-gigabyte log costs one small read. A missing file yields ''.
 *
 * The whole read window (at least 4 × maxChars bytes and 64 KiB, from a line start) is scrubbed before it is cut to
 * the tail, so a value that the tail's own cut goes through is redacted, not shown in part. A value cut off at the
 * file's end (a job killed mid-print) is redacted from its first 6 characters on.
 */
export async function readLogTail(
  path: string,
  lines = 50,
  maxChars = 8192,
  scrubber: SecretScrubber = SecretScrubber.fromEnv(),
): Promise<string> {
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(path, 'r');
  } catch {
    return '';
  }
  try {
    const { size } = await fh.stat();
    const want = Math.min(size, Math.max(maxChars * 4, 64 * 1024));
    const buf = Buffer.alloc(want);
    await fh.read(buf, 0, want, size - want);
    let text = buf.toString('utf8');
    if (want < size) text = text.slice(text.indexOf('\n') + 1); // drop the partial first line
    // After dropping CRs: a job could hide a value from the scrubber by splitting it with one.
    text = scrubber.scrub(text.replace(/\r/g, ''), { fragmentStart: want < size, fragmentEnd: true });
    const all = text.split('\n');
    if (all.length > 0 && all[all.length - 1] === '') all.pop();
    let tail = all.slice(-lines).join('\n');
    if (tail.length > maxChars) tail = tail.slice(tail.length - maxChars);
    return tail;
  } finally {
    await fh.close();
  }
}

/** Whether any line of the log announces divergence (streams the file: logs can be large). */
export async function logHasDivergedLine(path: string): Promise<boolean> {
  try {
    await fs.access(path);
  } catch {
    return false;
  }
  const rl = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  try {
    for await (const line of rl) if (DIVERGED_LINE.test(line)) return true;
    return false;
  } finally {
    rl.close();
  }
}
