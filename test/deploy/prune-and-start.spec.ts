// What the service image would hold, checked without building it (no base image can be pulled here):
// deploy/images/service.Dockerfile runs `node tools/prune-service.mjs <service> /out` and `npm ci --omit=dev` in
// /out, then starts `node services/<service>/dist/main.js` from /out. This suite runs the same two steps into a
// temporary directory for every service, with no node_modules above it, and starts the service from there alone
// against the local PostgreSQL and nats-server (its own schema and stream). It proves, per service:
//  - the pruned lockfile is complete and consistent (`npm ci` refuses one that is not);
//  - every module the compiled code of the copied workspaces names resolves inside the pruned directory, including
//    the ones loaded lazily that a start does not touch (e.g. @kubernetes/client-node, loaded only by the
//    Kubernetes executor);
//  - the service starts and becomes ready from those files only: 200 from /readyz on AEVO_HEALTH_PORT (store, NATS,
//    consumers, migrations), the signal `aevo up` and the pods' readinessProbe wait for;
//  - no other service's code is in it, and no devDependency is installed;
//  - it writes nothing there: where the machine allows a private mount namespace (root here), each service runs with
//    its pruned directory bind-mounted read-only, as /app is in the pod (readOnlyRootFilesystem); its AEVO_HOME and
//    HOME are separate writable directories, as the pod's volumes are.
// Cost: a real `npm ci --omit=dev` (from the local npm cache, --prefer-offline) takes 10-40 s per service on this
// machine, so it runs for ONE service (the one with the most packages), and the suite checks that it installs exactly
// the package paths of the pruned lockfile. Every other service's lockfile is validated by `npm ci --dry-run` (npm's
// own check that package.json and lockfile agree) and its node_modules is materialised from those same lockfile
// paths by hard-linking the repository's installed copies (the same versions: the repository's lockfile is the
// source of both). Each service has its own directory holding only its own packages, so a package one service
// forgot cannot be supplied by another's. The services then start concurrently, as `aevo up` starts them.
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { createTestDb, createTestNatsNames, requireBuiltServices, type TestDb } from '@aevo/testkit';

const ROOT = path.resolve(__dirname, '..', '..');
const SERVICES = fs
  .readdirSync(path.join(ROOT, 'services'))
  .filter((s) => fs.existsSync(path.join(ROOT, 'services', s, 'package.json')))
  .sort();
const PRUNE = path.join(ROOT, 'tools/prune-service.mjs');
const devOnlyLockPaths = Object.entries(
  (
    JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean }>;
    }
  ).packages,
)
  .filter(([p, entry]) => p.startsWith('node_modules/') && entry.dev === true)
  .map(([p]) => p);

interface PruneReport {
  service: string;
  workspaces: string[];
  packages: string[];
  specifiers: Array<{ file: string; specifier: string }>;
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });

const readyz = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/readyz', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
  });

/**
 * Whether this machine lets the suite give a process a private mount namespace (root, or CAP_SYS_ADMIN): then each
 * service runs with its pruned directory mounted read-only, as the image's /app is under readOnlyRootFilesystem.
 */
function canMountReadOnly(): boolean {
  try {
    execFileSync(
      'unshare',
      ['--mount', 'sh', '-c', 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0"', os.tmpdir()],
      { stdio: 'ignore' },
    );
    return true;
  } catch {
    return false;
  }
}
const READ_ONLY = canMountReadOnly();

/**
 * Starts the service from `dir` with only `env` (its directory read-only where READ_ONLY); resolves once /readyz
 * answers 200, rejects with its output. unshare and sh exec in place, so signals reach node itself.
 */
async function startUntilReady(
  dir: string,
  service: string,
  env: NodeJS.ProcessEnv,
  healthPort: number,
  deadlineMs: number,
  main = path.join('services', service, 'dist', 'main.js'),
): Promise<string> {
  const [command, args]: [string, string[]] = READ_ONLY
    ? [
        'unshare',
        [
          '--mount',
          'sh',
          '-c',
          'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && cd "$0" && exec "$1" "$2"',
          dir,
          process.execPath,
          main,
        ],
      ]
    : [process.execPath, [main]];
  const child = spawn(command, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let exited: string | null = null;
  child.stdout.on('data', (d: Buffer) => (output += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (output += d.toString('utf8')));
  const gone = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = signal ?? `code ${code}`;
      resolve();
    }),
  );
  try {
    const deadline = Date.now() + deadlineMs;
    while (Date.now() < deadline) {
      if (exited !== null)
        throw new Error(`${service} exited (${exited}) before it was ready:\n${output.slice(-4000)}`);
      if (await readyz(healthPort)) return '/readyz';
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`${service} not ready within ${deadlineMs / 1000} s:\n${output.slice(-4000)}`);
  } finally {
    if (exited === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(killer);
    }
  }
}

