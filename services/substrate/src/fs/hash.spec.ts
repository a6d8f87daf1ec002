import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { HashCache, hashFile, sha256Text } from './hash';

describe('HashCache', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hashcache-'));
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('hashes like sha256 and reuses an entry only while the inode is unchanged', async () => {
    const f = path.join(tmp, 'f');
    fs.writeFileSync(f, 'one');
    const now = Date.now() + 10_000; // pretend the write is old enough to be cached
    const cache = new HashCache(10, 2_000, () => now);
    expect(await cache.hash(f)).toBe(sha256Text('one'));
    expect(cache.size).toBe(1);
    // Same size, new content, times set explicitly (a write in the same clock tick could keep them: that case is
    // what the racy window covers, tested below).
    fs.writeFileSync(f, 'two');
    fs.utimesSync(f, new Date(2001, 1, 1), new Date(2001, 1, 1));
    expect(await cache.hash(f)).toBe(sha256Text('two'));
    expect(await hashFile(f)).toBe(sha256Text('two'));
  });

  it('never caches a file changed within the racy window', async () => {
    const f = path.join(tmp, 'g');
    fs.writeFileSync(f, 'fresh');
    const cache = new HashCache(10, 60_000);
    expect(await cache.hash(f)).toBe(sha256Text('fresh'));
    expect(cache.size).toBe(0);
  });

  it('evicts the oldest entry beyond its capacity', async () => {
    const cache = new HashCache(2, 0, () => Date.now() + 10_000);
    for (const n of ['a', 'b', 'c']) {
      fs.writeFileSync(path.join(tmp, n), n);
      await cache.hash(path.join(tmp, n));
    }
    expect(cache.size).toBe(2);
  });
});
