import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { FsArtefactStore } from '../src';
import { runArtefactStoreContract } from './contract-suite';

jest.setTimeout(60_000);

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else out.push(p);
  }
  return out.sort();
}

runArtefactStoreContract('FsArtefactStore', async () => {
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'aevo-artefacts-fs-'));
  const store = await FsArtefactStore.open({ root });
  return {
    store,
    async corrupt(sha256, bytes) {
      const file = store.objectPath(sha256);
      await fsp.chmod(file, 0o644);
      await fsp.writeFile(file, bytes);
      await fsp.chmod(file, 0o444);
    },
    // Temp files count too: a put that writes nothing must not leave one behind.
    listObjects: async () =>
      (await walk(root))
        .map((f) => path.relative(root, f).split(path.sep).join('/'))
        .map((f) => f.replace(/^objects\/(..)\//, '$1')),
    teardown: () => fsp.rm(root, { recursive: true, force: true }),
  };
});

describe('FsArtefactStore layout', () => {
  it('stores objects read-only under objects/ab/cdef… and leaves no temp file', async () => {
    const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'aevo-artefacts-layout-'));
    try {
      const store = await FsArtefactStore.open({ root });
      const { sha256 } = await store.put(Buffer.from('layout'));
      const file = path.join(root, 'objects', sha256.slice(0, 2), sha256.slice(2));
      expect(store.objectPath(sha256)).toBe(file);
      expect((await fsp.stat(file)).mode & 0o777).toBe(0o444);
      expect(await fsp.readdir(path.join(root, 'tmp'))).toEqual([]);
    } finally {
      await fsp.rm(root, { recursive: true, force: true });
    }
  });
});

describe('reading', () => {
  it('closes the object file when a reader stops early', async () => {
    const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'aevo-artefacts-early-'));
    try {
      const store = await FsArtefactStore.open({ root });
      const { sha256 } = await store.put(Buffer.alloc(1_000_000, 1));
      const fdsBefore = (await fsp.readdir('/proc/self/fd')).length;
      const stream = await store.get(sha256);
      await new Promise<void>((resolve) => stream.once('readable', () => resolve()));
      stream.destroy();
      // The close is asynchronous: poll for it (bounded), then assert.
      const openFds = async () => (await fsp.readdir('/proc/self/fd')).length;
      for (let i = 0; i < 100 && (await openFds()) > fdsBefore; i++) await new Promise((r) => setTimeout(r, 20));
      expect(await openFds()).toBeLessThanOrEqual(fdsBefore);
    } finally {
      await fsp.rm(root, { recursive: true, force: true });
    }
  });
});
