import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLI, ROOT } from './harness';

const run = (args: string[], env: NodeJS.ProcessEnv, timeoutMs = 120_000) =>
  new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout?.on('data', (d) => (out += String(d)));
    child.stderr?.on('data', (d) => (out += String(d)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });

/** `aevo up` / `aevo down` refusals: what a user sees when something cannot start. */
describe('e2e: aevo up refuses and reports', () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'aevo-e2e-up-'));
  afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

  it('names an unknown service (exit 2) and a service that keeps failing at start-up, with its log (exit 3)', async () => {
    const unknown = await run(['up', '--services', 'orchestrator,teleporter', '--home', home, '--no-infra'], {});
    expect(unknown.code).toBe(2);
    expect(unknown.out).toMatch(/--services: unknown service\(s\) teleporter/);

    // The worker refuses a bad setting at start-up; up restarts it, then gives up and stops.
    const failing = await run(['up', '--services', 'worker', '--no-api', '--home', home, '--no-infra'], { AEVO_WORKER_JOBS: 'carrier-pigeon' });
    expect(failing.code).toBe(3);
    expect(failing.out).toMatch(/failed to start: worker \(see .*logs\/worker\.log\)/);
    expect(fs.readFileSync(path.join(home, 'logs', 'worker.log'), 'utf8')).toMatch(/AEVO_WORKER_JOBS/);
    expect(fs.existsSync(path.join(home, 'aevo-up.json'))).toBe(false);
  });

  it('down with nothing running says so (exit 0)', async () => {
    const down = await run(['down', '--home', home], {});
    expect(down.code).toBe(0);
    expect(down.out).toMatch(/nothing running for/);
  });
});
