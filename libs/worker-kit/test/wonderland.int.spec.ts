import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ResultManifest } from '@aevo/contracts';
import { HeuristicAgent, candidateStreamId, runCandidate } from '../src';
import { createHarness, fixturePolicy, type Harness } from './harness';

jest.setTimeout(900_000);

const WONDERLAND = path.resolve(__dirname, '../../../substrate/wonderland');
// The substrate and its base checkpoint are committed (substrate/wonderland/setup.sh rebuilds a missing base).
const SKIP = new Set(['runs', '.pytest_cache', '__pycache__']);

/**
 * The reference substrate (PyTorch) at size tiny: one heuristic worker takes a candidate through prepare-data,
 * training, evaluation of every checkpoint and its manifest.
 */
describe('heuristic worker on the reference substrate (wonderland, size tiny)', () => {
  let h: Harness;
  let scratch: string;

  beforeAll(async () => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'wonderland-src-'));
    const copy = path.join(scratch, 'wonderland');
    fs.cpSync(WONDERLAND, copy, { recursive: true, filter: (src) => !SKIP.has(path.basename(src)) });
    h = await createHarness({ substrateDir: copy, cpuSlots: 1 });
  }, 300_000);
  afterAll(async () => {
    await h?.close();
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  });

  it('completes a candidate end to end: prepare → train → evaluate → manifest', async () => {
    const fork = h.fork(1, 1, { axis: 'learning-rate', seeds: [1] });
    const out = await runCandidate(
      { fork, policy: fixturePolicy(h.substrateDir) },
      { ...h.config(), maxWaitSeconds: 900 },
      h.ports(fork.candidateId),
      new HeuristicAgent(),
    );
    const events = await h.store.readStream(candidateStreamId(fork.candidateId));
    if (out.kind !== 'submitted') {
      const logs = path.join(h.home, 'exec', 'logs');
      for (const f of fs.existsSync(logs) ? fs.readdirSync(logs) : [])
        process.stderr.write(`--- ${f}\n${fs.readFileSync(path.join(logs, f), 'utf8').slice(-2000)}\n`);
    }
    expect(out.kind).toBe('submitted');
    const m = ResultManifest.parse(out.manifest);
    expect(m.status).toBe('completed');
    expect(m.recipeChanges.map((c) => c.path)).toEqual(['train.lr']);
    expect(m.checkpoints.length).toBeGreaterThan(0);
    for (const c of m.checkpoints)
      expect(Object.keys(c.dev.domains).sort()).toEqual([
        'bit_manipulation',
        'cipher',
        'equation',
        'gravity',
        'numeral',
        'unit_conversion',
      ]);
    expect(m.chosenCheckpoint).not.toBeNull();
    const entrypoints = events
      .filter((e) => e.type === 'JobRequested')
      .map((e) => (e.data as { spec: { entrypoint: string } }).spec.entrypoint);
    expect(entrypoints).toEqual(['prepare-data', 'train']);
  });
});
