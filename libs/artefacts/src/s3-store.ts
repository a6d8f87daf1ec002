import { createHash, randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import { chunksOf, verifyingStream } from './hashing';
import { getManifestFrom, putManifestInto } from './manifest';
import {
  DigestMismatchError,
  ObjectNotFoundError,
  UploadVerificationError,
  type ArtefactContent,
  type ArtefactStore,
  type Manifest,
  type ManifestEntry,
  type ObjectStat,
  type PutOptions,
  type PutResult,
} from './port';
import { assertSha256 } from './validate';

const MiB = 1024 * 1024;
/** S3's smallest part (every part but the last must be at least this big). */
export const S3_MIN_PART_BYTES = 5 * MiB;

export interface S3ArtefactStoreOptions {
  client: S3Client;
  bucket: string;
  /** Key prefix, e.g. "aevo/" (a trailing '/' is added when missing); objects are <prefix>objects/ab/cdef…. */
  prefix?: string;
  /** Objects bigger than this go up in parts (default 64 MiB). */
  multipartThresholdBytes?: number;
  /** Part size of a multipart upload (default 16 MiB, at least 5 MiB). */
  partSizeBytes?: number;
  /** Where a streamed put is spooled while it is hashed (default the OS temp directory). */
  spoolDir?: string;
  /**
   * Compare the ETag the server returns with the MD5 of the bytes sent (per part for multipart uploads). True by
   * default; turn off only for buckets whose ETags are not MD5s (SSE-KMS), where ChecksumSHA256 is the check.
   */
  verifyEtag?: boolean;
}

const md5Hex = (b: Uint8Array) => createHash('md5').update(b).digest('hex');
const b64 = (hex: string) => Buffer.from(hex, 'hex').toString('base64');
const unquote = (etag: string | undefined) => (etag ?? '').replace(/^"|"$/g, '').toLowerCase();

/**
 * The S3-compatible adapter. Every upload carries the sha256 as ChecksumSHA256 (S3 refuses a body that does not
 * match it) and its ETag is compared with the MD5 of the bytes sent, so the upload is checked even on servers that
 * ignore checksum headers. The object key is the digest, so has/stat are a HeadObject and a put of existing content
 * is one HeadObject. Reads stream and are verified against the digest as they go.
 */
export class S3ArtefactStore implements ArtefactStore {
  readonly bucket: string;
  readonly prefix: string;
  private readonly client: S3Client;
  private readonly threshold: number;
  private readonly partSize: number;
  private readonly spoolDir: string;
  private readonly verifyEtag: boolean;

  constructor(options: S3ArtefactStoreOptions) {
    if (typeof options.bucket !== 'string' || options.bucket.length === 0)
      throw new TypeError('bucket: expected a bucket name');
    const prefix = options.prefix ?? '';
    if (prefix.startsWith('/') || prefix.split('/').some((s) => s === '..' || s === '.')) {
      throw new TypeError(`prefix: expected a relative key prefix without '.' or '..', got ${JSON.stringify(prefix)}`);
    }
    this.client = options.client;
    this.bucket = options.bucket;
    this.prefix = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
    this.partSize = options.partSizeBytes ?? 16 * MiB;
    if (!Number.isSafeInteger(this.partSize) || this.partSize < S3_MIN_PART_BYTES) {
      throw new TypeError(
        `partSizeBytes: expected an integer of at least ${S3_MIN_PART_BYTES}, got ${options.partSizeBytes}`,
      );
    }
    this.threshold = options.multipartThresholdBytes ?? 64 * MiB;
    if (!Number.isSafeInteger(this.threshold) || this.threshold < 0) {
      throw new TypeError(
        `multipartThresholdBytes: expected a non-negative integer, got ${options.multipartThresholdBytes}`,
      );
    }
    this.spoolDir = options.spoolDir ?? os.tmpdir();
    this.verifyEtag = options.verifyEtag ?? true;
  }

  /** The key of the object named `sha256` (validated). */
  objectKey(sha256: string): string {
    assertSha256(sha256, 'sha256');
    return `${this.prefix}objects/${sha256.slice(0, 2)}/${sha256.slice(2)}`;
  }

  async put(content: ArtefactContent, options: PutOptions = {}): Promise<PutResult> {
    if (options.expectedSha256 !== undefined) assertSha256(options.expectedSha256, 'expectedSha256');
    if (content instanceof Uint8Array && content.length <= this.threshold) {
      const sha256 = createHash('sha256').update(content).digest('hex');
      if (options.expectedSha256 !== undefined && options.expectedSha256 !== sha256) {
        throw new DigestMismatchError(options.expectedSha256, sha256);
      }
      if (await this.has(sha256)) return { sha256, size: content.length, stored: false };
      await this.putSingle(sha256, Buffer.from(content.buffer, content.byteOffset, content.length));
      return { sha256, size: content.length, stored: true };
    }
    // The key is the digest, known only once every byte is read: spool to a local file while hashing, then upload.
    const spool = await this.spool(chunksOf(content));
    try {
      if (options.expectedSha256 !== undefined && options.expectedSha256 !== spool.sha256) {
        throw new DigestMismatchError(options.expectedSha256, spool.sha256);
      }
      if (await this.has(spool.sha256)) return { sha256: spool.sha256, size: spool.size, stored: false };
      if (spool.size <= this.threshold) await this.putSingle(spool.sha256, await fsp.readFile(spool.file));
      else await this.putMultipart(spool.sha256, spool.file, spool.size);
      return { sha256: spool.sha256, size: spool.size, stored: true };
    } finally {
      await fsp.rm(spool.file, { force: true });
    }
  }

  async get(sha256: string): Promise<Readable> {
    const key = this.objectKey(sha256);
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      if (!(out.Body instanceof Readable)) throw new Error(`GetObject ${key}: expected a Node.js stream body`);
      return verifyingStream(out.Body, sha256);
    } catch (err) {
      if (isNotFound(err)) throw new ObjectNotFoundError(sha256);
      throw err;
    }
  }

  async has(sha256: string): Promise<boolean> {
    return (await this.stat(sha256)) !== undefined;
  }

  async stat(sha256: string): Promise<ObjectStat | undefined> {
    const key = this.objectKey(sha256);
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { sha256, size: Number(out.ContentLength ?? 0) };
    } catch (err) {
      if (isNotFound(err)) return undefined;
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

  private async putSingle(sha256: string, body: Buffer): Promise<void> {
    const Key = this.objectKey(sha256);
    const out = await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key,
        Body: body,
        ContentLength: body.length,
        ChecksumSHA256: b64(sha256),
      }),
    );
    if (this.verifyEtag && unquote(out.ETag) !== md5Hex(body)) {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key }));
      throw new UploadVerificationError(
        sha256,
        `server ETag ${out.ETag} is not the MD5 ${md5Hex(body)} of the bytes sent; object removed`,
      );
    }
  }

  private async putMultipart(sha256: string, file: string, size: number): Promise<void> {
    const Key = this.objectKey(sha256);
    const created = await this.client.send(
      new CreateMultipartUploadCommand({ Bucket: this.bucket, Key, ChecksumAlgorithm: 'SHA256' }),
    );
    const UploadId = created.UploadId;
    if (!UploadId) throw new Error(`CreateMultipartUpload ${Key}: no UploadId in the reply`);
    const parts: CompletedPart[] = [];
    const partMd5s: Buffer[] = [];
    const whole = createHash('md5');
    const handle = await fsp.open(file, 'r');
    try {
      for (let offset = 0, PartNumber = 1; offset < size; offset += this.partSize, PartNumber++) {
        const length = Math.min(this.partSize, size - offset);
        const body = Buffer.alloc(length);
        const { bytesRead } = await handle.read(body, 0, length, offset);
        if (bytesRead !== length) throw new Error(`spool file ${file} shrank while uploading`);
        const partSha = createHash('sha256').update(body).digest('base64');
        const partMd5 = createHash('md5').update(body).digest();
        whole.update(body);
        const out = await this.client.send(
          new UploadPartCommand({
            Bucket: this.bucket,
            Key,
            UploadId,
            PartNumber,
            Body: body,
            ContentLength: length,
            ChecksumSHA256: partSha,
          }),
        );
        if (this.verifyEtag && unquote(out.ETag) !== partMd5.toString('hex')) {
          throw new UploadVerificationError(
            sha256,
            `part ${PartNumber}: server ETag ${out.ETag} is not the MD5 of the bytes sent`,
          );
        }
        partMd5s.push(partMd5);
        parts.push({ PartNumber, ETag: out.ETag, ChecksumSHA256: out.ChecksumSHA256 ?? partSha });
      }
      const done = await this.client.send(
        new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId, MultipartUpload: { Parts: parts } }),
      );
      // S3 names a multipart object md5(concat(part md5s))-N; some compatible servers (s3rver) use the whole MD5.
      const composite = `${createHash('md5').update(Buffer.concat(partMd5s)).digest('hex')}-${parts.length}`;
      const etag = unquote(done.ETag);
      if (this.verifyEtag && etag !== composite && etag !== whole.digest('hex')) {
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key }));
        throw new UploadVerificationError(
          sha256,
          `completed ETag ${done.ETag} matches neither ${composite} nor the whole MD5; object removed`,
        );
      }
    } catch (err) {
      await this.client
        .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId }))
        .catch(() => undefined);
      throw err;
    } finally {
      await handle.close();
    }
  }

  private async spool(chunks: AsyncIterable<Uint8Array>): Promise<{ file: string; sha256: string; size: number }> {
    await fsp.mkdir(this.spoolDir, { recursive: true });
    const file = path.join(this.spoolDir, `aevo-artefact-${process.pid}-${randomBytes(8).toString('hex')}`);
    const handle = await fsp.open(file, 'wx', 0o600);
    const hash = createHash('sha256');
    let size = 0;
    try {
      for await (const chunk of chunks) {
        hash.update(chunk);
        size += chunk.length;
        await handle.write(chunk);
      }
    } catch (err) {
      await handle.close();
      await fsp.rm(file, { force: true });
      throw err;
    }
    await handle.close();
    return { file, sha256: hash.digest('hex'), size };
  }
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}
