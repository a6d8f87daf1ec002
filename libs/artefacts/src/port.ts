import type { Readable } from 'node:stream';

/**
 * The content-addressed artefact store: every object is named by the sha256 of its bytes, so an object never
 * changes once written, a put of content the store already holds writes nothing, and a fork of a checkpoint is a
 * new manifest (a list of hashes), not a copy of its bytes.
 */
export interface ArtefactStore {
  /**
   * Stores bytes and returns their digest. With `expectedSha256` the bytes must hash to it, or the put is refused
   * (DigestMismatchError) and nothing is stored. `stored` is false when the store already held the content.
   */
  put(content: ArtefactContent, options?: PutOptions): Promise<PutResult>;
  /**
   * A stream of the object's bytes, hashed while read: if they do not hash to `sha256` the stream fails with a
   * CorruptObjectError at its end, so a consumer must treat what it read as unusable until the stream ends cleanly.
   * Rejects with ObjectNotFoundError when the store does not hold the object.
   */
  get(sha256: string): Promise<Readable>;
  has(sha256: string): Promise<boolean>;
  /** The object's size, or undefined when the store does not hold it. */
  stat(sha256: string): Promise<ObjectStat | undefined>;
  /**
   * Stores a manifest (a canonical JSON object in the store itself) and returns its digest. Entries are validated
   * (relative normalised paths, digests, sizes, modes; no duplicates; no file that is also another's directory) and
   * every object they name must already be in the store with that size.
   */
  putManifest(entries: readonly ManifestEntry[]): Promise<string>;
  /** Reads, verifies and validates a manifest written by putManifest. */
  getManifest(sha256: string): Promise<Manifest>;
}

/** Bytes in memory, or a stream / async iterable of chunks. */
export type ArtefactContent = Uint8Array | Readable | AsyncIterable<Uint8Array>;

export interface PutOptions {
  /** The digest the caller claims for the content; the put is refused if the bytes hash to anything else. */
  expectedSha256?: string;
}

export interface PutResult {
  sha256: string;
  size: number;
  /** False when the content was already stored (nothing was written to the store). */
  stored: boolean;
}

export interface ObjectStat {
  sha256: string;
  size: number;
}

export interface ManifestEntry {
  /** Relative, normalised, '/'-separated path inside the tree (no '.', '..', empty segments or leading '/'). */
  path: string;
  sha256: string;
  size: number;
  /**
   * Permission bits (e.g. 0o644). A mode with no write bit (0o444, 0o555) marks a frozen file: the materialiser
   * makes it read-only to the job.
   */
  mode: number;
}

export interface Manifest {
  sha256: string;
  entries: ManifestEntry[];
}

export const MANIFEST_KIND = 'aevo.artefacts.manifest/v1';

/** Bad input: names the field and what was expected. Nothing was changed. */
export class ArtefactInputError extends Error {
  constructor(
    readonly field: string,
    readonly expected: string,
    readonly got: unknown,
  ) {
    super(`${field}: expected ${expected}, got ${describe(got)}`);
    this.name = 'ArtefactInputError';
  }
}

/** The bytes given to put do not hash to the digest the caller claimed. Nothing was stored. */
export class DigestMismatchError extends Error {
  constructor(
    readonly expectedSha256: string,
    readonly actualSha256: string,
  ) {
    super(`content hashes to sha256 ${actualSha256}, not the claimed ${expectedSha256}; refused, nothing stored`);
    this.name = 'DigestMismatchError';
  }
}

export class ObjectNotFoundError extends Error {
  constructor(readonly sha256: string) {
    super(`artefact ${sha256} is not in the store`);
    this.name = 'ObjectNotFoundError';
  }
}

/** A stored object's bytes no longer hash to its name (changed behind the store's back, or damaged). */
export class CorruptObjectError extends Error {
  constructor(
    readonly sha256: string,
    readonly actualSha256: string,
    readonly size: number,
  ) {
    super(`artefact ${sha256} is corrupt: its ${size} bytes hash to ${actualSha256}`);
    this.name = 'CorruptObjectError';
  }
}

/** The server acknowledged an upload whose fingerprint does not match the bytes sent; the object was removed. */
export class UploadVerificationError extends Error {
  constructor(
    readonly sha256: string,
    detail: string,
  ) {
    super(`upload of artefact ${sha256} not verified: ${detail}`);
    this.name = 'UploadVerificationError';
  }
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}…` : v);
  if (v === undefined) return 'undefined';
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
