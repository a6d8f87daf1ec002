import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CommandFailed, UsageError } from './campaign-commands';
import { API_NAME, hostPort, LocalStack, reachable, REPO_ROOT, SERVICE_NAMES, type ServiceName } from './stack';
import { natsChosenByOperator, startUpNats, type UpNats } from './up-nats';

const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';
const LOCAL = new Set(['127.0.0.1', 'localhost', '::1']);

export interface UpOptions {
  home?: string;
  services?: string[];
  api: boolean;
  apiPort?: number;
  slots?: number;
  infra: boolean;
}

export interface UpIo {
  out: (line: string) => void;
  err: (line: string) => void;
  env: NodeJS.ProcessEnv;
  /** Resolves when the stack should stop (SIGINT/SIGTERM by default). */
  stopSignal: () => Promise<void>;
  root?: string;
}

export const homeOf = (env: NodeJS.ProcessEnv, home?: string, root = REPO_ROOT) =>
  path.resolve(home ?? env.AEVO_HOME ?? path.join(root, '.aevo'));
export const upStateFile = (home: string) => path.join(home, 'aevo-up.json');

/**
 * PostgreSQL and NATS reachable, or started with tools/ensure-infra.sh when they are local and down. `withNats`
 * false: NATS is `aevo up`'s own server (started separately), only PostgreSQL is checked.
 */
