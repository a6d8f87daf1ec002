import * as fs from 'node:fs';
import * as path from 'node:path';
import type { IssueDetail, JobSpec } from '@aevo/contracts';
import { DomainError } from '@aevo/contracts';
import { loadSubstrate, type LoadedSubstrate } from '@aevo/substrate-kit';

/**
 * What one job may touch, resolved against AEVO_HOME: the only input both executors build their boundary from
 * (bubblewrap mounts locally, volume mounts on Kubernetes). Every path is absolute and symlink-free.
 */
export interface IsolationPlan {
  home: string;
  sandbox: string;
  /** `<home>/snapshots/<snapshotId>`, read-only. */
  snapshot: string;
  /**
   * Sandbox-relative paths (whole directories where every file under them is pinned, else single files) that are
   * bound read-only from the snapshot over the sandbox's own copies: the job sees the pristine bytes whatever
   * happened to the sandbox's hard links.
   */
  pinned: string[];
  /** Writable directories (created by `prepareOutputs`). */
  outputs: string[];
  /** Read-only files or directories outside the sandbox. */
  inputs: string[];
}

/** A spec whose isolation cannot be honoured: nothing of it runs. `issues` name the fields. */
export class IsolationRefused extends DomainError {
  constructor(message: string, issues: IssueDetail[]) {
    super('ISOLATION_REFUSED', message, issues);
    this.name = 'IsolationRefused';
  }
}

/** Directories of AEVO_HOME no job may write into or read from, whatever its spec says. */
const PRIVATE_DIRS = ['snapshots', 'sandboxes', 'logs', 'dispatch'];

/**
 * The leaderboard's secrets: its seed and every campaign's hidden answers. Only the leaderboard's own scoring
 * commands see them (frozenCommand); a job spec naming them — a forged one — is refused, as input or output.
 */
function leaderboardSecret(home: string, abs: string): boolean {
  const rel = path.relative(path.join(home, 'leaderboard'), abs);
  if (rel.startsWith('..') || path.isAbsolute(rel)) return false; // outside the leaderboard's directory
  if (rel === '') return true; // the whole directory holds them
  const [first, second] = rel.split(path.sep);
  // `<campaign>` itself contains `hidden/`; a top-level file is the seed or the sealed private scores.
  return first === '.secret' || second === undefined || second === 'hidden' || second.startsWith('hidden.');
}

const inside = (root: string, p: string) => p === root || p.startsWith(root + path.sep);
const strictlyInside = (root: string, p: string) => p.startsWith(root + path.sep);

/** The pinned cover of a snapshot never changes (its id is its content), so it is computed once per directory. */
const coverCache = new Map<string, string[]>();

/**
 * The smallest set of snapshot paths covering every pinned (non-editable) entry: a directory when every file and
 * symlink below it is pinned, otherwise its pinned children one by one. Symlinks listed on their own are left out
 * (the sandbox, itself mounted read-only, holds the same link text, which verification checks).
 */
export function pinnedCover(snapshotDir: string, given?: LoadedSubstrate): string[] {
  const hit = coverCache.get(snapshotDir);
  if (hit) return hit;
  // Loaded only on a miss: parsing and walking a snapshot is most of a launch's planning cost.
  const loaded = given ?? loadSubstrate(snapshotDir);
  const editable = new Set(loaded.editableFiles);
  const children = new Map<string, { path: string; type: string }[]>();
  for (const e of loaded.entries) {
    const parent = e.path.includes('/') ? e.path.slice(0, e.path.lastIndexOf('/')) : '';
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent)!.push({ path: e.path, type: e.type });
  }
  const allPinned = new Map<string, boolean>();
  const pinnedDir = (dir: string): boolean => {
    const known = allPinned.get(dir);
    if (known !== undefined) return known;
    let ok = true;
    for (const c of children.get(dir) ?? []) {
      if (c.type === 'dir' ? !pinnedDir(c.path) : editable.has(c.path)) ok = false;
    }
    allPinned.set(dir, ok);
    return ok;
  };
  const out: string[] = [];
  const cover = (dir: string) => {
    for (const c of children.get(dir) ?? []) {
      if (c.type === 'dir') {
        if (pinnedDir(c.path)) out.push(c.path);
        else cover(c.path);
      } else if (c.type === 'file' && !editable.has(c.path)) out.push(c.path);
    }
  };
  cover('');
  coverCache.set(snapshotDir, out);
  return out;
}

function realDir(p: string): string | null {
  try {
    const real = fs.realpathSync(p);
    return fs.statSync(real).isDirectory() ? real : null;
  } catch {
    return null;
  }
}

/**
 * Resolves a spec's isolation against AEVO_HOME and refuses, naming the field, anything that would widen what the
 * job sees: a sandbox outside AEVO_HOME or inside its private directories, an unknown snapshot, an output that is
 * the sandbox itself, lies under a pinned path or in a private directory, an input that does not exist.
 */
