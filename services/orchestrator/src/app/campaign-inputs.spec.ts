import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { CampaignConfig, DomainError } from '@aevo/contracts';
import { writeSubstrateFixture } from '@aevo/substrate-kit';
import { FileCampaignInputs, MAX_INPUT_FILE_BYTES, readConstitution, readRecipe, withTimeout } from './campaign-inputs';
import { DEPLOY_ROOT, inputRootsFromEnv } from '../config';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'aevo-inputs-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const refusal = (f: () => unknown): DomainError => {
  try {
    f();
  } catch (err) {
    if (err instanceof DomainError) return err;
    throw err;
  }
  throw new Error('expected a DomainError');
};

describe('campaign inputs', () => {
  it('pins the bundled default constitution by the sha256 of its bytes', () => {
    const file = path.join(DEPLOY_ROOT, 'constitutions/default.yaml');
    const { constitution, sha256 } = readConstitution(file);
    expect(sha256).toBe(createHash('sha256').update(fs.readFileSync(file)).digest('hex'));
    expect(constitution.rules).toMatchObject({
      leaderboardAuthoritative: true,
      deadEndRegistryOnlyGrows: true,
      plateauRoundsBeforeRotation: 2,
    });
    // Any byte changes the pin, even one that does not change the document.
    const copy = path.join(tmp, 'copy.yaml');
    fs.writeFileSync(copy, `${fs.readFileSync(file, 'utf8')}\n# trailing comment\n`);
    expect(readConstitution(copy).sha256).not.toBe(sha256);
    expect(readConstitution(copy).constitution).toEqual(constitution);
  });

  it('names what is wrong with a constitution', () => {
    const bad = path.join(tmp, 'bad.yaml');
    fs.writeFileSync(bad, 'name: x\nversion: "1"\ntext: t\nrules:\n  leaderboardAuthoritative: false\n');
    const err = refusal(() => readConstitution(bad));
    expect(err.code).toBe('INVALID_CONSTITUTION');
    expect(err.issues.every((i) => i.path === 'payload.constitutionPath')).toBe(true);
    expect(err.issues.map((i) => i.message).join('\n')).toMatch(/rules\.leaderboardAuthoritative/);
    expect(refusal(() => readConstitution(path.join(tmp, 'missing.yaml'))).code).toBe('CONSTITUTION_UNREADABLE');
    fs.writeFileSync(path.join(tmp, 'notyaml.yaml'), 'a: [1, 2\n');
    expect(refusal(() => readConstitution(path.join(tmp, 'notyaml.yaml'))).code).toBe('INVALID_CONSTITUTION');
  });

  it('reads the standing recipe from a valid substrate and refuses an invalid one', () => {
    const dir = writeSubstrateFixture(path.join(tmp, 'substrate'));
    expect(readRecipe(dir)).toEqual({ lr: 0.001, steps: 100, mix: { gravity: 1, cipher: 1 } });
    const err = refusal(() => readRecipe(path.join(tmp, 'nothing-here')));
    expect(err.code).toBe('SUBSTRATE_INVALID');
    expect(err.issues[0].path).toBe('payload.substratePath');
  });

  it(
    'resolves relative paths against the working root, then the ' +
      'orchestrator package, and reports both problems at once',
    async () => {
      const dir = writeSubstrateFixture(path.join(tmp, 'root', 'substrate'));
      const loader = new FileCampaignInputs([path.join(tmp, 'root'), DEPLOY_ROOT]);
      const config = CampaignConfig.parse({
        campaignId: 'c1',
        substratePath: 'substrate',
        constitutionPath: 'constitutions/default.yaml',
        rounds: 1,
        workersPerRound: 1,
        axes: ['learning-rate'],
        seed: 0,
        budgets: { gpuSeconds: 1, llmTokens: 0, submissionsPerRound: 1 },
      });
      const inputs = await loader.load(config);
      expect(inputs.standingRecipe).toEqual(readRecipe(dir));
      await expect(
        loader.load({ ...config, substratePath: 'nope', constitutionPath: 'nope.yaml' }),
      ).rejects.toMatchObject({
        code: 'INVALID_CAMPAIGN_INPUTS',
        issues: [
          expect.objectContaining({ path: 'payload.constitutionPath' }),
          expect.objectContaining({ path: 'payload.substratePath' }),
        ],
      });
    },
  );
});