export async function ensureInfra(
  env: NodeJS.ProcessEnv,
  io: Pick<UpIo, 'out'>,
  root: string,
  start: boolean,
  withNats = true,
): Promise<void> {
  const pg = hostPort(env.AEVO_DATABASE_URL ?? DEFAULT_DATABASE_URL, 5432);
  const nats = hostPort(env.AEVO_NATS_URL ?? DEFAULT_NATS_URL, 4222);
  const down = async () => [
    ...((await reachable(pg.host, pg.port)) ? [] : [`PostgreSQL ${pg.host}:${pg.port}`]),
    ...(!withNats || (await reachable(nats.host, nats.port)) ? [] : [`NATS ${nats.host}:${nats.port}`]),
  ];
  let missing = await down();
  if (missing.length === 0) return;
  const script = path.join(root, 'tools', 'ensure-infra.sh');
  if (!start || !LOCAL.has(pg.host) || !LOCAL.has(nats.host) || !fs.existsSync(script))
    throw new CommandFailed(
      `not reachable: ${missing.join(', ')}${start ? '' : ' (--no-infra)'}; start them or set ` +
        `AEVO_DATABASE_URL / AEVO_NATS_URL`,
      3,
    );
  io.out(`aevo up: ${missing.join(' and ')} not reachable; running tools/ensure-infra.sh`);
  const r = spawnSync('bash', [script], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  missing = await down();
  if (r.status !== 0 || missing.length > 0)
    throw new CommandFailed(`tools/ensure-infra.sh could not start ${missing.join(', ') || 'the infrastructure'}`, 3);
}

/**
 * `aevo up`: every service (and the api) as child processes of this one, logs in `<AEVO_HOME>/logs/<service>.log`,
 * until SIGINT/SIGTERM, which stops them all. Writes `<AEVO_HOME>/aevo-up.json` (pids) for `aevo down`.
 */
export async function up(o: UpOptions, io: UpIo): Promise<number> {
  const root = io.root ?? REPO_ROOT;
  const known = [...SERVICE_NAMES, API_NAME] as string[];
  const bad = (o.services ?? []).filter((s) => !known.includes(s));
  if (bad.length > 0)
    throw new UsageError(`--services: unknown service(s) ${bad.join(', ')} (known: ${known.join(', ')})`);
  const services = (o.services ?? [...SERVICE_NAMES]).filter((s) => s !== API_NAME) as ServiceName[];
  if (o.api) services.push(API_NAME);
  const home = homeOf(io.env, o.home, root);
  fs.mkdirSync(home, { recursive: true });
  const stateFile = upStateFile(home);
  if (fs.existsSync(stateFile)) {
    const prev = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as { pid: number };
    if (alive(prev.pid))
      throw new CommandFailed(`aevo up is already running for ${home} (pid ${prev.pid}); stop it with aevo down`, 1);
  }
  // Without a NATS server chosen by the operator, the control plane gets its own, with authorization.
  const ownNats = !natsChosenByOperator(io.env);
  await ensureInfra(io.env, io, root, o.infra, !ownNats);
  let nats: UpNats | null = null;
  if (ownNats) {
    nats = await startUpNats(io.env, home);
    io.out(
      `aevo up: nats-server with authorization at ${nats.url} (credentials ${nats.credentialsDir}; log ` +
        `${nats.logFile})`,
    );
  }
  const env: NodeJS.ProcessEnv = {
    ...io.env,
    ...(nats ? { AEVO_NATS_URL: nats.url, AEVO_NATS_CREDENTIALS_DIR: nats.credentialsDir } : {}),
    AEVO_HOME: home,
    AEVO_ROOT: io.env.AEVO_ROOT ?? root,
    AEVO_SUBSTRATE_ROOT: io.env.AEVO_SUBSTRATE_ROOT ?? root,
    AEVO_CONSTITUTIONS_ROOT: io.env.AEVO_CONSTITUTIONS_ROOT ?? root,
    ...(o.apiPort !== undefined ? { AEVO_API_PORT: String(o.apiPort) } : {}),
    ...(o.slots !== undefined ? { AEVO_LOCAL_SLOTS: String(o.slots) } : {}),
  };
  const logDir = path.join(home, 'logs');
  const stack = new LocalStack({ root, env, logDir, services, onNews: (l) => io.out(`aevo up: ${l}`) });
  const missing = stack.missingBuilds();
  if (missing.length > 0) {
    await nats?.stop();
    throw new CommandFailed(`not built: ${missing.join('; ')} — run npm run build`, 3);
  }
  await stack.start();
  const natsState = nats ? { nats: { url: nats.url, credentialsDir: nats.credentialsDir } } : {};
  fs.writeFileSync(
    stateFile,
    JSON.stringify(
      { pid: process.pid, home, started: new Date().toISOString(), services: stack.pids(), ...natsState },
      null,
      2,
    ),
  );
  const stop = io.stopSignal();
  let stopped = false;
  void stop.then(() => (stopped = true));
  try {
    await Promise.race([stack.waitReady(180_000), stop]);
    if (!stopped) {
      const url = apiUrl(stack);
      io.out(`aevo up: ${services.length} service(s) ready (${services.join(', ')})`);
      for (const n of services) io.out(`  ${n.padEnd(13)} pid ${String(stack.pid(n)).padEnd(8)} ${stack.logPath(n)}`);
      if (url) io.out(`aevo up: dashboard ${url}`);
      io.out(`aevo up: stop with Ctrl-C or \`aevo down\` (AEVO_HOME=${home})`);
      fs.writeFileSync(
        stateFile,
        JSON.stringify(
          {
            pid: process.pid,
            home,
            started: new Date().toISOString(),
            services: stack.pids(),
            dashboard: url,
            ...natsState,
          },
          null,
          2,
        ),
      );
      await stop;
    }
  } catch (err) {
    io.err(`aevo up: ${(err as Error).message}`);
    await stack.stop();
    await nats?.stop();
    fs.rmSync(stateFile, { force: true });
    return 3;
  }
  io.out('aevo up: stopping…');
  const outcomes = await stack.stop();
  await nats?.stop(); // after the services: they drain their connections first
  fs.rmSync(stateFile, { force: true });
  io.out(
    `aevo up: stopped (${Object.entries(outcomes)
      .map(([n, s]) => `${n} ${s}`)
      .join(', ')})`,
  );
  return 0;
}

function apiUrl(stack: LocalStack): string | null {
  try {
    // eslint-disable-next-line no-control-regex
    const text = fs.readFileSync(stack.logPath(API_NAME), 'utf8').replace(/\x1b\[[0-9;]*m/g, '');
    const m = [...text.matchAll(/dashboard at (\S+)/g)].pop();
    return m ? m[1] : null;
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** `aevo down`: SIGTERM to the `aevo up` of this AEVO_HOME, then waits until it (and so its services) stopped. */
export async function down(
  o: { home?: string; timeoutMs: number },
  io: Pick<UpIo, 'out' | 'env' | 'root'>,
): Promise<number> {
  const home = homeOf(io.env, o.home, io.root ?? REPO_ROOT);
  const stateFile = upStateFile(home);
  if (!fs.existsSync(stateFile)) {
    io.out(`aevo down: nothing running for ${home}`);
    return 0;
  }
  const { pid } = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as { pid: number };
  if (!alive(pid)) {
    fs.rmSync(stateFile, { force: true });
    io.out(`aevo down: aevo up (pid ${pid}) was not running any more`);
    return 0;
  }
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + o.timeoutMs;
  while (alive(pid)) {
    if (Date.now() > deadline)
      throw new CommandFailed(`aevo up (pid ${pid}) did not stop within ${Math.round(o.timeoutMs / 1000)} s`, 3);
    await new Promise((r) => setTimeout(r, 200));
  }
  io.out(`aevo down: stopped aevo up (pid ${pid}) and its services`);
  return 0;
}
