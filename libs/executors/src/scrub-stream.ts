import { randomBytes } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { applyRanges, blockStart } from './redaction-ranges';
import { SecretScrubber } from './secrets';

/** Text held back from a stream until its line is complete, at most this much (then it is cut). */
const MAX_HOLD = 256 * 1024;
/** On such a cut, at least this much stays behind, so a value straddling the cut is seen whole next time. */
const CUT_OVERLAP = 16 * 1024;

/**
 * Scrubs a text stream piece by piece with the same result as scrubbing it whole, for anything shorter than
 * CUT_OVERLAP. Text is released a line at a time; a PEM block or a run of wrapped base64/hex lines is held until it
 * ends (at most MAX_HOLD), since a value may straddle its lines.
 */
export class StreamScrubber {
  private buf = '';
  /** Redactions made so far. */
  redactions = 0;

  constructor(private readonly scrubber: SecretScrubber) {}

  /** Takes the next piece; returns what can be released now, scrubbed. */
  push(chunk: string): string {
    this.buf += chunk;
    const nl = this.buf.lastIndexOf('\n');
    if (nl === -1 && this.buf.length < MAX_HOLD) return '';
    const ranges = this.scrubber.ranges(this.buf);
    let cut: number;
    if (nl !== -1 && this.buf.length < MAX_HOLD) {
      cut = nl + 1;
      // A block of wrapped base64/hex lines or a PEM body reaching the cut may continue in the next piece.
      cut = blockStart(this.buf, cut);
    } else {
      cut = Math.max(0, this.buf.length - CUT_OVERLAP);
    }
    // A range reaching the end of what is buffered (an unterminated PEM block) may go on in the next piece. Hold its
    // whole line back, not just the range: shapes match only after their context on that line ("Bearer ", "KEY="),
    // and a released context would leave the value unrecognised when it is scrubbed again with the next piece.
    for (const r of ranges)
      if (r.start < cut && (r.end > cut || r.end === this.buf.length))
        cut = this.buf.lastIndexOf('\n', r.start - 1) + 1;
    if (cut === 0) {
      if (this.buf.length < MAX_HOLD) return '';
      cut = this.buf.length; // one match longer than MAX_HOLD: release it redacted rather than hold forever
    }
    const { text, count } = applyRanges(
      this.buf,
      ranges.filter((r) => r.start < cut),
      cut,
    );
    this.redactions += count;
    this.buf = this.buf.slice(cut);
    return text;
  }

  /** Releases the rest (its end may be a value cut off mid-print). */
  end(): string {
    const ranges = this.scrubber.ranges(this.buf, { fragmentEnd: true });
    const { text, count } = applyRanges(this.buf, ranges);
    this.redactions += count;
    this.buf = '';
    return text;
  }
}

/** A Transform that scrubs UTF-8 text passing through it (for a child's stdout/stderr on its way to a log file). */
export function createScrubStream(scrubber: SecretScrubber): Transform {
  const s = new StreamScrubber(scrubber);
  const decoder = new TextDecoder('utf-8');
  return new Transform({
    transform(chunk: Buffer | string, _enc: BufferEncoding, cb: TransformCallback) {
      const out = s.push(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
      cb(null, out.length > 0 ? out : undefined);
    },
    flush(cb: TransformCallback) {
      const out = s.push(decoder.decode()) + s.end();
      cb(null, out.length > 0 ? out : undefined);
    },
  });
}

/**
 * Rewrites a finished job's log file with every secret redacted: streamed (logs can be large) into a 0600 temp file
 * beside it, then renamed over it, so a reader sees the old or the new file, never half of one. A process still
 * writing to the old file writes to an unlinked inode. A missing file is left missing. Resolves with the number of
 * redactions; a log with nothing to redact (almost every log) is only read (and made 0600), not rewritten: scrubbing
 * it would give the same text, and the write, fsync and rename cost more than the read on a busy disk.
 */
export async function scrubLogFile(
  path: string,
  scrubber: SecretScrubber = SecretScrubber.fromEnv(),
): Promise<{ redactions: number }> {
  try {
    await fs.access(path);
  } catch {
    return { redactions: 0 };
  }
  if ((await countRedactions(path, scrubber)) === 0) {
    const { mode } = await fs.stat(path);
    if ((mode & 0o077) !== 0) await fs.chmod(path, 0o600); // as a rewritten log would be
    return { redactions: 0 };
  }
  const tmp = nodePath.join(
    nodePath.dirname(path),
    `.${nodePath.basename(path)}.scrub-${randomBytes(6).toString('hex')}`,
  );
  const out = await fs.open(tmp, 'wx', 0o600);
  const s = new StreamScrubber(scrubber);
  try {
    for await (const chunk of createReadStream(path, { encoding: 'utf8', highWaterMark: 64 * 1024 })) {
      const text = s.push(chunk as string);
      if (text) await out.write(text);
    }
    const rest = s.end();
    if (rest) await out.write(rest);
    await out.chmod(0o600); // 'wx' with a umask could have left fewer bits; never more than 0600
    await out.sync();
    await out.close();
    await fs.rename(tmp, path);
    return { redactions: s.redactions };
  } catch (err) {
    await out.close().catch(() => undefined);
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

/** How many redactions scrubbing the file would make (the same streaming pass, its output dropped). */
async function countRedactions(path: string, scrubber: SecretScrubber): Promise<number> {
  const s = new StreamScrubber(scrubber);
  for await (const chunk of createReadStream(path, { encoding: 'utf8', highWaterMark: 64 * 1024 })) s.push(chunk);
  s.end();
  return s.redactions;
}
