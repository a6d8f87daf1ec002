import { readAll } from './hashing';
import { ArtefactInputError, MANIFEST_KIND, type ArtefactStore, type Manifest, type ManifestEntry } from './port';
import { assertMode, assertRelativePath, assertSha256, assertSize } from './validate';

/** Validates entries and returns them sorted by path, copied to exactly the four fields. */
export function normaliseManifestEntries(entries: readonly ManifestEntry[], field = 'entries'): ManifestEntry[] {
  if (!Array.isArray(entries)) throw new ArtefactInputError(field, 'an array of manifest entries', entries);
  const out = entries.map((e, i) => {
    const at = `${field}[${i}]`;
    if (typeof e !== 'object' || e === null)
      throw new ArtefactInputError(at, 'an object {path, sha256, size, mode}', e);
    assertRelativePath(e.path, `${at}.path`);
    assertSha256(e.sha256, `${at}.sha256`);
    assertSize(e.size, `${at}.size`);
    assertMode(e.mode, `${at}.mode`);
    return { path: e.path, sha256: e.sha256, size: e.size, mode: e.mode };
  });
  out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const paths = new Set(out.map((e) => e.path));
  for (let i = 0; i < out.length; i++) {
    const p = out[i]!.path;
    if (i > 0 && out[i - 1]!.path === p) throw new ArtefactInputError(`${field}.path`, 'each path at most once', p);
    // A file cannot also be a directory of another entry ("a" and "a/b").
    const segments = p.split('/');
    for (let k = 1; k < segments.length; k++) {
      const dir = segments.slice(0, k).join('/');
      if (paths.has(dir))
        throw new ArtefactInputError(`${field}.path`, `no entry under the file ${JSON.stringify(dir)}`, p);
    }
  }
  return out;
}

/** The canonical bytes of a manifest: same entries, same bytes, same digest. */
export function encodeManifest(entries: readonly ManifestEntry[]): Buffer {
  return Buffer.from(JSON.stringify({ kind: MANIFEST_KIND, entries }));
}

export function decodeManifest(bytes: Buffer, sha256: string): ManifestEntry[] {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new ArtefactInputError('manifest', `a JSON manifest (artefact ${sha256} is not JSON)`, undefined);
  }
  const d = doc as { kind?: unknown; entries?: unknown };
  if (typeof d !== 'object' || d === null || d.kind !== MANIFEST_KIND || !Array.isArray(d.entries)) {
    throw new ArtefactInputError('manifest', `an object of kind ${MANIFEST_KIND} (artefact ${sha256})`, d?.kind);
  }
  return normaliseManifestEntries(d.entries as ManifestEntry[], `manifest ${sha256} entries`);
}

/** putManifest for any adapter: checks every named object is stored with its size, then stores the manifest. */
export async function putManifestInto(store: ArtefactStore, entries: readonly ManifestEntry[]): Promise<string> {
  const normalised = normaliseManifestEntries(entries);
  // Bounded concurrency: a manifest of thousands of files must not open thousands of requests at once.
  let next = 0;
  const check = async () => {
    while (next < normalised.length) {
      const i = next++;
      const e = normalised[i]!;
      const stat = await store.stat(e.sha256);
      if (!stat)
        throw new ArtefactInputError(
          `entries[${JSON.stringify(e.path)}].sha256`,
          'an object already in the store',
          e.sha256,
        );
      if (stat.size !== e.size) {
        throw new ArtefactInputError(
          `entries[${JSON.stringify(e.path)}].size`,
          `${stat.size} (the stored object's size)`,
          e.size,
        );
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(16, normalised.length) }, check));
  const { sha256 } = await store.put(encodeManifest(normalised));
  return sha256;
}

export async function getManifestFrom(store: ArtefactStore, sha256: string): Promise<Manifest> {
  const bytes = await readAll(await store.get(sha256));
  return { sha256, entries: decodeManifest(bytes, sha256) };
}
