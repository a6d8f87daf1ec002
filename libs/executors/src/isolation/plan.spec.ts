import { mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSubstrateFixture } from '@aevo/substrate-kit';
import { pinnedCover } from './plan';

describe('pinnedCover', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'aevo-cover-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('binds whole directories where everything below is pinned, single files elsewhere, never editable ones', () => {
    writeSubstrateFixture(dir, { files: { 'pipeline/frozen-helper.txt': 'x\n' } });
    // pipeline/** is editable in the fixture, so its files are neither covered nor bound
    expect(pinnedCover(dir)).toEqual(['README.md', 'base', 'harness', 'substrate.yaml']);
  });

  it('walks a snapshot once per process: its id is its content, so the cover never changes', () => {
    writeSubstrateFixture(dir);
    const first = pinnedCover(dir);
    unlinkSync(join(dir, 'substrate.yaml')); // a second walk would now fail to load the substrate
    expect(pinnedCover(dir)).toBe(first);
  });
});
