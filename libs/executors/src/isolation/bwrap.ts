import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { IsolationPlan } from './plan';

/** The uid and gid a job has inside its user namespace (`nobody`): it owns nothing it can see. */
export const JOB_UID = 65534;
export const JOB_GID = 65534;

/** The only environment a sandboxed job starts with, before what its spec names. */
export const SANDBOX_BASE_ENV: Readonly<Record<string, string>> = {
  PATH: '/usr/local/bin:/usr/bin:/bin',
  HOME: '/tmp',
  TMPDIR: '/tmp',
  LANG: 'C.UTF-8',
  PYTHONDONTWRITEBYTECODE: '1',
  PYTHONNOUSERSITE: '1',
};

/**
 * Files of /etc a job may read: the dynamic loader's cache, library alternatives (BLAS), name lookups for its own
 * uid, time zone and certificates. Nothing else of /etc (no shadow, no machine credentials).
 */
const ETC_FILES = [
  'ld.so.cache',
  'ld.so.conf',
  'ld.so.conf.d',
  'alternatives',
  'passwd',
  'group',
  'nsswitch.conf',
  'localtime',
  'hosts',
  'ssl',
  'os-release',
  'mime.types',
];

/** Top-level system directories: merged-/usr systems have them as symlinks into /usr, others as directories. */
const SYSTEM_DIRS = ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];

export interface BwrapOptions {
  /** The job's whole environment (bubblewrap clears its own first, so nothing of the caller's leaks in). */
  env?: Record<string, string>;
  /** Size of the private /tmp (a tmpfs, so it counts against memory). Default 1 GiB. */
  tmpBytes?: number;
  /** GPU device nodes to bind in (`/dev/nvidia*`), when the job holds a GPU slot. */
  gpuDevices?: string[];
  /** Extra read-only system paths (e.g. `/opt/conda`) an operator's images need. */
  extraSystemPaths?: string[];
}

/**
 * bubblewrap arguments that enclose a job: new user (uid/gid nobody, no capabilities), mount, pid, ipc, uts, cgroup
 * and network namespaces (no network at all: only a loopback inside); dies with its parent; a new session (no
 * terminal injection). It sees the system read-only, a private /tmp, /proc of its own pid namespace, a minimal
 * /dev, its sandbox read-only, the snapshot's pinned paths bound read-only over the sandbox's copies, its outputs
 * writable and its inputs read-only — and nothing else of AEVO_HOME.
 */
export function bwrapArgs(plan: IsolationPlan, opts: BwrapOptions = {}): string[] {
  const a: string[] = [
    '--unshare-user',
    '--unshare-ipc',
    '--unshare-pid',
    '--unshare-net',
    '--unshare-uts',
    '--unshare-cgroup-try',
    '--uid',
    String(JOB_UID),
    '--gid',
    String(JOB_GID),
    '--hostname',
    'aevo-job',
    '--die-with-parent',
    '--new-session',
    '--cap-drop',
    'ALL',
    '--ro-bind',
    '/usr',
    '/usr',
  ];
  a.push(...systemLinks());
  for (const f of ETC_FILES) a.push('--ro-bind-try', `/etc/${f}`, `/etc/${f}`);
  for (const p of opts.extraSystemPaths ?? []) a.push('--ro-bind-try', p, p);
  a.push('--ro-bind-try', '/sys/devices/system/cpu', '/sys/devices/system/cpu');
  // /tmp and /dev/shm are tmpfs (memory): both bounded, so a job cannot fill the machine's memory through them.
  const tmpBytes = String(opts.tmpBytes ?? 1024 ** 3);
  a.push(
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    '--size',
    tmpBytes,
    '--tmpfs',
    '/tmp',
    '--size',
    tmpBytes,
    '--tmpfs',
    '/dev/shm',
  );
  // Mount points under the writable /tmp (an AEVO_HOME in /tmp) get their parents on an empty tmpfs of their own,
  // made read-only below: otherwise `..` from the sandbox would be a writable directory, however private.
  const skeletons = skeletonsUnder('/tmp', [plan.sandbox, ...plan.outputs, ...plan.inputs]);
  for (const dir of skeletons) a.push('--size', String(1024 * 1024), '--tmpfs', dir);
  for (const dev of opts.gpuDevices ?? []) a.push('--dev-bind', dev, dev);
  if ((opts.gpuDevices ?? []).length > 0)
    a.push('--ro-bind-try', '/sys', '/sys', '--ro-bind-try', '/proc/driver/nvidia', '/proc/driver/nvidia');
  // Order matters: later mounts cover earlier ones. Sandbox read-only, then the pristine pinned paths over it,
  // then the writable outputs, then read-only inputs (which may sit outside the sandbox).
  a.push('--ro-bind', plan.sandbox, plan.sandbox);
  for (const p of plan.pinned) a.push('--ro-bind', path.join(plan.snapshot, p), path.join(plan.sandbox, p));
  for (const out of plan.outputs) a.push('--bind', out, out);
  for (const inp of plan.inputs) a.push('--ro-bind', inp, inp);
  // The new root is a tmpfs too: read-only once every mount point exists.
  for (const dir of skeletons) a.push('--remount-ro', dir);
  a.push('--remount-ro', '/', '--chdir', plan.sandbox, '--clearenv');
  for (const [k, v] of Object.entries(opts.env ?? {}).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)))
    a.push('--setenv', k, v);
  return a;
}

