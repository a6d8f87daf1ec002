export * from './port';
export { assertRelativePath, assertSha256, isFrozenMode } from './validate';
export { readAll, sha256Hex, verifyingStream } from './hashing';
export { encodeManifest, normaliseManifestEntries } from './manifest';
export { FsArtefactStore, type FsArtefactStoreOptions } from './fs-store';
export { S3ArtefactStore, S3_MIN_PART_BYTES, type S3ArtefactStoreOptions } from './s3-store';
export { ArtefactConfigError, openArtefactStoreFromEnv } from './config';
export {
  ContentCache,
  collect,
  deriveManifest,
  isFrozenEntry,
  materialise,
  type CollectPath,
  type CollectResult,
  type MaterialiseOptions,
  type MaterialiseResult,
} from './materialise';
