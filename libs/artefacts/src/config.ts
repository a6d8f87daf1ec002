import * as path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { FsArtefactStore } from './fs-store';
import type { ArtefactStore } from './port';
import { S3ArtefactStore, S3_MIN_PART_BYTES } from './s3-store';

/** A configuration error that names the environment variable at fault. */
export class ArtefactConfigError extends Error {
  constructor(
    readonly variable: string,
    detail: string,
  ) {
    super(`${variable}: ${detail}`);
    this.name = 'ArtefactConfigError';
  }
}

type Env = Record<string, string | undefined>;

const positiveInt = (env: Env, name: string): number | undefined => {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new ArtefactConfigError(name, `expected a positive integer byte count, got ${JSON.stringify(raw)}`);
  return n;
};

/**
 * Opens the store the environment selects:
 *   AEVO_ARTEFACT_STORE=fs (default): AEVO_ARTEFACT_DIR, else $AEVO_HOME/artefacts.
 *   AEVO_ARTEFACT_STORE=s3: AEVO_S3_BUCKET (required), AEVO_S3_PREFIX, AEVO_S3_ENDPOINT (an S3-compatible server;
 *   path-style addressing unless AEVO_S3_FORCE_PATH_STYLE=false), AWS_REGION / AWS_DEFAULT_REGION (us-east-1 when an
 *   endpoint is given), AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN) from `env` when set,
 *   otherwise the SDK's default credential chain; AEVO_S3_MULTIPART_THRESHOLD_BYTES, AEVO_S3_PART_SIZE_BYTES.
 */
export async function openArtefactStoreFromEnv(env: Env = process.env): Promise<ArtefactStore> {
  const kind = env.AEVO_ARTEFACT_STORE || 'fs';
  if (kind === 'fs') {
    const dir = env.AEVO_ARTEFACT_DIR || (env.AEVO_HOME ? path.join(env.AEVO_HOME, 'artefacts') : undefined);
    if (!dir) throw new ArtefactConfigError('AEVO_ARTEFACT_DIR', 'required for the fs store (or set AEVO_HOME)');
    if (!path.isAbsolute(dir))
      throw new ArtefactConfigError('AEVO_ARTEFACT_DIR', `expected an absolute path, got ${JSON.stringify(dir)}`);
    return FsArtefactStore.open({ root: dir });
  }
  if (kind !== 's3')
    throw new ArtefactConfigError('AEVO_ARTEFACT_STORE', `expected "fs" or "s3", got ${JSON.stringify(kind)}`);
  const bucket = env.AEVO_S3_BUCKET;
  if (!bucket) throw new ArtefactConfigError('AEVO_S3_BUCKET', 'required when AEVO_ARTEFACT_STORE=s3');
  const endpoint = env.AEVO_S3_ENDPOINT || undefined;
  if (endpoint) {
    try {
      new URL(endpoint);
    } catch {
      throw new ArtefactConfigError(
        'AEVO_S3_ENDPOINT',
        `expected a URL such as http://127.0.0.1:9000, got ${JSON.stringify(endpoint)}`,
      );
    }
  }
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || (endpoint ? 'us-east-1' : undefined);
  if (!region)
    throw new ArtefactConfigError(
      'AWS_REGION',
      'required for AWS S3 (or set AEVO_S3_ENDPOINT for an S3-compatible server)',
    );
  const pathStyle = env.AEVO_S3_FORCE_PATH_STYLE;
  if (pathStyle !== undefined && pathStyle !== '' && pathStyle !== 'true' && pathStyle !== 'false') {
    throw new ArtefactConfigError(
      'AEVO_S3_FORCE_PATH_STYLE',
      `expected "true" or "false", got ${JSON.stringify(pathStyle)}`,
    );
  }
  const keyId = env.AWS_ACCESS_KEY_ID;
  const secret = env.AWS_SECRET_ACCESS_KEY;
  if (Boolean(keyId) !== Boolean(secret)) {
    throw new ArtefactConfigError(
      keyId ? 'AWS_SECRET_ACCESS_KEY' : 'AWS_ACCESS_KEY_ID',
      'set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither',
    );
  }
  const prefix = env.AEVO_S3_PREFIX ?? '';
  if (prefix.startsWith('/') || prefix.split('/').some((s) => s === '.' || s === '..')) {
    throw new ArtefactConfigError(
      'AEVO_S3_PREFIX',
      `expected a relative key prefix without '.' or '..', got ${JSON.stringify(prefix)}`,
    );
  }
  const client = new S3Client({
    region,
    endpoint,
    forcePathStyle: pathStyle ? pathStyle === 'true' : Boolean(endpoint),
    credentials:
      keyId && secret
        ? { accessKeyId: keyId, secretAccessKey: secret, sessionToken: env.AWS_SESSION_TOKEN || undefined }
        : undefined,
  });
  const partSizeBytes = positiveInt(env, 'AEVO_S3_PART_SIZE_BYTES');
  if (partSizeBytes !== undefined && partSizeBytes < S3_MIN_PART_BYTES) {
    throw new ArtefactConfigError(
      'AEVO_S3_PART_SIZE_BYTES',
      `expected at least ${S3_MIN_PART_BYTES} (S3's smallest part), got ${partSizeBytes}`,
    );
  }
  return new S3ArtefactStore({
    client,
    bucket,
    prefix,
    multipartThresholdBytes: positiveInt(env, 'AEVO_S3_MULTIPART_THRESHOLD_BYTES'),
    partSizeBytes,
  });
}
