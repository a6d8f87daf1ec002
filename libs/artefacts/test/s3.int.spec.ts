/*
 * The contract suite against the S3 adapter, driven through the real @aws-sdk/client-s3 against @20minutes/s3rver
 * started in-process on a free loopback port with its own temp directory.
 *
 * What s3rver does not model, and how the adapter copes:
 *  - checksum headers: it ignores ChecksumSHA256 (neither verifies nor returns it). The adapter therefore also
 *    compares each ETag with the MD5 of the bytes sent; the "upload verification" test below damages a body in
 *    flight and proves the put is refused and the object removed.
 *  - multipart ETags: it names a completed multipart object by the whole object's MD5, where S3 uses
 *    md5(part md5s)-N; the adapter accepts either (both are derived from the bytes sent) and checks every part's ETag.
 *  - it does not enforce the 5 MiB minimum part size; the adapter enforces it itself.
 *  - it has no SSE-KMS (whose ETags are not MD5s; verifyEtag: false is for such buckets).
 */
import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  ArtefactConfigError,
  S3ArtefactStore,
  UploadVerificationError,
  openArtefactStoreFromEnv,
  readAll,
  type ArtefactStore,
} from '../src';
import { runArtefactStoreContract } from './contract-suite';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('@20minutes/s3rver');

jest.setTimeout(60_000);

interface LocalS3 {
  endpoint: string;
  directory: string;
  client(extra?: (c: S3Client) => void): S3Client;
  close(): Promise<void>;
}

/** s3rver accepts only its own fixed credentials (S3RVER / S3RVER) and checks the request signatures. */
const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

async function startLocalS3(buckets: string[]): Promise<LocalS3> {
  const directory = await fsp.mkdtemp(path.join(os.tmpdir(), 'aevo-s3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: buckets.map((name) => ({ name })),
  });
  const address = (await server.run()) as AddressInfo;
  const endpoint = `http://127.0.0.1:${address.port}`;
  const clients: S3Client[] = [];
  return {
    endpoint,
    directory,
    client(extra) {
      const c = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials: CREDENTIALS });
      extra?.(c);
      clients.push(c);
      return c;
    },
    async close() {
      for (const c of clients) c.destroy();
      await server.close();
      await fsp.rm(directory, { recursive: true, force: true });
    },
  };
}

/**
 * Every key in a bucket, read from s3rver's directory (<dir>/<bucket>/<key>._S3rver_object). Not through
 * ListObjects(V2): with this SDK version s3rver 4.0.4 answers every listing request SignatureDoesNotMatch, while it
 * accepts the signatures of every object request the adapter makes.
 */
async function listKeys(s3: LocalS3, bucket: string, prefix: string): Promise<string[]> {
  const root = path.join(s3.directory, bucket);
  const keys: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.name.endsWith('._S3rver_object'))
        keys.push(path.relative(root, p).split(path.sep).join('/').slice(0, -'._S3rver_object'.length));
    }
  };
  await walk(root);
  return keys.filter((k) => k.startsWith(prefix)).sort();
}

runArtefactStoreContract('S3ArtefactStore (s3rver)', async () => {
  const s3 = await startLocalS3(['aevo-contract']);
  const client = s3.client();
  const spoolDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'aevo-s3-spool-'));
  const store = new S3ArtefactStore({ client, bucket: 'aevo-contract', prefix: 'campaign-1', spoolDir });
  return {
    store,
    async corrupt(sha256, bytes) {
      // Behind the store's back: a raw PutObject over the object's key.
      await client.send(new PutObjectCommand({ Bucket: 'aevo-contract', Key: store.objectKey(sha256), Body: bytes }));
    },
    async listObjects() {
      // Spool files count too: a refused or idempotent put must not leave one behind.
      const spooled = (await fsp.readdir(spoolDir)).map((f) => `spool/${f}`);
      return [...(await listKeys(s3, 'aevo-contract', '')), ...spooled].map((k) =>
        k.replace(/^campaign-1\/objects\/(..)\//, '$1'),
      );
    },
    async teardown() {
      await s3.close();
      await fsp.rm(spoolDir, { recursive: true, force: true });
    },
  };
});