describe('campaign inputs are read only under the configured roots', () => {
  const root = path.join(tmp, 'roots');
  const constitutions = path.join(root, 'constitutions');
  const substrates = path.join(root, 'substrates');
  const outside = path.join(tmp, 'outside');
  let loader: FileCampaignInputs;
  const base = () =>
    CampaignConfig.parse({
      campaignId: 'c1',
      substratePath: 'sim',
      constitutionPath: 'default.yaml',
      rounds: 1,
      workersPerRound: 1,
      axes: ['learning-rate'],
      seed: 0,
      budgets: { gpuSeconds: 1, llmTokens: 0, submissionsPerRound: 1 },
    });
  const refusalOf = async (over: Partial<CampaignConfig>) => {
    try {
      await loader.load({ ...base(), ...over });
    } catch (err) {
      if (err instanceof DomainError) return { code: err.code, message: err.message, issues: err.issues };
      throw err;
    }
    throw new Error('expected a refusal');
  };
  // A YAML-parsable secret outside the roots: its keys and values must never come back.
  const secret = 'shadowroot: "$6$SECRETHASH"\nanothersecretkey: 1\n';

  beforeAll(() => {
    fs.mkdirSync(constitutions, { recursive: true });
    fs.mkdirSync(outside, { recursive: true });
    fs.copyFileSync(path.join(DEPLOY_ROOT, 'constitutions/default.yaml'), path.join(constitutions, 'default.yaml'));
    writeSubstrateFixture(path.join(substrates, 'sim'));
    fs.writeFileSync(path.join(outside, 'shadow.yaml'), secret);
    fs.writeFileSync(path.join(constitutions, 'keys.yaml'), secret);
    fs.symlinkSync(path.join(outside, 'shadow.yaml'), path.join(constitutions, 'link.yaml'));
    fs.symlinkSync(outside, path.join(substrates, 'escape'));
    execFileSync('mkfifo', [path.join(constitutions, 'fifo.yaml')]);
    // Sparse: over the cap without writing it.
    fs.closeSync(fs.openSync(path.join(constitutions, 'huge.yaml'), 'w'));
    fs.truncateSync(path.join(constitutions, 'huge.yaml'), MAX_INPUT_FILE_BYTES + 1);
    loader = new FileCampaignInputs({
      bases: [root],
      constitutionRoots: [constitutions],
      substrateRoots: [substrates],
    });
  });

  it('loads the inputs under the roots', async () => {
    const inputs = await loader.load(base());
    expect(inputs.constitution.rules.leaderboardAuthoritative).toBe(true);
    await expect(
      loader.load({
        ...base(),
        constitutionPath: path.join(constitutions, 'default.yaml'),
        substratePath: path.join(substrates, 'sim'),
      }),
    ).resolves.toEqual(inputs);
  });

  it('answers the same for an existing and a missing file outside the roots, without echoing content', async () => {
    const paths = [
      path.join(outside, 'shadow.yaml'),
      path.join(outside, 'missing.yaml'),
      '/etc/shadow',
      '/etc/passwd',
      '/nonexistent',
      '../outside/shadow.yaml',
      'constitutions/../../outside/shadow.yaml',
    ];
    const answers = await Promise.all(paths.map((p) => refusalOf({ constitutionPath: p })));
    for (const a of answers) {
      expect(a).toEqual(answers[0]);
      expect(JSON.stringify(a)).not.toMatch(/shadowroot|SECRETHASH|anothersecretkey|root:/);
    }
    expect(answers[0]).toMatchObject({
      code: 'INVALID_CAMPAIGN_INPUTS',
      issues: [{ path: 'payload.constitutionPath', message: expect.stringMatching(/configured constitution roots/) }],
    });
    const substrateAnswers = await Promise.all(
      [path.join(outside), '/etc', '/nonexistent', '../outside'].map((p) => refusalOf({ substratePath: p })),
    );
    for (const a of substrateAnswers) expect(a).toEqual(substrateAnswers[0]);
    expect(substrateAnswers[0].issues).toEqual([
      { path: 'payload.substratePath', message: expect.stringMatching(/configured substrate roots/) },
    ]);
  });

  it('treats a symlink out of the roots as absent', async () => {
    expect((await refusalOf({ constitutionPath: 'link.yaml' })).issues).toEqual([
      { path: 'payload.constitutionPath', message: expect.stringMatching(/no such file/) },
    ]);
    expect((await refusalOf({ substratePath: 'escape' })).issues).toEqual([
      { path: 'payload.substratePath', message: expect.stringMatching(/no such directory/) },
    ]);
  });

  it('refuses a FIFO, a device and a huge file without blocking or reading them', async () => {
    expect((await refusalOf({ constitutionPath: 'fifo.yaml' })).issues).toEqual([
      { path: 'payload.constitutionPath', message: 'the file is not a regular file' },
    ]);
    expect((await refusalOf({ constitutionPath: 'huge.yaml' })).issues).toEqual([
      { path: 'payload.constitutionPath', message: `the file is larger than ${MAX_INPUT_FILE_BYTES} bytes` },
    ]);
    const dev = new FileCampaignInputs({ bases: ['/dev'], constitutionRoots: ['/dev'], substrateRoots: [substrates] });
    for (const p of ['/dev/zero', 'null', '/dev/stdin']) {
      await expect(dev.load({ ...base(), constitutionPath: p })).rejects.toMatchObject({
        issues: [
          {
            path: 'payload.constitutionPath',
            message: expect.stringMatching(/not a regular file|no such file|symbolic link/),
          },
        ],
      });
    }
    // A FIFO as a substrate's manifest.
    const sub = writeSubstrateFixture(path.join(substrates, 'fifo-sub'));
    fs.rmSync(path.join(sub, 'substrate.yaml'));
    execFileSync('mkfifo', [path.join(sub, 'substrate.yaml')]);
    expect((await refusalOf({ substratePath: 'fifo-sub' })).issues).toEqual([
      { path: 'payload.substratePath', message: 'substrate.yaml is not a regular file' },
    ]);
  });

  it('names no key or value of an invalid YAML file under the roots', async () => {
    const a = await refusalOf({ constitutionPath: 'keys.yaml' });
    expect(a.code).toBe('INVALID_CAMPAIGN_INPUTS');
    expect(a.issues.every((i) => i.path === 'payload.constitutionPath')).toBe(true);
    expect(JSON.stringify(a)).not.toMatch(/shadowroot|SECRETHASH|anothersecretkey/);
    fs.writeFileSync(path.join(constitutions, 'broken.yaml'), 'secretword: [1, 2\n');
    expect(JSON.stringify(await refusalOf({ constitutionPath: 'broken.yaml' }))).not.toMatch(/secretword/);
  });

  it('gives up on a read that outlasts the timeout', async () => {
    // A regular file cannot be made slow here: the timeout is checked on a read that never ends.
    await expect(
      withTimeout(new Promise(() => undefined), 10, () => new DomainError('INPUT_READ_TIMEOUT', 'slow', [])),
    ).rejects.toMatchObject({ code: 'INPUT_READ_TIMEOUT' });
    await expect(withTimeout(Promise.resolve(1), 60_000, () => new Error('unused'))).resolves.toBe(1);
  });

  it(
    'never reads outside the roots nor echoes content, for any ' + 'path built from hostile segments (property)',
    async () => {
      const segment = fc.constantFrom(
        '..',
        '.',
        '',
        'etc',
        'shadow',
        'passwd',
        'dev',
        'zero',
        'proc',
        'self',
        'environ',
        'outside',
        'shadow.yaml',
        'roots',
        'constitutions',
        'default.yaml',
        'link.yaml',
        'fifo.yaml',
        'huge.yaml',
        'keys.yaml',
        tmp.slice(1),
      );
      const hostilePath = fc
        .record({ absolute: fc.boolean(), parts: fc.array(segment, { minLength: 1, maxLength: 7 }) })
        .map(({ absolute, parts }) => `${absolute ? '/' : ''}${parts.join('/')}`);
      const realConstitutions = fs.realpathSync(constitutions);
      await fc.assert(
        fc.asyncProperty(hostilePath, async (p) => {
          let refusal: { code: string; issues: Array<{ path: string; message: string }> } | null = null;
          try {
            await loader.load({ ...base(), constitutionPath: p });
          } catch (err) {
            if (!(err instanceof DomainError)) throw err;
            refusal = { code: err.code, issues: err.issues };
          }
          if (refusal === null) {
            // Loaded: then it was a constitution under the root.
            const candidates = [root, constitutions]
              .map((b) => path.resolve(b, p))
              .concat(path.isAbsolute(p) ? [p] : []);
            expect(
              candidates.some((c) => fs.existsSync(c) && fs.realpathSync(c).startsWith(`${realConstitutions}/`)),
            ).toBe(true);
            return;
          }
          expect(refusal.code).toBe('INVALID_CAMPAIGN_INPUTS');
          expect(refusal.issues.length).toBeGreaterThan(0);
          for (const i of refusal.issues) expect(i.path).toBe('payload.constitutionPath');
          expect(JSON.stringify(refusal)).not.toMatch(/shadowroot|SECRETHASH|anothersecretkey|root:x:/);
        }),
        { numRuns: 300 },
      );
    },
    // 300 loads with file-system checks each: ~1 s alone, past jest's 5 s default when the machine is loaded.
    60_000,
  );

  it('takes the roots from the environment: AEVO_*_ROOTS replace the defaults', () => {
    const d = inputRootsFromEnv({}, '/srv');
    expect(d.constitutionRoots).toEqual([path.join(DEPLOY_ROOT, 'constitutions')]);
    expect(d.substrateRoots).toEqual([path.resolve(DEPLOY_ROOT, '..', 'substrate')]);
    const legacy = inputRootsFromEnv({ AEVO_CONSTITUTIONS_ROOT: 'c', AEVO_SUBSTRATE_ROOT: 's' }, '/srv');
    expect(legacy.constitutionRoots).toContain('/srv/c');
    expect(legacy.substrateRoots).toContain('/srv/s');
    const set = inputRootsFromEnv(
      { AEVO_CONSTITUTION_ROOTS: `/a${path.delimiter}b`, AEVO_SUBSTRATE_ROOTS: '/x' },
      '/srv',
    );
    expect(set).toMatchObject({ constitutionRoots: ['/a', '/srv/b'], substrateRoots: ['/x'] });
  });
});
