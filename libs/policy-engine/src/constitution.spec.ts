import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DomainError, sha256Hex } from '@aevo/contracts';
import { constitutionSha256, freezeConstitution, parseConstitution, pinnedMismatch } from './constitution';
import { loadConstitutionFile, MAX_CONSTITUTION_BYTES } from './constitution-file';
import { PROPOSE_POLICY_TOOL, metaSystemBlocks } from './meta-agent';
import { PolicyProposal } from './proposal';
import { DEFAULT_CONSTITUTION_PATH } from './test-support';

describe('the default constitution (deploy/constitutions/default.yaml)', () => {
  const frozen = loadConstitutionFile(DEFAULT_CONSTITUTION_PATH);

  it('states the five meta-rules of the seed', () => {
    expect(frozen.constitution.rules).toEqual({
      leaderboardAuthoritative: true,
      plateauRoundsBeforeRotation: 2,
      deadEndRegistryOnlyGrows: true,
      promotionRequiresLbGain: true,
      minThresholdNoiseMultiple: 2,
      decouplingNoiseMultiple: 2,
      noiseStdFloor: 0.005,
    });
    for (const phrase of [
      /leaderboard is authoritative/i,
      /dev\/leaderboard gap is a calibration signal/i,
      /two rounds in a row/i,
      /only grows/i,
      /promotion threshold/i,
    ])
      expect(frozen.constitution.text).toMatch(phrase);
  });

  it('is pinned by the sha256 of its bytes, as sha256sum prints it', () => {
    expect(frozen.sha256).toBe(sha256Hex(fs.readFileSync(DEFAULT_CONSTITUTION_PATH)));
    expect(pinnedMismatch(frozen, frozen.sha256)).toBeNull();
  });

  it('is held deep-frozen: no code path can edit it in memory', () => {
    expect(Object.isFrozen(frozen)).toBe(true);
    expect(Object.isFrozen(frozen.constitution.rules)).toBe(true);
    expect(() => {
      (frozen.constitution.rules as { plateauRoundsBeforeRotation: number }).plateauRoundsBeforeRotation = 99;
    }).toThrow(TypeError);
    expect(() => {
      (frozen as { source: string }).source = 'rules: {}';
    }).toThrow(TypeError);
    expect(frozen.constitution.rules.plateauRoundsBeforeRotation).toBe(2);
  });

  it('gives the meta agent one tool, whose input has no field that names the constitution or its rules', () => {
    const props = Object.keys(
      (PROPOSE_POLICY_TOOL.input_schema as unknown as { properties: Record<string, unknown> }).properties,
    );
    expect(props.sort()).toEqual(Object.keys(PolicyProposal.shape).sort());
    expect(JSON.stringify(PROPOSE_POLICY_TOOL.input_schema)).not.toMatch(
      /constitution|minThresholdNoiseMultiple|plateauRoundsBeforeRotation|noiseStdFloor/,
    );
    expect(
      (PROPOSE_POLICY_TOOL.input_schema as unknown as { additionalProperties?: boolean }).additionalProperties,
    ).toBe(false);
  });

  it(
    'is the meta agent’s system prompt, in one block without a cache breakpoint (asked once a round: a write never ' +
      'read)',
    () => {
      const blocks = metaSystemBlocks(frozen);
      expect(blocks).toHaveLength(1);
      expect(blocks[0]).not.toHaveProperty('cache_control');
      expect(blocks[0].text).toContain(frozen.constitution.text.trim());
      expect(blocks[0].text).toContain(frozen.sha256);
    },
  );
});

describe('loading and pinning constitutions', () => {
  let dir: string;
  beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aevo-constitution-'))));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads without writing: the file’s bytes and modification time are unchanged', () => {
    const file = path.join(dir, 'c.yaml');
    fs.copyFileSync(DEFAULT_CONSTITUTION_PATH, file);
    fs.chmodSync(file, 0o444);
    const before = fs.statSync(file);
    const frozen = loadConstitutionFile(file);
    expect(fs.readFileSync(file, 'utf8')).toBe(frozen.source);
    expect(fs.statSync(file).mtimeMs).toBe(before.mtimeMs);
  });

  it('refuses a FIFO, a device and a huge file without blocking or reading them', () => {
    const fifo = path.join(dir, 'fifo.yaml');
    execFileSync('mkfifo', [fifo]);
    const huge = path.join(dir, 'huge.yaml');
    fs.closeSync(fs.openSync(huge, 'w'));
    fs.truncateSync(huge, MAX_CONSTITUTION_BYTES + 1);
    for (const f of [fifo, '/dev/zero', huge, dir])
      expect(() => loadConstitutionFile(f)).toThrow(expect.objectContaining({ code: 'CONSTITUTION_UNREADABLE' }));
  });

  it('detects a file edited after the campaign pinned it', () => {
    const file = path.join(dir, 'edited.yaml');
    fs.copyFileSync(DEFAULT_CONSTITUTION_PATH, file);
    const pinned = loadConstitutionFile(file).sha256;
    fs.appendFileSync(file, '# one more line\n');
    expect(pinnedMismatch(loadConstitutionFile(file), pinned)).toMatch(/but the campaign pinned/);
  });

  it('refuses a document that is not a constitution, naming each field', () => {
    let err: unknown;
    try {
      parseConstitution(
        'name: x\nversion: "1"\ntext: t\nrules:\n  leaderboardAuthoritative: false\n  plateauRoundsBeforeRotation: 0\n',
      );
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DomainError);
    const paths = (err as DomainError).issues.map((i) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'rules.leaderboardAuthoritative',
        'rules.plateauRoundsBeforeRotation',
        'rules.minThresholdNoiseMultiple',
      ]),
    );
    expect(() => parseConstitution('rules: [')).toThrow(/not valid YAML/);
    expect(() => loadConstitutionFile(path.join(dir, 'missing.yaml'))).toThrow(/cannot read constitution/);
  });

  it('hashes bytes, so even a whitespace edit breaks the pin', () => {
    const src = fs.readFileSync(DEFAULT_CONSTITUTION_PATH, 'utf8');
    expect(constitutionSha256(src + ' ')).not.toBe(constitutionSha256(src));
    expect(pinnedMismatch(freezeConstitution(src + '\n'), constitutionSha256(src))).not.toBeNull();
  });
});