describe('S3ArtefactStore against s3rver', () => {
  let s3: LocalS3;
  beforeAll(async () => {
    s3 = await startLocalS3(['aevo-s3']);
  });
  afterAll(() => s3?.close());

  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

  it('keeps objects under <prefix>objects/ab/cdef…', async () => {
    const client = s3.client();
    const store = new S3ArtefactStore({ client, bucket: 'aevo-s3', prefix: 'layout/' });
    const { sha256 } = await store.put(Buffer.from('layout'));
    expect(await listKeys(s3, 'aevo-s3', 'layout/')).toEqual([
      `layout/objects/${sha256.slice(0, 2)}/${sha256.slice(2)}`,
    ]);
  });

  it('uploads a large object in parts and reads it back verified', async () => {
    const client = s3.client();
    const store = new S3ArtefactStore({
      client,
      bucket: 'aevo-s3',
      prefix: 'multipart',
      multipartThresholdBytes: 6 * 1024 * 1024,
      partSizeBytes: 5 * 1024 * 1024,
    });
    const sent: string[] = [];
    client.middlewareStack.add(
      (next, context) => async (args) => {
        sent.push(context.commandName ?? '?');
        return next(args);
      },
      { step: 'initialize', name: 'recordCommands' },
    );
    const big = Buffer.alloc(11 * 1024 * 1024 + 123);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32BE(i, i);
    const put = await store.put(Readable.from([big.subarray(0, 3_000_000), big.subarray(3_000_000)]));
    expect(put).toEqual({ sha256: sha(big), size: big.length, stored: true });
    expect(sent.filter((c) => c === 'UploadPartCommand')).toHaveLength(3);
    expect(sent).toContain('CompleteMultipartUploadCommand');
    expect(sent).not.toContain('PutObjectCommand');
    expect((await readAll(await store.get(put.sha256))).equals(big)).toBe(true);
    expect(await store.stat(put.sha256)).toEqual({ sha256: put.sha256, size: big.length });
  });

  it('refuses an upload the server stored differently from what was sent (s3rver ignores ChecksumSHA256)', async () => {
    // A body damaged between the client and the server: the last request-building step flips a byte after the
    // checksum header was set. A real S3 refuses it by ChecksumSHA256; s3rver stores it, and the ETag check catches it.
    const client = s3.client((c) =>
      c.middlewareStack.add(
        (next) => async (args) => {
          const req = args.request as { body?: unknown };
          if (Buffer.isBuffer(req.body)) {
            const damaged = Buffer.from(req.body);
            damaged[0] ^= 0xff;
            req.body = damaged;
          }
          return next(args);
        },
        { step: 'finalizeRequest', name: 'damageBodyInFlight' },
      ),
    );
    const store = new S3ArtefactStore({ client, bucket: 'aevo-s3', prefix: 'damaged' });
    const bytes = Buffer.from('sent intact, arrives damaged');
    const err = await store.put(bytes).catch((e: Error) => e);
    expect(err).toBeInstanceOf(UploadVerificationError);
    expect((err as Error).message).toContain(sha(bytes));
    expect(await listKeys(s3, 'aevo-s3', 'damaged/')).toEqual([]);
  });

  it('opens from the environment, with errors naming the variable', async () => {
    const env = {
      AEVO_ARTEFACT_STORE: 's3',
      AEVO_S3_BUCKET: 'aevo-s3',
      AEVO_S3_PREFIX: 'from-env',
      AEVO_S3_ENDPOINT: s3.endpoint,
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
    };
    const store: ArtefactStore = await openArtefactStoreFromEnv(env);
    expect(store).toBeInstanceOf(S3ArtefactStore);
    const { sha256 } = await store.put(Buffer.from('from env'));
    expect(await listKeys(s3, 'aevo-s3', 'from-env/')).toEqual([
      `from-env/objects/${sha256.slice(0, 2)}/${sha256.slice(2)}`,
    ]);

    const refused = async (patch: Record<string, string | undefined>, variable: string) => {
      const err = await openArtefactStoreFromEnv({ ...env, ...patch }).catch((e: Error) => e);
      expect(err).toBeInstanceOf(ArtefactConfigError);
      expect((err as ArtefactConfigError).variable).toBe(variable);
      expect((err as Error).message).toContain(variable);
    };
    await refused({ AEVO_ARTEFACT_STORE: 'gcs' }, 'AEVO_ARTEFACT_STORE');
    await refused({ AEVO_S3_BUCKET: undefined }, 'AEVO_S3_BUCKET');
    await refused({ AEVO_S3_ENDPOINT: 'not a url' }, 'AEVO_S3_ENDPOINT');
    await refused({ AEVO_S3_ENDPOINT: undefined }, 'AWS_REGION');
    await refused({ AEVO_S3_PREFIX: '../escape' }, 'AEVO_S3_PREFIX');
    await refused({ AWS_SECRET_ACCESS_KEY: undefined }, 'AWS_SECRET_ACCESS_KEY');
    await refused({ AEVO_S3_PART_SIZE_BYTES: 'lots' }, 'AEVO_S3_PART_SIZE_BYTES');
    await refused({ AEVO_ARTEFACT_STORE: 'fs', AEVO_ARTEFACT_DIR: undefined }, 'AEVO_ARTEFACT_DIR');
    await refused({ AEVO_ARTEFACT_STORE: 'fs', AEVO_ARTEFACT_DIR: 'relative/dir' }, 'AEVO_ARTEFACT_DIR');
  });
});
