import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeJobSnapshot } from '../testing/job-home';
import { frozenCommand, type FrozenCommand } from './frozen-command';
import { SANDBOX_BASE_ENV } from './bwrap';

jest.setTimeout(60_000);

let home: string;
let snapshotPath: string;
let out: string;
let other: string;
let answers: string;
let secretFile: string;

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'aevo-frozen-'));
  ({ snapshotPath } = writeJobSnapshot(home));
  const board = join(home, 'leaderboard', 'c1');
  out = join(board, 'public', 'scores');
  other = join(board, 'private', 'scores');
  mkdirSync(out, { recursive: true, mode: 0o700 });
  mkdirSync(other, { recursive: true, mode: 0o700 });
  mkdirSync(join(board, 'hidden'), { mode: 0o700 });
  answers = join(board, 'hidden', 'public.csv');
  writeFileSync(answers, 'id,answer\n1,42\n', { mode: 0o600 });
  writeFileSync(join(board, 'hidden', 'private.csv'), 'id,answer\n2,SECRET-PRIVATE\n', { mode: 0o600 });
  secretFile = join(board, 'seed');
  writeFileSync(secretFile, '12345\n', { mode: 0o600 });
});

afterEach(() => {
  rmSync(home, { recursive: true, force: true });
});

const run = (c: FrozenCommand) => spawnSync(c.argv[0], c.argv.slice(1), { cwd: c.cwd, env: c.env, encoding: 'utf8' });
const sh = (script: string) => ['/bin/sh', '-c', script];

describe('frozenCommand (bubblewrap)', () => {
  it(
    'runs in the read-only snapshot, writes only its outputs, reads only ' +
      'its inputs (0600 files of the caller included)',
    () => {
      const c = frozenCommand(
        sh(
          [
            'pwd',
            'cat substrate.yaml >/dev/null && echo snapshot-readable',
            'touch ./x 2>/dev/null && echo wrote-snapshot || echo snapshot-read-only',
            `cat ${answers} ${secretFile}`,
            `cat ${join(home, 'leaderboard', 'c1', 'hidden', 'private.csv')} 2>/dev/null || echo other-answers-hidden`,
            `echo ok > ${out}/scores.json && echo wrote-output`,
            `(echo no > ${other}/scores.json) 2>/dev/null && echo wrote-other || echo other-not-writable`,
            `ls ${join(home, 'sandboxes')} 2>/dev/null && echo sees-sandboxes || echo no-sandboxes`,
          ].join('; '),
        ),
        { home, snapshotPath, outputs: [out], inputs: [answers, secretFile] },
      );
      expect(c.argv[0]).toMatch(/bwrap$/);
      expect(c.cwd).toBe(snapshotPath);
      const r = run(c);
      expect(r.stderr).toBe('');
      expect(r.stdout.split('\n')).toEqual([
        snapshotPath,
        'snapshot-readable',
        'snapshot-read-only',
        'id,answer',
        '1,42',
        '12345',
        'other-answers-hidden',
        'wrote-output',
        'other-not-writable',
        'no-sandboxes',
        '',
      ]);
      expect(readFileSync(join(out, 'scores.json'), 'utf8')).toBe('ok\n');
      expect(existsSync(join(other, 'scores.json'))).toBe(false);
      expect(existsSync(join(snapshotPath, 'x'))).toBe(false);
    },
  );

  it('starts with the clean environment only and without network', () => {
    process.env.AEVO_FROZEN_TEST_LEAK = 'leak';
    try {
      const script =
        `console.log(JSON.stringify(Object.keys(process.env).sort())); require('net').connect(5432, ` +
        `'127.0.0.1').on('error', (e) => console.log(e.code)).on('connect', () => { ` +
        `console.log('connected'); process.exit(0); });`;
      const r = run(frozenCommand(['node', '-e', script], { home, snapshotPath, outputs: [out], inputs: [] }));
      const [keys, net] = r.stdout.trim().split('\n');
      // bubblewrap sets PWD for its --chdir; nothing of the caller's environment gets in.
      expect(JSON.parse(keys)).toEqual([...Object.keys(SANDBOX_BASE_ENV), 'PWD'].sort());
      expect(net).toBe('ECONNREFUSED');
    } finally {
      delete process.env.AEVO_FROZEN_TEST_LEAK;
    }
  });

  it(
    'refuses paths that are relative, outside AEVO_HOME, in its ' + 'private directories or reached through a symlink',
    () => {
      const outside = mkdtempSync(join(tmpdir(), 'aevo-outside-'));
      try {
        symlinkSync(outside, join(home, 'leaderboard', 'link'));
        const bad = (over: object) => () =>
          frozenCommand(['true'], { home, snapshotPath, outputs: [out], inputs: [], ...over });
        expect(bad({ outputs: ['relative/dir'] })).toThrow(/outputs\.0: expected an absolute path/);
        expect(bad({ outputs: [outside] })).toThrow(/outputs\.0: expected a path inside AEVO_HOME/);
        expect(bad({ outputs: [join(home, 'leaderboard', 'link')] })).toThrow(
          /outputs\.0: .* resolves to .* through a symlink/,
        );
        expect(bad({ outputs: [join(home, 'leaderboard')], inputs: [join(home, 'snapshots')] })).toThrow(
          /inputs\.0: expected a path inside AEVO_HOME .* outside its snapshots/,
        );
        expect(bad({ inputs: [join(home, 'nope.csv')] })).toThrow(/inputs\.0: .*nope\.csv does not exist/);
        expect(bad({ outputs: [home] })).toThrow(/outputs\.0: expected a path inside AEVO_HOME/);
        mkdirSync(join(home, 'sandboxes', 'c1'), { recursive: true });
        expect(bad({ snapshotPath: join(home, 'sandboxes', 'c1') })).toThrow(
          /snapshotPath: expected a snapshot directory inside/,
        );
        expect(bad({ outputs: [join(home, 'sandboxes', 'c1')] })).toThrow(
          /outputs\.0: expected a path inside AEVO_HOME .* outside its snapshots, sandboxes/,
        );
      } finally {
        rmSync(outside, { recursive: true, force: true });
      }
    },
  );

  it('reports a bubblewrap that cannot run, naming the opt-out', () => {
    expect(() =>
      frozenCommand(['true'], { home, snapshotPath, outputs: [out], inputs: [], bwrapPath: join(home, 'no-bwrap') }),
    ).toThrow(/cannot run.*AEVO_UNSANDBOXED_JOBS/);
  });

  it('with the operator’s opt-out runs the command as is, in the snapshot, with the clean environment', () => {
    chmodSync(out, 0o700);
    const c = frozenCommand(['node', '-e', 'console.log(process.cwd())'], {
      home,
      snapshotPath,
      outputs: [out],
      inputs: [answers],
      unsandboxed: true,
      bwrapPath: '/nonexistent',
    });
    expect(c).toEqual({
      argv: ['node', '-e', 'console.log(process.cwd())'],
      env: { ...SANDBOX_BASE_ENV },
      cwd: snapshotPath,
    });
    expect(run(c).stdout.trim()).toBe(snapshotPath);
  });
});
