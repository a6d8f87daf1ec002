import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { jobNodes } from '@aevo/contracts';
import { defaultFixtureManifest, writeSubstrateFixture } from './fixture';
import { loadSubstrate, validateSubstrate } from './load';

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'substrate-kit-res-'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

const resources = () => structuredClone(defaultFixtureManifest().resources) as Record<string, Record<string, unknown>>;

describe('resources.<entrypoint>.nodes', () => {
  it('is absent from a substrate that does not ask for it, and counts as one node', () => {
    const s = loadSubstrate(writeSubstrateFixture(tmp));
    expect(s.manifest.resources.train).not.toHaveProperty('nodes');
    expect(jobNodes(s.manifest.resources.train)).toBe(1);
  });

  it('carries the number of ranks a job asks for; cpu, memoryMiB and gpu stay per node', () => {
    const res = resources();
    res.train = { ...res.train, gpu: 1, nodes: 4 };
    const s = loadSubstrate(writeSubstrateFixture(tmp, { manifest: { resources: res } }));
    expect(s.manifest.resources.train).toEqual({ ...res.train, gpu: 1, nodes: 4 });
    expect(jobNodes(s.manifest.resources.train)).toBe(4);
    expect(jobNodes(s.manifest.resources.evaluate)).toBe(1);
  });

  it.each([
    [0, /at least 1 node/],
    [65, /at most 64 nodes/],
    [1.5, /integer number of nodes/],
    ['2', /integer number of nodes/],
  ])('rejects nodes = %p, naming the field and what it expects', (nodes, message) => {
    const res = resources();
    res.train = { ...res.train, nodes };
    writeSubstrateFixture(tmp, { manifest: { resources: res } });
    const r = validateSubstrate(tmp);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.issues).toEqual([
      expect.objectContaining({ path: 'resources.train.nodes', message: expect.stringMatching(message) }),
    ]);
  });
});
