import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { CampaignConfig, DomainError } from '@aevo/contracts';
import { writeSubstrateFixture } from '@aevo/substrate-kit';
import { FileCampaignInputs, DEPLOY_ROOT, readConstitution, readRecipe } from './campaign-inputs';

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
    expect(constitution.rules).toMatchObject({ leaderboardAuthoritative: true, deadEndRegistryOnlyGrows: true, plateauRoundsBeforeRotation: 2 });
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

  it('resolves relative paths against the working root, then the orchestrator package, and reports both problems at once', async () => {
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
    await expect(loader.load({ ...config, substratePath: 'nope', constitutionPath: 'nope.yaml' })).rejects.toMatchObject({
      code: 'INVALID_CAMPAIGN_INPUTS',
      issues: [expect.objectContaining({ path: 'payload.constitutionPath' }), expect.objectContaining({ path: 'payload.substratePath' })],
    });
  });
});
