import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from '@aevo/testkit';
import { describeResult, runCommand } from './run-command';

jest.setTimeout(60_000);

describe('runCommand', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lb-run-'));

  it('logs output to the file only, with secrets redacted from the command line', async () => {
    const logFile = join(dir, 'a.log');
    const r = await runCommand(['node', '-e', 'console.log("out", process.argv[1]); console.error("err")', '123456789'], { cwd: dir, logFile, timeoutMs: 30_000, redact: ['123456789'] });
    expect(r).toEqual({ exitCode: 0, signal: null, timedOut: false });
    const log = readFileSync(logFile, 'utf8');
    expect(log.split('\n')[0]).toBe('$ node -e console.log("out", process.argv[1]); console.error("err") <redacted>');
    expect(log).toMatch(/out 123456789/);
    expect(log).toMatch(/err/);
  });

  it('kills the whole process group at the deadline', async () => {
    const logFile = join(dir, 'b.log');
    // The child forks a grandchild that would outlive a plain kill of the child.
    const pidFile = join(dir, 'grandchild.pid');
    const script = `const c = require("child_process").spawn("sleep", ["30"], {stdio: "ignore"}); require("fs").writeFileSync(${JSON.stringify(pidFile)}, String(c.pid)); setTimeout(() => {}, 30000)`;
    const r = await runCommand(['node', '-e', script], { cwd: dir, logFile, timeoutMs: 500 });
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
    await expect(runCommand(['/nonexistent/prog'], { cwd: dir, logFile: join(dir, 'c.log'), timeoutMs: 1000 })).rejects.toThrow(/cannot run \/nonexistent\/prog/);
  });
});
