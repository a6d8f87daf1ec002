import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { Client } from 'pg';
import { eventually } from '@aevo/testkit';
import { accepts, freePort } from '../chaos/harness/own-infra';
import { CLI, ROOT } from './harness';

const run = (args: string[], env: NodeJS.ProcessEnv, timeoutMs = 120_000) =>
  new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
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

  it(
    'names an unknown service (exit 2) and a service that keeps ' + 'failing at start-up, with its log (exit 3)',
    async () => {
      const unknown = await run(['up', '--services', 'orchestrator,teleporter', '--home', home, '--no-infra'], {});
      expect(unknown.code).toBe(2);
      expect(unknown.out).toMatch(/--services: unknown service\(s\) teleporter/);

      // The worker refuses a bad setting at start-up; up restarts it, then gives up and stops.
      const failing = await run(['up', '--services', 'worker', '--no-api', '--home', home, '--no-infra'], {
        AEVO_WORKER_JOBS: 'carrier-pigeon',
      });
      expect(failing.code).toBe(3);
      expect(failing.out).toMatch(/failed to start: worker \(see .*logs\/worker\.log\)/);
      expect(fs.readFileSync(path.join(home, 'logs', 'worker.log'), 'utf8')).toMatch(/AEVO_WORKER_JOBS/);
      expect(fs.existsSync(path.join(home, 'aevo-up.json'))).toBe(false);
    },
  );

  it(
    'without a NATS server chosen, runs its own with authorization: services and the ' +
      'CLI connect as their users, anonymous clients are refused',
    async () => {
      const ownHome = fs.mkdtempSync(path.join(os.tmpdir(), 'aevo-e2e-up-nats-'));
      const port = await freePort();
      const id = randomBytes(4).toString('hex');
      const env = {
        AEVO_NATS_URL: '',
        AEVO_NATS_CREDENTIALS_DIR: '',
        AEVO_NATS_CREDENTIALS_FILE: '',
        AEVO_UP_NATS_PORT: String(port),
        AEVO_HOME: ownHome,
        AEVO_DB_SCHEMA: `e2e_up_${id}`,
        AEVO_SUBJECT_PREFIX: `up${id}.aevo`,
        AEVO_STREAM: `UP_${id.toUpperCase()}`,
      };
      const child = spawn(process.execPath, [CLI, 'up', '--services', 'orchestrator', '--no-api', '--home', ownHome], {
        cwd: ROOT,
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout?.on('data', (d) => (out += String(d)));
      child.stderr?.on('data', (d) => (out += String(d)));
      const exited = new Promise((r) => child.once('exit', r));
      try {
        await eventually(
          () => {
            if (child.exitCode !== null) throw new Error(`aevo up exited ${child.exitCode}: ${out}`);
            return /service\(s\) ready/.test(out);
          },
          120_000,
          200,
        );
        expect(out).toContain(`nats-server with authorization at nats://127.0.0.1:${port}`);
        for (const f of fs.readdirSync(path.join(ownHome, 'nats', 'credentials')))
          expect(fs.statSync(path.join(ownHome, 'nats', 'credentials', f)).mode & 0o077).toBe(0);
        // Anonymous: refused by the server.
        const anonymous = await connect({ servers: `nats://127.0.0.1:${port}`, reconnect: false }).then(
          async (nc) => (await nc.close(), 'connected'),
          (err: Error) => err.message,
        );
        expect(anonymous).toMatch(/authorization violation/i);
        // A CLI command beside it reaches the orchestrator as the cli user: the orchestrator's own answer comes back.
        const pause = await run(['campaign', 'pause', 'no-such-campaign'], env);
        expect(pause.out).toMatch(/no-such-campaign/);
        expect(pause.out).not.toMatch(/cannot reach NATS|Authorization|NO_RESPONDERS|TIMEOUT/i);
      } finally {
        const down = await run(['down', '--home', ownHome], env);
        expect(down.code).toBe(0);
        await exited;
        fs.rmSync(ownHome, { recursive: true, force: true });
        const pg = new Client({
          connectionString: process.env.AEVO_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
        });
        await pg.connect();
        await pg.query(`DROP SCHEMA IF EXISTS "${env.AEVO_DB_SCHEMA}" CASCADE`);
        await pg.end();
      }
      // Its nats-server stopped with it.
      expect(await accepts(port)).toBe(false);
    },
  );

  it('down with nothing running says so (exit 0)', async () => {
    const down = await run(['down', '--home', home], {});
    expect(down.code).toBe(0);
    expect(down.out).toMatch(/nothing running for/);
  });
});
