import * as fs from 'node:fs';
import * as path from 'node:path';
import type { IssueDetail } from '@aevo/contracts';
import { bwrapArgs, probeBubblewrap, SANDBOX_BASE_ENV, type SandboxProbe } from './bwrap';
import { IsolationRefused, type IsolationPlan } from './plan';

export interface FrozenCommandOptions {
  /** AEVO_HOME: every path below must lie inside it. */
  home: string;
  /** `<home>/snapshots/<snapshotId>`: the command's cwd, read-only. */
  snapshotPath: string;
  /** Existing directories the command may write (nothing else is writable). */
  outputs: readonly string[];
  /** Existing files or directories outside the snapshot it may read. */
  inputs: readonly string[];
  /** The operator's AEVO_UNSANDBOXED_JOBS opt-out: the command runs unconfined (still with a clean environment). */
  unsandboxed?: boolean;
  /** bubblewrap's path. Default AEVO_BWRAP or /usr/bin/bwrap. */
  bwrapPath?: string;
  /** Size of the private /tmp. Default 256 MiB. */
  tmpBytes?: number;
}

export interface FrozenCommand {
  argv: string[];
  env: Record<string, string>;
  /** The snapshot, resolved: where the command must be started. */
  cwd: string;
}

/** Directories of AEVO_HOME a frozen command never writes or reads besides its own snapshot (jobs' territory). */
const OFF_LIMITS = ['snapshots', 'sandboxes', 'logs', 'dispatch'];

const inside = (root: string, p: string) => p === root || p.startsWith(root + path.sep);
const strictlyInside = (root: string, p: string) => p.startsWith(root + path.sep);

const probes = new Map<string, SandboxProbe>();

/**
 * Wraps a command of a substrate's frozen harness (the leaderboard's generate and score) so it runs in bubblewrap
 * like a job: cwd the read-only snapshot, only `outputs` writable, only `inputs` readable besides it and the
 * system, no network, a clean environment. It runs as the caller's uid (mapped to nobody inside the user
 * namespace), so files the caller owns with mode 0600 stay readable once bound in. The harness is frozen, but what
 * it reads (predictions) comes from candidate code, and a harness that misbehaves must not reach other answers.
 */
export function frozenCommand(argv: readonly string[], opts: FrozenCommandOptions): FrozenCommand {
  const issues: IssueDetail[] = [];
  if (argv.length === 0 || argv[0] === '') issues.push({ path: 'argv', message: 'expected a command' });
  const home = realDir(opts.home);
  if (!home)
    throw new IsolationRefused(`frozen command refused: AEVO_HOME ${opts.home} is not a directory`, [
      { path: 'home', message: 'expected an existing directory' },
    ]);
  const offLimits = OFF_LIMITS.map((d) => path.join(home, d));
  const snapshots = path.join(home, 'snapshots');

  let snapshot: string | null = null;
  if (!path.isAbsolute(opts.snapshotPath))
    issues.push({ path: 'snapshotPath', message: `expected an absolute path, got ${opts.snapshotPath}` });
  else {
    snapshot = realDir(opts.snapshotPath);
    if (!snapshot) issues.push({ path: 'snapshotPath', message: `${opts.snapshotPath} is not a directory` });
    else if (!strictlyInside(snapshots, snapshot))
      issues.push({
        path: 'snapshotPath',
        message: `expected a snapshot directory inside ${snapshots}, got ${snapshot}`,
      });
  }

  const resolve = (raw: string, field: string, kind: 'dir' | 'any'): string | null => {
    if (!path.isAbsolute(raw)) {
      issues.push({ path: field, message: `expected an absolute path, got ${raw}` });
      return null;
    }
    let real: string;
    try {
      real = fs.realpathSync(raw);
    } catch {
      issues.push({ path: field, message: `${raw} does not exist` });
      return null;
    }
    if (kind === 'dir' && real !== path.resolve(raw)) {
      // A writable mount must be exactly the directory named: a symlink could point it at something else.
      issues.push({ path: field, message: `${raw} resolves to ${real} through a symlink` });
      return null;
    }
    if (kind === 'dir' && !fs.statSync(real).isDirectory()) {
      issues.push({ path: field, message: `${raw} is not a directory` });
      return null;
    }
    if (!strictlyInside(home, real) || offLimits.some((d) => inside(d, real) || inside(real, d))) {
      issues.push({
        path: field,
        message:
          `expected a path inside AEVO_HOME (${home}) outside its ${OFF_LIMITS.join(', ')} directories; ` +
          `${raw} resolves to ${real}`,
      });
      return null;
    }
    return real;
  };
  const outputs = opts.outputs.map((o, i) => resolve(o, `outputs.${i}`, 'dir')).filter((x): x is string => x !== null);
  const inputs = opts.inputs.map((o, i) => resolve(o, `inputs.${i}`, 'any')).filter((x): x is string => x !== null);
  if (issues.length > 0 || !snapshot)
    throw new IsolationRefused(
      `frozen command refused: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
      issues,
    );

  const env = { ...SANDBOX_BASE_ENV };
  if (opts.unsandboxed) return { argv: [...argv], env, cwd: snapshot };

  const bwrap = opts.bwrapPath ?? (process.env.AEVO_BWRAP || '/usr/bin/bwrap');
  let probe = probes.get(bwrap);
  if (!probe) {
    probe = probeBubblewrap(bwrap);
    if (probe.ok) probes.set(bwrap, probe); // a failure is probed again next time (the operator may fix it)
  }
  if (!probe.ok)
    throw new Error(
      `${probe.reason}. The frozen harness is run sandboxed; to run it unconfined set ` +
        `AEVO_UNSANDBOXED_JOBS as for dispatch`,
    );

  // The snapshot is the "sandbox": nothing is pinned over it, since it is the pristine copy itself.
  const plan: IsolationPlan = { home, sandbox: snapshot, snapshot, pinned: [], outputs, inputs };
  const args = bwrapArgs(plan, { env, tmpBytes: opts.tmpBytes ?? 256 * 1024 * 1024 });
  return { argv: [bwrap, ...args, '--', ...argv], env, cwd: snapshot };
}

function realDir(p: string): string | null {
  try {
    const real = fs.realpathSync(path.resolve(p));
    return fs.statSync(real).isDirectory() ? real : null;
  } catch {
    return null;
  }
}