export function planIsolation(spec: Pick<JobSpec, 'sandboxPath' | 'isolation'>, homeArg: string): IsolationPlan {
  const issues: IssueDetail[] = [];
  const home = realDir(path.resolve(homeArg));
  if (!home)
    throw new IsolationRefused(`AEVO_HOME ${homeArg} is not a directory`, [
      { path: 'home', message: 'expected an existing directory' },
    ]);
  const privateDirs = PRIVATE_DIRS.map((d) => path.join(home, d));

  const sandbox = realDir(spec.sandboxPath);
  if (!sandbox) issues.push({ path: 'sandboxPath', message: `${spec.sandboxPath} is not a directory` });
  else if (
    !strictlyInside(home, sandbox) ||
    privateDirs.some((d) => d !== path.join(home, 'sandboxes') && inside(d, sandbox)) ||
    sandbox === path.join(home, 'sandboxes')
  )
    issues.push({
      path: 'sandboxPath',
      message:
        `expected a sandbox directory inside AEVO_HOME (${home}), outside its snapshots, logs and dispatch ` +
        `directories; got ${sandbox}`,
    });

  const snapshot = realDir(path.join(home, 'snapshots', spec.isolation.snapshotId));
  if (!snapshot)
    issues.push({
      path: 'isolation.snapshotId',
      message: `no snapshot ${spec.isolation.snapshotId} in ${path.join(home, 'snapshots')}`,
    });
  let pinned: string[] = [];
  if (snapshot) {
    try {
      pinned = pinnedCover(snapshot);
    } catch (err) {
      issues.push({
        path: 'isolation.snapshotId',
        message: `snapshot ${spec.isolation.snapshotId} is not a valid substrate: ${(err as Error).message}`,
      });
    }
  }
  if (issues.length > 0 || !sandbox || !snapshot)
    throw new IsolationRefused(
      `job isolation refused: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
      issues,
    );

  const pinnedAbs = pinned.map((p) => path.join(sandbox, p));
  const outputs: string[] = [];
  spec.isolation.outputs.forEach((raw, i) => {
    const field = `isolation.outputs.${i}`;
    const abs = path.resolve(sandbox, raw);
    if (abs === sandbox || (!strictlyInside(sandbox, abs) && !strictlyInside(home, abs))) {
      issues.push({
        path: field,
        message: `expected a directory inside the sandbox or inside AEVO_HOME, not the sandbox itself; got ${raw}`,
      });
      return;
    }
    if (!strictlyInside(sandbox, abs) && privateDirs.some((d) => inside(d, abs) || inside(abs, d))) {
      issues.push({
        path: field,
        message: `${raw} is in (or contains) one of AEVO_HOME's private directories (${PRIVATE_DIRS.join(', ')})`,
      });
      return;
    }
    if (leaderboardSecret(home, abs)) {
      issues.push({ path: field, message: `${raw} is (or contains) the leaderboard's secret or hidden answers` });
      return;
    }
    const underPinned = pinnedAbs.find((p) => inside(p, abs) || inside(abs, p));
    if (underPinned !== undefined) {
      issues.push({ path: field, message: `${raw} overlaps the pinned path ${path.relative(sandbox, underPinned)}` });
      return;
    }
    outputs.push(abs);
  });
  const inputs: string[] = [];
  spec.isolation.inputs.forEach((raw, i) => {
    const field = `isolation.inputs.${i}`;
    let real: string;
    try {
      real = fs.realpathSync(path.resolve(sandbox, raw));
    } catch {
      issues.push({ path: field, message: `${raw} does not exist` });
      return;
    }
    if (!strictlyInside(home, real) || privateDirs.some((d) => inside(d, real)) || leaderboardSecret(home, real)) {
      issues.push({
        path: field,
        message: `expected a path inside AEVO_HOME outside its private directories; ${raw} resolves to ${real}`,
      });
      return;
    }
    inputs.push(real);
  });
  if (issues.length > 0)
    throw new IsolationRefused(
      `job isolation refused: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
      issues,
    );
  return { home, sandbox, snapshot, pinned, outputs, inputs };
}

/**
 * Creates each output directory (a job may only write what exists before it starts) and checks that no component of
 * it is a symlink that leads elsewhere — the directory must resolve to exactly the path the plan names.
 */
export function prepareOutputs(plan: IsolationPlan, owner?: { uid: number; gid: number }): void {
  for (const out of plan.outputs) {
    fs.mkdirSync(out, { recursive: true, mode: 0o755 });
    const real = fs.realpathSync(out);
    if (real !== out)
      throw new IsolationRefused(`output ${out} resolves to ${real} through a symlink`, [
        { path: 'isolation.outputs', message: `${out} resolves to ${real}` },
      ]);
    // A job on another slot (another uid) may have written here before (a retried prepare-data): hand it all over.
    if (owner) chownTree(out, owner.uid, owner.gid);
  }
}

function chownTree(p: string, uid: number, gid: number): void {
  const st = fs.lstatSync(p);
  if (st.uid !== uid || st.gid !== gid) fs.lchownSync(p, uid, gid);
  if (st.isDirectory()) for (const name of fs.readdirSync(p)) chownTree(path.join(p, name), uid, gid);
}

/** Whether a process of another uid can reach `p` (every ancestor searchable by others); bind sources must be. */
export function searchableByOthers(p: string): { ok: true } | { ok: false; blocking: string } {
  let dir = path.resolve(p);
  for (;;) {
    try {
      if ((fs.statSync(dir).mode & 0o001) === 0) return { ok: false, blocking: dir };
    } catch {
      return { ok: false, blocking: dir };
    }
    const parent = path.dirname(dir);
    if (parent === dir) return { ok: true };
    dir = parent;
  }
}