/** `<root>/<first component>` of every path strictly below `root`, each once. */
function skeletonsUnder(root: string, paths: readonly string[]): string[] {
  const out = new Set<string>();
  for (const p of paths) {
    if (!p.startsWith(`${root}/`)) continue;
    out.add(path.join(root, p.slice(root.length + 1).split('/')[0]));
  }
  return [...out].sort();
}

/**
 * Names a spec may set: no loader or interpreter hooks (LD_PRELOAD, PYTHONSTARTUP, NODE_OPTIONS…) that would run code
 * before the entrypoint.
 */
export function jobEnvProblems(env: Record<string, string>): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  for (const k of Object.keys(env)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
      out.push({ path: `env.${k}`, message: 'expected a variable name of letters, digits and "_"' });
    else if (
      new RegExp(
        '^(LD_|DYLD_)|^(PYTHONSTARTUP|PYTHONPATH|PYTHONHOME|PYTHONUSERBASE|' +
          'NODE_OPTIONS|NODE_PATH|BASH_ENV|ENV|PERL5OPT|PERL5LIB|RUBYOPT)$',
      ).test(k)
    )
      out.push({ path: `env.${k}`, message: `${k} would load code before the entrypoint runs; a job may not set it` });
  }
  return out;
}

/** `/dev/nvidia*` control devices plus the numbered devices of the GPUs a job holds (all of them when unknown). */
export function gpuDeviceNodes(gpus: readonly number[], devDir = '/dev'): string[] {
  if (gpus.length === 0) return [];
  let names: string[];
  try {
    names = fs.readdirSync(devDir).filter((n) => n.startsWith('nvidia'));
  } catch {
    return [];
  }
  return names
    .filter((n) => !/^nvidia\d+$/.test(n) || gpus.includes(Number(n.slice('nvidia'.length))))
    .map((n) => path.join(devDir, n))
    .sort();
}

export type SandboxProbe = { ok: true; bwrap: string; version: string } | { ok: false; bwrap: string; reason: string };

/**
 * Whether bubblewrap can make a sandbox here: it must exist and create a user namespace (some kernels and
 * container runtimes forbid unprivileged user namespaces). Checked once at start-up by running `true` inside.
 */
export function probeBubblewrap(bwrap = process.env.AEVO_BWRAP || '/usr/bin/bwrap'): SandboxProbe {
  let version: string;
  try {
    version = execFileSync(bwrap, ['--version'], {
      encoding: 'utf8',
      timeout: 10_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    }).trim();
  } catch (err) {
    return {
      ok: false,
      bwrap,
      reason: `${bwrap} cannot run (${(err as Error).message.split('\n')[0]}); install the Debian package bubblewrap`,
    };
  }
  try {
    execFileSync(
      bwrap,
      [
        '--unshare-user',
        '--unshare-pid',
        '--unshare-net',
        '--uid',
        String(JOB_UID),
        '--ro-bind',
        '/usr',
        '/usr',
        ...systemLinks(),
        '--proc',
        '/proc',
        '--dev',
        '/dev',
        '--',
        '/usr/bin/true',
      ],
      { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'], env: {} },
    );
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim();
    return {
      ok: false,
      bwrap,
      reason:
        `${bwrap} cannot create a sandbox here: ${stderr || (err as Error).message.split('\n')[0]} (are ` +
        `user namespaces enabled? see kernel.unprivileged_userns_clone / user.max_user_namespaces)`,
    };
  }
  return { ok: true, bwrap, version };
}

function systemLinks(): string[] {
  const out: string[] = [];
  for (const d of SYSTEM_DIRS) {
    try {
      const st = fs.lstatSync(d);
      if (st.isSymbolicLink()) out.push('--symlink', fs.readlinkSync(d), d);
      else if (st.isDirectory()) out.push('--ro-bind', d, d);
    } catch {
      /* absent */
    }
  }
  return out;
}