interface LockEntry {
  link?: boolean;
  resolved?: string;
  optional?: boolean;
  dev?: boolean;
}

const NPM_FLAGS = [
  '--omit=dev',
  '--prefer-offline',
  '--ignore-scripts',
  '--no-audit',
  '--no-fund',
  '--loglevel=error',
  '--cache',
  path.join(os.homedir(), '.npm'),
];

function lockPackagePaths(dir: string): Array<[string, LockEntry]> {
  const lock = JSON.parse(fs.readFileSync(path.join(dir, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockEntry>;
  };
  return Object.entries(lock.packages).filter(([p]) => p.startsWith('node_modules/') || p.includes('/node_modules/'));
}

/**
 * Hard-links `from` into `to` (files linked, directories made, symlinks re-made), leaving out `skip` children of
 * `from`.
 */
function linkTree(from: string, to: string, skip: ReadonlySet<string> = new Set()): void {
  fs.mkdirSync(to, { recursive: true });
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    if (skip.has(entry.name)) continue;
    const src = path.join(from, entry.name);
    const dst = path.join(to, entry.name);
    if (entry.isDirectory()) linkTree(src, dst);
    else if (entry.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(src), dst);
    else fs.linkSync(src, dst);
  }
}

/** node_modules of the pruned lockfile in `dir`, from the repository's installed copies of the same paths. */
function materialiseFromLock(dir: string): void {
  for (const [p, entry] of lockPackagePaths(dir)) {
    const target = path.join(dir, p);
    if (entry.link) {
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.symlinkSync(path.relative(path.dirname(target), path.join(dir, entry.resolved ?? '')), target);
      continue;
    }
    const source = path.join(ROOT, p);
    if (!fs.existsSync(source)) {
      if (entry.optional) continue; // another platform's optional build: npm skips it too
      throw new Error(`${p} is in the pruned lockfile but not installed in the repository: run npm ci at the root`);
    }
    // Nested node_modules are lockfile paths of their own: linked only when the pruned lockfile keeps them.
    linkTree(source, target, new Set(['node_modules']));
  }
}

/** Lockfile package paths that exist as installed packages under `dir`. */
const installedLockPaths = (dir: string, paths: string[]): string[] =>
  paths.filter((p) => fs.existsSync(path.join(dir, p, 'package.json'))).sort();

describe('service image contents: prune, install production dependencies, start', () => {
  let work: string;
  let db: TestDb;
  const nats = createTestNatsNames();
  const reports = new Map<string, PruneReport>();
  const ready = new Map<string, Promise<string>>();
  let realInstall: { service: string; expected: string[]; installed: string[] };

  beforeAll(async () => {
    requireBuiltServices(ROOT, SERVICES);
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'aevo-prune-'));
    // The proof needs Node's module lookup to find nothing outside the pruned directories.
    for (let d = path.dirname(work); ; d = path.dirname(d)) {
      if (fs.existsSync(path.join(d, 'node_modules')))
        throw new Error(`${d}/node_modules exists: the pruned directories under ${work} could resolve modules from it`);
      if (path.dirname(d) === d) break;
    }
    db = await createTestDb('aevo_prune');

    const npmEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work, NO_COLOR: '1' };
    for (const service of SERVICES) {
      const dir = path.join(work, service);
      reports.set(
        service,
        JSON.parse(
          execFileSync(process.execPath, [PRUNE, service, dir, '--json'], {
            encoding: 'utf8',
            stdio: ['ignore', 'pipe', 'pipe'],
          }),
        ) as PruneReport,
      );
    }
    const biggest = [...reports.values()].sort(
      (a, b) => b.packages.length - a.packages.length || (a.service < b.service ? -1 : 1),
    )[0].service;
    for (const service of SERVICES) {
      const dir = path.join(work, service);
      if (service === biggest) {
        execFileSync('npm', ['ci', ...NPM_FLAGS], { cwd: dir, env: npmEnv, stdio: 'pipe' });
        const expected = lockPackagePaths(dir)
          .filter(([p, e]) => !e.link && fs.existsSync(path.join(ROOT, p)))
          .map(([p]) => p)
          .sort();
        realInstall = { service, expected, installed: installedLockPaths(dir, expected) };
      } else {
        execFileSync('npm', ['ci', '--dry-run', ...NPM_FLAGS], { cwd: dir, env: npmEnv, stdio: 'pipe' });
        materialiseFromLock(dir);
      }
    }

    for (const service of SERVICES) {
      const home = path.join(work, `${service}-home`);
      fs.mkdirSync(home);
      const healthPort = await freePort();
      const env = {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: home,
        NO_COLOR: '1',
        AEVO_DATABASE_URL: db.url,
        AEVO_DB_SCHEMA: db.schema,
        AEVO_NATS_URL: nats.url,
        AEVO_SUBJECT_PREFIX: nats.subjectPrefix,
        AEVO_STREAM: nats.stream,
        AEVO_HOME: home,
        AEVO_HEALTH_PORT: String(healthPort),
        AEVO_HEALTH_HOST: '127.0.0.1',
        AEVO_API_PORT: '0',
      };
      const started = startUntilReady(path.join(work, service), service, env, healthPort, 120_000);
      started.catch(() => undefined); // awaited by the service's own test
      ready.set(service, started);
    }
  });

  afterAll(async () => {
    await Promise.allSettled([...ready.values()]);
    if (work) fs.rmSync(work, { recursive: true, force: true });
    await db?.drop();
    const nc = await connect({ servers: nats.url });
    await (await jetstreamManager(nc)).streams.delete(nats.stream).catch(() => undefined);
    await nc.close();
  });

  it('refuses an unknown service, naming the known ones', () => {
    let message = '';
    try {
      execFileSync(process.execPath, [PRUNE, 'no-such-service', path.join(work, 'x')], { stdio: 'pipe' });
    } catch (err) {
      message = String((err as { stderr?: Buffer }).stderr ?? err);
    }
    expect(message).toContain('unknown service "no-such-service"');
    expect(message).toContain('orchestrator');
  });

  it('is what deploy/images/service.Dockerfile runs: the same prune, the same install, the same entry point', () => {
    const dockerfile = fs.readFileSync(path.join(ROOT, 'deploy/images/service.Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/RUN node tools\/prune-service\.mjs "\$\{SERVICE\}" \/out/);
    expect(dockerfile).toMatch(/npm ci --omit=dev --ignore-scripts/);
    expect(dockerfile).toMatch(/COPY --from=prune [^\n]*\/out \/app/);
    expect(dockerfile).toContain('exec node \\"services/${AEVO_SERVICE}/dist/main.js\\"');
    expect(dockerfile).toMatch(/^USER 10001:10001$/m);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["\/usr\/bin\/tini", "--"\]$/m);
  });

  it('npm ci --omit=dev installs exactly the pruned lockfile (checked on the service with the most packages)', () => {
    expect(realInstall.expected.length).toBeGreaterThan(50);
    expect(realInstall.installed).toEqual(realInstall.expected);
  });

  it("starts the store gateway from the orchestrator's pruned directory (the image its Deployment runs)", async () => {
    // deploy/k8s/base/control/services.yaml runs `node libs/eventstore/dist/store-gateway-main.js` in that image.
    const dir = path.join(work, 'orchestrator');
    const healthPort = await freePort();
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: path.join(work, 'orchestrator-home'),
      NO_COLOR: '1',
      AEVO_DATABASE_URL: db.url,
      AEVO_DB_SCHEMA: db.schema,
      AEVO_NATS_URL: nats.url,
      AEVO_SUBJECT_PREFIX: nats.subjectPrefix,
      AEVO_HEALTH_PORT: String(healthPort),
      AEVO_HEALTH_HOST: '127.0.0.1',
    };
    const main = path.join('libs', 'eventstore', 'dist', 'store-gateway-main.js');
    await expect(startUntilReady(dir, 'store-gateway', env, healthPort, 60_000, main)).resolves.toBe('/readyz');
  });

  describe.each(SERVICES)('%s', (service) => {
    it('holds only its own code, no development package, and every module its code names resolves there', () => {
      const dir = path.join(work, service);
      const report = reports.get(service)!;
      expect(fs.readdirSync(path.join(dir, 'services'))).toEqual([service]);
      expect(report.workspaces).toContain(`services/${service}`);
      expect(devOnlyLockPaths.filter((p) => fs.existsSync(path.join(dir, p)))).toEqual([]);
      const unresolved: string[] = [];
      for (const { file, specifier } of report.specifiers) {
        try {
          createRequire(path.join(dir, file)).resolve(specifier);
        } catch {
          unresolved.push(`${file}: ${specifier}`);
        }
      }
      expect(unresolved).toEqual([]);
    });

    it(
      `becomes ready started from its pruned directory alone` +
        `${READ_ONLY ? ', mounted read-only' : ' (this machine cannot mount it read-only)'}`,
      async () => {
        await expect(ready.get(service)).resolves.toBe('/readyz');
      },
    );
  });
});
