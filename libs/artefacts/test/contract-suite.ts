import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import {
  ArtefactInputError,
  ContentCache,
  CorruptObjectError,
  DigestMismatchError,
  ObjectNotFoundError,
  collect,
  deriveManifest,
  materialise,
  readAll,
  type ArtefactStore,
  type ManifestEntry,
} from '../src';

/** What the suite needs from an adapter under test. */
export interface ArtefactStoreHarness {
  /** A store on fresh, empty storage. */
  store: ArtefactStore;
  /** Replaces the stored bytes of `sha256` behind the store's back (raw file write, raw PutObject). */
  corrupt(sha256: string, bytes: Buffer): Promise<void>;
  /** Every object name the storage holds (to prove what a call wrote, or did not write). */
  listObjects(): Promise<string[]>;
  teardown(): Promise<void>;
}

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const chunked = (b: Buffer, size: number) =>
  Readable.from(Array.from({ length: Math.ceil(b.length / size) }, (_, i) => b.subarray(i * size, (i + 1) * size)));

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection, but the call succeeded');
}

async function inputError(p: Promise<unknown>, field: string): Promise<void> {
  const err = await rejection(p);
  expect(err).toBeInstanceOf(ArtefactInputError);
  expect((err as ArtefactInputError).field).toBe(field);
  expect(err.message).toContain(field);
}

