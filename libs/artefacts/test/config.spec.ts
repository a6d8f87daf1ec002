import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { ArtefactConfigError, FsArtefactStore, S3ArtefactStore, openArtefactStoreFromEnv } from '../src';

describe('openArtefactStoreFromEnv', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'aevo-artefacts-config-'));
  });
  afterAll(() => fsp.rm(tmp, { recursive: true, force: true }));

  it('opens the fs store at AEVO_ARTEFACT_DIR by default, else under AEVO_HOME', async () => {
    const explicit = await openArtefactStoreFromEnv({ AEVO_ARTEFACT_DIR: path.join(tmp, 'explicit') });
    expect(explicit).toBeInstanceOf(FsArtefactStore);
    expect((explicit as FsArtefactStore).root).toBe(path.join(tmp, 'explicit'));
    const home = await openArtefactStoreFromEnv({ AEVO_ARTEFACT_STORE: 'fs', AEVO_HOME: tmp });
    expect((home as FsArtefactStore).root).toBe(path.join(tmp, 'artefacts'));
    expect((await fsp.stat(path.join(tmp, 'artefacts', 'objects'))).isDirectory()).toBe(true);
  });

  it('builds an S3 store from bucket, prefix and region without contacting the server', async () => {
    const store = await openArtefactStoreFromEnv({
      AEVO_ARTEFACT_STORE: 's3',
      AEVO_S3_BUCKET: 'b',
      AEVO_S3_PREFIX: 'team/a',
      AWS_REGION: 'eu-west-1',
    });
    expect(store).toBeInstanceOf(S3ArtefactStore);
    expect((store as S3ArtefactStore).prefix).toBe('team/a/');
    expect((store as S3ArtefactStore).objectKey('a'.repeat(64))).toBe(`team/a/objects/aa/${'a'.repeat(62)}`);
  });

  it.each([
    [{ AEVO_ARTEFACT_STORE: 'nfs', AEVO_ARTEFACT_DIR: '/x' }, 'AEVO_ARTEFACT_STORE'],
    [{}, 'AEVO_ARTEFACT_DIR'],
    [{ AEVO_ARTEFACT_DIR: 'relative' }, 'AEVO_ARTEFACT_DIR'],
    [{ AEVO_ARTEFACT_STORE: 's3' }, 'AEVO_S3_BUCKET'],
    [{ AEVO_ARTEFACT_STORE: 's3', AEVO_S3_BUCKET: 'b' }, 'AWS_REGION'],
    [
      { AEVO_ARTEFACT_STORE: 's3', AEVO_S3_BUCKET: 'b', AWS_REGION: 'x', AEVO_S3_FORCE_PATH_STYLE: 'yes' },
      'AEVO_S3_FORCE_PATH_STYLE',
    ],
    [
      { AEVO_ARTEFACT_STORE: 's3', AEVO_S3_BUCKET: 'b', AWS_REGION: 'x', AEVO_S3_MULTIPART_THRESHOLD_BYTES: '-1' },
      'AEVO_S3_MULTIPART_THRESHOLD_BYTES',
    ],
    [
      { AEVO_ARTEFACT_STORE: 's3', AEVO_S3_BUCKET: 'b', AWS_REGION: 'x', AEVO_S3_PART_SIZE_BYTES: '1024' },
      'AEVO_S3_PART_SIZE_BYTES',
    ],
    [
      { AEVO_ARTEFACT_STORE: 's3', AEVO_S3_BUCKET: 'b', AWS_REGION: 'x', AWS_ACCESS_KEY_ID: 'k' },
      'AWS_SECRET_ACCESS_KEY',
    ],
  ])('refuses %j naming %s', async (env, variable) => {
    const err = await openArtefactStoreFromEnv(env as Record<string, string>).catch((e: Error) => e);
    expect(err).toBeInstanceOf(ArtefactConfigError);
    expect((err as ArtefactConfigError).variable).toBe(variable);
  });
});
