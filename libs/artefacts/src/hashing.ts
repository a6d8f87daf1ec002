import { createHash, type Hash } from 'node:crypto';
import { Readable, Transform, pipeline, type TransformCallback } from 'node:stream';
import { CorruptObjectError, type ArtefactContent } from './port';

export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Chunks of any accepted content form, as Uint8Array. */
export async function* chunksOf(content: ArtefactContent): AsyncIterable<Uint8Array> {
  if (content instanceof Uint8Array) {
    yield content;
    return;
  }
  for await (const chunk of content as AsyncIterable<unknown>) {
    if (typeof chunk === 'string') yield Buffer.from(chunk);
    else if (chunk instanceof Uint8Array) yield chunk;
    else throw new TypeError(`content: expected chunks of bytes, got ${typeof chunk}`);
  }
}

/**
 * Passes bytes through unchanged while hashing them; at the end, fails the stream with CorruptObjectError when
 * they do not hash to `sha256`. Wraps every read from a store so that no adapter can hand out unverified bytes.
 */
export function verifyingStream(source: Readable, sha256: string): Readable {
  const hash: Hash = createHash('sha256');
  let size = 0;
  const verifier = new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
    flush(done: TransformCallback) {
      const actual = hash.digest('hex');
      done(actual === sha256 ? null : new CorruptObjectError(sha256, actual, size));
    },
  });
  // pipeline, not pipe: a consumer that stops early (destroys the returned stream) also closes the source's file
  // handle or connection, and a source error fails the returned stream. Errors reach the consumer through it.
  pipeline(source, verifier, () => undefined);
  return verifier;
}

/** Reads a stream to the end into one buffer (for small objects such as manifests). */
export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}