export function runArtefactStoreContract(name: string, open: () => Promise<ArtefactStoreHarness>): void {
  describe(`ArtefactStore contract: ${name}`, () => {
    let h: ArtefactStoreHarness;
    let store: ArtefactStore;
    let scratch: string;

    beforeAll(async () => {
      h = await open();
      store = h.store;
      scratch = await fsp.mkdtemp(path.join(os.tmpdir(), 'aevo-artefacts-contract-'));
    });
    afterAll(async () => {
      await h?.teardown();
      if (scratch) {
        // Read-only files inside read-only-less directories: chmod is not needed to remove them.
        await fsp.rm(scratch, { recursive: true, force: true });
      }
    });

    it('round-trips bytes and streams under the sha256 of their content', async () => {
      const bytes = Buffer.from(`checkpoint ${name} ${Date.now()}`);
      const put = await store.put(bytes);
      expect(put).toEqual({ sha256: sha(bytes), size: bytes.length, stored: true });
      expect(await readAll(await store.get(put.sha256))).toEqual(bytes);
      expect(await store.has(put.sha256)).toBe(true);
      expect(await store.stat(put.sha256)).toEqual({ sha256: put.sha256, size: bytes.length });

      const big = Buffer.alloc(300_000, 7);
      big.write(name);
      const streamed = await store.put(chunked(big, 65_536));
      expect(streamed).toEqual({ sha256: sha(big), size: big.length, stored: true });
      // Buffer.equals, not toEqual: jest's deep equality walks a large buffer byte by byte.
      expect((await readAll(await store.get(streamed.sha256))).equals(big)).toBe(true);

      const empty = await store.put(Readable.from([]));
      expect(empty).toEqual({ sha256: sha(''), size: 0, stored: true });
      expect(await readAll(await store.get(empty.sha256))).toEqual(Buffer.alloc(0));
    });

    it('puts existing content idempotently: nothing is written the second time', async () => {
      const bytes = Buffer.from(`idempotent ${name}`);
      const first = await store.put(bytes);
      const objects = await h.listObjects();
      expect(await store.put(bytes)).toEqual({ ...first, stored: false });
      expect(await store.put(chunked(bytes, 3))).toEqual({ ...first, stored: false });
      expect(await store.put(bytes, { expectedSha256: first.sha256 })).toEqual({ ...first, stored: false });
      expect(await h.listObjects()).toEqual(objects);
    });

    it('refuses a put whose bytes do not hash to the claimed digest, and stores nothing', async () => {
      const bytes = Buffer.from(`claimed ${name}`);
      const claimed = sha('something else');
      const objects = await h.listObjects();
      for (const content of [bytes, chunked(bytes, 4)]) {
        const err = await rejection(store.put(content, { expectedSha256: claimed }));
        expect(err).toBeInstanceOf(DigestMismatchError);
        expect(err.message).toContain(claimed);
        expect(err.message).toContain(sha(bytes));
      }
      expect(await store.has(sha(bytes))).toBe(false);
      expect(await store.has(claimed)).toBe(false);
      expect(await h.listObjects()).toEqual(objects);
      expect(await store.put(bytes, { expectedSha256: sha(bytes) })).toMatchObject({
        sha256: sha(bytes),
        stored: true,
      });
    });

    it('fails the read of an object changed behind its back, naming the digest', async () => {
      const bytes = Buffer.from(`soon corrupt ${name}`.repeat(100));
      const { sha256 } = await store.put(bytes);
      const damaged = Buffer.from(bytes);
      damaged[10] ^= 0xff;
      await h.corrupt(sha256, damaged);
      const err = await rejection(store.get(sha256).then(readAll));
      expect(err).toBeInstanceOf(CorruptObjectError);
      expect((err as CorruptObjectError).sha256).toBe(sha256);
      expect(err.message).toContain(sha256);
      expect(err.message).toContain(sha(damaged));
      await h.corrupt(sha256, Buffer.from('truncated'));
      expect(await rejection(store.get(sha256).then(readAll))).toBeInstanceOf(CorruptObjectError);
    });

    it('reports a missing object as missing', async () => {
      const absent = sha(`never stored ${name}`);
      expect(await store.has(absent)).toBe(false);
      expect(await store.stat(absent)).toBeUndefined();
      const err = await rejection(store.get(absent));
      expect(err).toBeInstanceOf(ObjectNotFoundError);
      expect(err.message).toContain(absent);
    });

    it('refuses malformed digests naming the field, before touching storage', async () => {
      const objects = await h.listObjects();
      for (const bad of ['abc', 'A'.repeat(64), '../../../../etc/passwd', `${sha('x')}/..`, '']) {
        await inputError(store.get(bad), 'sha256');
        await inputError(store.has(bad), 'sha256');
        await inputError(store.stat(bad), 'sha256');
        await inputError(store.getManifest(bad), 'sha256');
        await inputError(store.put(Buffer.from('x'), { expectedSha256: bad }), 'expectedSha256');
      }
      expect(await h.listObjects()).toEqual(objects);
    });

    it('stores manifests canonically and reads them back', async () => {
      const a = await store.put(Buffer.from(`a ${name}`));
      const b = await store.put(Buffer.from(`b ${name}`));
      const entries: ManifestEntry[] = [
        { path: 'src/train.py', sha256: b.sha256, size: b.size, mode: 0o644 },
        { path: 'base/checkpoint.pt', sha256: a.sha256, size: a.size, mode: 0o444 },
      ];
      const m1 = await store.putManifest(entries);
      const m2 = await store.putManifest([...entries].reverse());
      expect(m2).toBe(m1);
      const read = await store.getManifest(m1);
      expect(read.sha256).toBe(m1);
      expect(read.entries.map((e) => e.path)).toEqual(['base/checkpoint.pt', 'src/train.py']);
      expect(read.entries[0]).toEqual(entries[1]);

      // A fork: one changed file, a new manifest; the base checkpoint's object is referenced, not copied.
      const edited = await store.put(Buffer.from(`b edited ${name}`));
      const before = await h.listObjects();
      const fork = await deriveManifest(store, m1, {
        upsert: [{ path: 'src/train.py', sha256: edited.sha256, size: edited.size, mode: 0o644 }],
      });
      const added = (await h.listObjects()).filter((o) => !before.includes(o));
      expect(added).toEqual([fork]);
      expect((await store.getManifest(fork)).entries.find((e) => e.path === 'base/checkpoint.pt')).toEqual(entries[1]);
    });

    it('refuses bad manifest entries naming the field, and stores nothing', async () => {
      const a = await store.put(Buffer.from(`entry ${name}`));
      const ok = { path: 'x', sha256: a.sha256, size: a.size, mode: 0o644 };
      const objects = await h.listObjects();
      for (const p of ['../escape', '/etc/passwd', 'a/../../b', 'a/./b', 'a//b', 'a/', '', 'a\\b']) {
        await inputError(store.putManifest([{ ...ok, path: p }]), 'entries[0].path');
      }
      await inputError(store.putManifest([ok, { ...ok, sha256: 'nope' }]), 'entries[1].sha256');
      await inputError(store.putManifest([{ ...ok, size: -1 }]), 'entries[0].size');
      await inputError(store.putManifest([{ ...ok, mode: 0o1777 }]), 'entries[0].mode');
      await inputError(store.putManifest([ok, { ...ok }]), 'entries.path');
      await inputError(store.putManifest([ok, { ...ok, path: 'x/y' }]), 'entries.path');
      await inputError(store.putManifest([{ ...ok, sha256: sha('not stored') }]), 'entries["x"].sha256');
      await inputError(store.putManifest([{ ...ok, size: a.size + 1 }]), 'entries["x"].size');
      expect(await h.listObjects()).toEqual(objects);
      // An object that is not a manifest is refused as one.
      await inputError(store.getManifest(a.sha256), 'manifest');
    });

    it(
      'materialises through the node cache: the second time ' + 'transfers nothing; frozen files are read-only',
      async () => {
        const checkpoint = Buffer.alloc(1_000_000, 3);
        checkpoint.write(`weights ${name}`);
        const src = path.join(scratch, 'outputs');
        await fsp.mkdir(path.join(src, 'base'), { recursive: true });
        await fsp.writeFile(path.join(src, 'base', 'checkpoint.pt'), checkpoint);
        await fsp.writeFile(path.join(src, 'train.py'), `print("${name}")\n`);
        await fsp.writeFile(path.join(src, 'run.sh'), '#!/bin/sh\n');
        await fsp.chmod(path.join(src, 'run.sh'), 0o755);

        const collected = await collect(store, src, [
          { path: 'base/checkpoint.pt', mode: 0o444 },
          'train.py',
          'run.sh',
        ]);
        expect(collected.entries.map((e) => [e.path, e.mode])).toEqual([
          ['base/checkpoint.pt', 0o444],
          ['run.sh', 0o755],
          ['train.py', 0o644],
        ]);
        const again = await collect(store, src, [{ path: 'base/checkpoint.pt', mode: 0o444 }, 'train.py', 'run.sh']);
        expect(again.manifestSha256).toBe(collected.manifestSha256);
        expect(again.storedBytes).toBe(0);

        const cache = new ContentCache(store, path.join(scratch, 'node-cache'));
        const first = await materialise(store, collected.manifestSha256, path.join(scratch, 'job-1'), cache);
        expect(first.transferred.bytes).toBe(
          checkpoint.length + collected.entries[1]!.size + collected.entries[2]!.size,
        );
        expect(first.transferred.objects).toBe(3);
        const second = await materialise(store, collected.manifestSha256, path.join(scratch, 'job-2'), cache);
        expect(second.transferred).toEqual({ objects: 0, bytes: 0 });
        expect(second.linked).toBe(1);
        expect(second.copied).toBe(2);

        for (const job of ['job-1', 'job-2']) {
          const dir = path.join(scratch, job);
          expect((await fsp.readFile(path.join(dir, 'base', 'checkpoint.pt'))).equals(checkpoint)).toBe(true);
          expect(await fsp.readFile(path.join(dir, 'train.py'), 'utf8')).toBe(`print("${name}")\n`);
          expect((await fsp.stat(path.join(dir, 'base', 'checkpoint.pt'))).mode & 0o777).toBe(0o444);
          expect((await fsp.stat(path.join(dir, 'run.sh'))).mode & 0o777).toBe(0o755);
          expect((await fsp.stat(path.join(dir, 'train.py'))).mode & 0o777).toBe(0o644);
        }
        // Root ignores permission bits, so the write refusal itself can only be shown for an ordinary user.
        if (process.getuid?.() !== 0) {
          const err = await rejection(fsp.writeFile(path.join(scratch, 'job-2', 'base', 'checkpoint.pt'), 'overwrite'));
          expect((err as NodeJS.ErrnoException).code).toBe('EACCES');
        }
        // Editable copies are the job's own: changing one leaves the cache and other sandboxes alone.
        await fsp.writeFile(path.join(scratch, 'job-2', 'train.py'), 'changed');
        expect(await fsp.readFile(path.join(scratch, 'job-1', 'train.py'), 'utf8')).toBe(`print("${name}")\n`);

        await inputError(materialise(store, collected.manifestSha256, path.join(scratch, 'job-1'), cache), 'targetDir');
      },
    );

    it('keeps a corrupt object out of the node cache', async () => {
      const bytes = Buffer.from(`cache me ${name}`.repeat(50));
      const { sha256, size } = await store.put(bytes);
      const manifest = await store.putManifest([{ path: 'f', sha256, size, mode: 0o444 }]);
      const damaged = Buffer.from(bytes);
      damaged[0] ^= 1;
      await h.corrupt(sha256, damaged);
      const cache = new ContentCache(store, path.join(scratch, 'cache-corrupt'));
      expect(await rejection(materialise(store, manifest, path.join(scratch, 'job-corrupt'), cache))).toBeInstanceOf(
        CorruptObjectError,
      );
      await expect(fsp.stat(cache.pathOf(sha256))).rejects.toMatchObject({ code: 'ENOENT' });
      expect(cache.transfers).toEqual({ objects: 0, bytes: 0 });
    });

    it('collect refuses paths outside the directory, links and missing files', async () => {
      const dir = path.join(scratch, 'collect-bad');
      await fsp.mkdir(dir, { recursive: true });
      await fsp.writeFile(path.join(scratch, 'secret'), 'outside');
      await fsp.symlink(path.join(scratch, 'secret'), path.join(dir, 'link'));
      await inputError(collect(store, dir, ['../secret']), 'paths[0]');
      await inputError(collect(store, dir, ['/etc/passwd']), 'paths[0]');
      await inputError(collect(store, dir, ['link']), 'paths[0]');
      await inputError(collect(store, dir, ['missing']), 'paths[0]');
      expect(await store.has(sha('outside'))).toBe(false);
    });
  });
}
