import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { secretValuesFromEnv } from '@aevo/executors';
import { eventually } from '@aevo/testkit';
import { describeResult, runCommand } from './run-command';

jest.setTimeout(60_000);

describe('runCommand', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lb-run-'));

  it('logs output to the file only, with secrets redacted from the command line', async () => {
    const logFile = join(dir, 'a.log');
    const r = await runCommand(
      ['node', '-e', 'console.log("out", process.argv[1]); console.error("err")', '123456789'],
      { cwd: dir, logFile, timeoutMs: 30_000, env: process.env, redact: ['123456789'] },
    );
    expect(r).toEqual({ exitCode: 0, signal: null, timedOut: false });
    const log = readFileSync(logFile, 'utf8');
    expect(log.split('\n')[0]).toBe(
      '$ node -e console.log("out", process.argv[1]); console.error("err") [redacted:secret]',
    );
    expect(log).toMatch(/out \[redacted:secret\]/);
    expect(log).toMatch(/err/);
    expect(log).not.toContain('123456789');
  });

  it('scrubs what the command prints: the seed in any encoding, configured secrets and token shapes', async () => {
    // Given a command that prints the seed it was given (plainly, in base64 and in hex, split over writes), a
    // configured secret of the leaderboard's environment and a token-shaped string, on both streams
    const seed = '281474976710655';
    const fakeSecret = 'fake-leaderboard-secret-0123456789';
    const token = 'sk-ant-api03-FakeFakeFake0123456789abcdef';
    const script = [
      'const s = process.argv[1];',
      'process.stdout.write("seed=" + s.slice(0, 5)); setTimeout(() => {',
      '  process.stdout.write(s.slice(5) + "\\n");',
      '  console.log("b64", Buffer.from(s).toString("base64"), "hex", Buffer.from(s).toString("hex"));',
      '  console.error("secret", process.env.AEVO_LEADERBOARD_SECRET, "token", process.argv[2]);',
      '  console.log("scored 0.8125 on 1234 rows");',
      '  process.stdout.write("no newline at the end " + s.slice(0, 8));',
      '}, 50);',
    ].join('\n');
    const logFile = join(dir, 'd.log');
    const saved = process.env.AEVO_LEADERBOARD_SECRET;
    process.env.AEVO_LEADERBOARD_SECRET = fakeSecret;
    let r: Awaited<ReturnType<typeof runCommand>> | undefined;
    try {
      // When it runs
      r = await runCommand(['node', '-e', script, seed, token], {
        cwd: dir,
        logFile,
        timeoutMs: 30_000,
        env: process.env,
        ownSecrets: secretValuesFromEnv(process.env), // as config.ts reads them
        redact: [seed],
      });
    } finally {
      if (saved === undefined) delete process.env.AEVO_LEADERBOARD_SECRET;
      else process.env.AEVO_LEADERBOARD_SECRET = saved;
    }
    // Then the log holds none of them, and the ordinary output
    expect(r?.exitCode).toBe(0);
    const log = readFileSync(logFile, 'utf8');
    for (const f of [
      seed,
      Buffer.from(seed).toString('base64'),
      Buffer.from(seed).toString('hex'),
      fakeSecret,
      token,
      seed.slice(0, 8),
    ])
      expect(log).not.toContain(f);
    expect(log).toContain('scored 0.8125 on 1234 rows');
    expect(log).toContain('seed=[redacted:secret]');
  });

  it('kills the whole process group at the deadline', async () => {
    const logFile = join(dir, 'b.log');
    // The child forks a grandchild that would outlive a plain kill of the child.
    const pidFile = join(dir, 'grandchild.pid');
    const script =
      `const c = require("child_process").spawn("sleep", ["30"], {stdio: "ignore"}); ` +
      `require("fs").writeFileSync(${JSON.stringify(pidFile)}, String(c.pid)); setTimeout(() => {}, 30000)`;
    // A deadline the child outlives, yet long enough for a loaded machine to start node and fork the grandchild.
    const r = await runCommand(['node', '-e', script], { cwd: dir, logFile, timeoutMs: 10_000, env: process.env });
    expect(r.timedOut).toBe(true);
    const grandchild = Number(readFileSync(pidFile, 'utf8'));
    await eventually(() => {
      try {
        process.kill(grandchild, 0);
        return false;
      } catch {
        return true; // ESRCH: gone
      }
    });
    expect(describeResult('leaderboard.score', r, logFile)).toBe(`leaderboard.score timed out (log: ${logFile})`);
  });

  it('reports a program that cannot start', async () => {
    await expect(
      runCommand(['/nonexistent/prog'], { cwd: dir, logFile: join(dir, 'c.log'), timeoutMs: 1000, env: process.env }),
    ).rejects.toThrow(/cannot run \/nonexistent\/prog/);
  });
});
