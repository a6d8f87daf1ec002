import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultFixtureManifest, writeSubstrateFixture } from './fixture';
import { SubstrateInvalid, loadSubstrate, validateSubstrate } from './load';
import type { IssueDetail } from '@aevo/contracts';

const REPO = path.resolve(__dirname, '../../..');
let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'substrate-kit-'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

function issuesOf(dir: string): IssueDetail[] {
  const r = validateSubstrate(dir);
  if (r.ok) throw new Error('expected the substrate to be rejected');
  return r.issues;
}
const entrypoints = () => defaultFixtureManifest().entrypoints as Record<string, { command: string[] }>;

describe('loadSubstrate on the shipped substrates', () => {
  it.each(['wonderland', 'simulated'])('substrate/%s honours the contract', (name) => {
    const s = loadSubstrate(path.join(REPO, 'substrate', name));
    expect(s.manifest.name).toBe(name);
    expect(s.editableFiles).toContain(s.manifest.recipe);
    expect(s.baseCheckpointFiles.length).toBeGreaterThan(0);
    for (const f of s.baseCheckpointFiles) expect(s.frozenFiles).toContain(f);
    expect(s.manifest.metric.domains.length).toBeGreaterThan(0);
  });
});

describe('loadSubstrate', () => {
  it('loads a valid substrate and classifies every file', () => {
    const s = loadSubstrate(writeSubstrateFixture(tmp));
    expect(s.manifest.name).toBe('fixture');
    expect(s.editableFiles).toEqual(['pipeline/build.py', 'pipeline/mix/weights.py', 'recipe.yaml']);
    expect(s.frozenFiles).toEqual(
      expect.arrayContaining(['base/checkpoint.pt', 'harness/metric.py', 'substrate.yaml']),
    );
    expect(s.protectedFiles).toEqual(['README.md']);
    expect(s.recipe).toEqual({ lr: 0.001, steps: 100, mix: { gravity: 1, cipher: 1 } });
    expect(s.baseCheckpointFiles).toEqual(['base/checkpoint.pt']);
  });

  it('leaves caches out and honours the ignore list', () => {
    writeSubstrateFixture(tmp, {
      manifest: { ignore: ['runs/**'] },
      files: { 'harness/__pycache__/m.cpython-311.pyc': 'x', 'runs/a/log.txt': 'x' },
    });
    const s = loadSubstrate(tmp);
    expect(s.entries.map((e) => e.path).filter((p) => p.includes('pycache') || p.startsWith('runs'))).toEqual([]);
  });

  it('rejects a missing entrypoint, naming it', () => {
    const eps = entrypoints();
    delete eps.evaluate;
    writeSubstrateFixture(tmp, { manifest: { entrypoints: eps } });
    expect(issuesOf(tmp)).toEqual([
      expect.objectContaining({
        path: 'entrypoints.evaluate',
        message: expect.stringMatching(/missing required field/),
      }),
    ]);
    expect(() => loadSubstrate(tmp)).toThrow(SubstrateInvalid);
    expect(() => loadSubstrate(tmp)).toThrow(/entrypoints\.evaluate: missing required field/);
  });

  it('rejects unknown fields at any depth, naming each', () => {
    const eps = entrypoints() as Record<string, Record<string, unknown>>;
    eps.train.gpus = 2;
    writeSubstrateFixture(tmp, { manifest: { entrypoints: eps, frozenn: ['x/**'] } });
    const paths = issuesOf(tmp).map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['frozenn', 'entrypoints.train.gpus']));
    expect(issuesOf(tmp).find((i) => i.path === 'frozenn')!.message).toBe('unknown field "frozenn"');
  });

  it('rejects overlapping editable and frozen globs found in the file tree', () => {
    writeSubstrateFixture(tmp, { manifest: { editable: ['recipe.yaml', 'pipeline/**', 'harness/metric.py'] } });
    const issues = issuesOf(tmp);
    expect(issues).toEqual([
      {
        path: 'frozen.0',
        message:
          'frozen glob "harness/**" overlaps editable glob "harness/metric.py" (editable.2): a path ' +
          'cannot be both; both match harness/metric.py',
      },
    ]);
  });

  it('rejects overlapping globs even when no file exists there yet (static check)', () => {
    writeSubstrateFixture(tmp, {
      manifest: { editable: ['recipe.yaml', 'pipeline/**'], frozen: ['harness/**', 'base/**', 'pipeline/eval/**'] },
    });
    expect(issuesOf(tmp)).toEqual([
      {
        path: 'frozen.2',
        message:
          'frozen glob "pipeline/eval/**" overlaps editable glob "pipeline/**" (editable.1): a path cannot be both',
      },
    ]);
  });

  it('rejects a recipe that is missing or not editable, and a base checkpoint that is missing or not frozen', () => {
    writeSubstrateFixture(tmp, { manifest: { recipe: 'harness/recipe.yaml', baseCheckpoint: 'base/nope.pt' } });
    fs.writeFileSync(path.join(tmp, 'harness/recipe.yaml'), 'lr: 1\n');
    let issues = issuesOf(tmp);
    expect(issues).toEqual(
      expect.arrayContaining([
        { path: 'recipe', message: 'recipe "harness/recipe.yaml" is not matched by any editable glob' },
        { path: 'recipe', message: 'recipe "harness/recipe.yaml" is frozen (by harness/**)' },
        { path: 'baseCheckpoint', message: 'base checkpoint "base/nope.pt" does not exist' },
      ]),
    );
    fs.rmSync(tmp, { recursive: true });
    writeSubstrateFixture(tmp, {
      manifest: {
        recipe: 'missing.yaml',
        frozen: ['harness/**', 'substrate.yaml'],
        editable: ['*.yaml', 'pipeline/**'],
      },
    });
    issues = issuesOf(tmp);
    expect(issues).toEqual(
      expect.arrayContaining([
        { path: 'recipe', message: 'recipe file "missing.yaml" does not exist' },
        { path: 'baseCheckpoint', message: 'base checkpoint is not frozen: base/checkpoint.pt match no frozen glob' },
        expect.objectContaining({
          path: 'frozen.1',
          message: expect.stringMatching(/overlaps editable glob "\*\.yaml"/),
        }),
      ]),
    );
  });

  it('rejects unknown placeholders, the secret seed inside a sandbox, and an unfrozen evaluator', () => {
    const eps = entrypoints();
    eps.train.command = [...eps.train.command, '--x', '{chekpoint}'];
    eps.predict.command = [...eps.predict.command, '--s', '{secret_seed}'];
    eps.evaluate.command = ['python3', 'pipeline/build.py', '{checkpoint}'];
    writeSubstrateFixture(tmp, {
      manifest: {
        entrypoints: eps,
        outputs: { checkpointDir: 'step-{stp}', scores: 'dev-scores', predictions: 'csv' },
      },
    });
    const issues = issuesOf(tmp);
    const n = eps.train.command.length - 1;
    expect(issues).toEqual(
      expect.arrayContaining([
        {
          path: `entrypoints.train.command.${n}`,
          message: expect.stringMatching(/^unknown placeholder \{chekpoint\}; known: \{sandbox\}/),
        },
        {
          path: `entrypoints.predict.command.${eps.predict.command.length - 1}`,
          message: expect.stringMatching(/only given to leaderboard commands/),
        },
        {
          path: 'entrypoints.evaluate.command.1',
          message: expect.stringMatching(/"pipeline\/build.py" runs the evaluation but is not frozen/),
        },
        { path: 'outputs.checkpointDir', message: 'unknown placeholder {stp} (only {step} is available here)' },
      ]),
    );
  });

  it('rejects empty metric domains and reports every problem at once', () => {
    writeSubstrateFixture(tmp, {
      manifest: { metric: { name: 'accuracy', domains: [] }, version: undefined, editable: ['{a,b}'] },
    });
    const paths = issuesOf(tmp).map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['metric.domains', 'version', 'editable.0']));
  });

  it('rejects a symlink leaving the substrate', () => {
    writeSubstrateFixture(tmp);
    fs.symlinkSync('/etc/passwd', path.join(tmp, 'pipeline/passwd'));
    expect(issuesOf(tmp)).toEqual([
      { path: 'files.pipeline/passwd', message: 'symlink points outside the substrate (/etc/passwd)' },
    ]);
  });

  it('reports YAML errors, a missing manifest and a missing directory', () => {
    writeSubstrateFixture(tmp);
    fs.writeFileSync(path.join(tmp, 'substrate.yaml'), 'name: a\nname: b\n');
    expect(issuesOf(tmp)[0]).toEqual({ path: '(yaml)', message: expect.stringMatching(/line 2: .*unique/i) });
    fs.rmSync(path.join(tmp, 'substrate.yaml'));
    expect(issuesOf(tmp)).toEqual([{ path: 'substrate.yaml', message: expect.stringMatching(/no substrate.yaml/) }]);
    expect(issuesOf(path.join(tmp, 'nope'))).toEqual([
      { path: '(dir)', message: expect.stringMatching(/does not exist/) },
    ]);
  });
});
