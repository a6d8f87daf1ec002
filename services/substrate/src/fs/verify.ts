import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ViolationKind } from '@aevo/contracts';
import { comparePaths, normaliseWithin, symlinkTargetWithin } from '@aevo/substrate-kit';
import { HashCache } from './hash';
import { loadedSnapshot, type SnapshotEntry, type SnapshotRecord } from './snapshot-store';

export interface Violation {
  path: string;
  kind: ViolationKind;
  detail: string;
}

export interface VerifyOptions {
  /** Sandbox-relative paths about to be used (checkpoints to evaluate): each must stay inside the sandbox. */
  paths?: readonly string[];
  hashCache?: HashCache;
  /**
   * Pinned path → sha256 from SubstrateSnapshotted. Pinned files are judged against these, not against the
   * record's hashes (the default, for callers without the event).
   */
  pins?: Readonly<Record<string, string>>;
}

interface Seen {
  rel: string;
  abs: string;
  st: fs.BigIntStats;
}

const short = (sha: string) => sha.slice(0, 12);
const typeOf = (st: fs.BigIntStats) =>
  st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'directory' : st.isFile() ? 'file' : 'special file';
const canonicalMode = (st: fs.BigIntStats) => ((Number(st.mode) & 0o111) !== 0 ? 0o755 : 0o644);
const inside = (root: string, abs: string) => abs === root || abs.startsWith(root + path.sep);
const defaultCache = new HashCache();

/**
 * Checks a sandbox against the snapshot it was forked from:
 *  - every pinned file (frozen, or in neither list) still has its snapshot type, mode and sha256 (hashes are cached
 *    by inode+ctime, so the shared base checkpoint is read once, not before every evaluation);
 *  - no new file sits under a frozen glob;
 *  - no new symlink resolves outside the sandbox or onto a pinned path;
 *  - no file that is not pinned is a hard link to a snapshot inode, to a file outside the sandbox, or (when one of
 *    its names is editable or pinned) to another file of the sandbox;
 *  - no device node exists, and every requested path stays inside.
 * Returns the violations sorted by path; an empty list means the sandbox is intact.
 */
export async function verifySandbox(
  sandboxPath: string,
  snapshot: SnapshotRecord,
  opts: VerifyOptions = {},
): Promise<Violation[]> {
  const cache = opts.hashCache ?? defaultCache;
  const { rules } = loadedSnapshot(snapshot);
  const violations: Violation[] = [];
  const add = (p: string, kind: ViolationKind, detail: string) => violations.push({ path: p, kind, detail });

  let rootStat: fs.Stats;
  try {
    rootStat = fs.lstatSync(sandboxPath);
  } catch {
    return [{ path: '.', kind: 'frozen-deleted', detail: `the sandbox directory ${sandboxPath} is gone` }];
  }
  if (!rootStat.isDirectory())
    return [
      {
        path: '.',
        kind: 'path-escape',
        detail: `the sandbox root was replaced by a ${rootStat.isSymbolicLink() ? 'symlink' : 'file'}`,
      },
    ];
  const root = fs.realpathSync(sandboxPath);

  const seen = new Map<string, Seen>();
  const walk = (absDir: string, relDir: string) => {
    for (const name of fs.readdirSync(absDir)) {
      const abs = path.join(absDir, name);
      const rel = relDir ? `${relDir}/${name}` : name;
      const st = fs.lstatSync(abs, { bigint: true });
      seen.set(rel, { rel, abs, st });
      if (st.isDirectory()) walk(abs, rel);
    }
  };
  walk(root, '');

  const snapByPath = new Map<string, SnapshotEntry>(snapshot.entries.map((e) => [e.path, e]));
  const pinnedFiles: Readonly<Record<string, string>> =
    opts.pins ??
    Object.fromEntries(
      snapshot.entries.filter((e) => e.type === 'file' && e.class !== 'editable').map((e) => [e.path, e.sha256]),
    );
  const pinnedLinks = snapshot.entries.filter((e) => e.type === 'symlink' && e.class !== 'editable');
  const pinnedPaths = [...Object.keys(pinnedFiles), ...pinnedLinks.map((e) => e.path)];
  const pinnedSet = new Set(pinnedPaths);
  const isPinned = (rel: string) => pinnedSet.has(rel);
  const inodeOf = (st: fs.BigIntStats) => `${st.dev}:${st.ino}`;
  /** Snapshot inode → the snapshot path that owns it. */
  const snapshotInodes = new Map<string, string>();
  for (const e of snapshot.entries) {
    if (e.type !== 'file') continue;
    snapshotInodes.set(inodeOf(fs.lstatSync(path.join(snapshot.snapshotPath, e.path), { bigint: true })), e.path);
  }

  // 1. Pinned symlinks keep their text; pinned files their type, mode and pinned content.
  for (const e of pinnedLinks) {
    const s = seen.get(e.path);
    if (!s) {
      add(e.path, 'frozen-deleted', `pinned symlink is missing (sha256 ${short(e.sha256)})`);
      continue;
    }
    if (!s.st.isSymbolicLink()) {
      add(e.path, 'frozen-modified', `pinned symlink was replaced by a ${typeOf(s.st)}`);
      continue;
    }
    const target = fs.readlinkSync(s.abs);
    if (target !== e.linkTarget) add(e.path, 'frozen-modified', `symlink retargeted from ${e.linkTarget} to ${target}`);
  }
  for (const [p, pinnedSha] of Object.entries(pinnedFiles).sort(([a], [b]) => comparePaths(a, b))) {
    const s = seen.get(p);
    if (!s) {
      add(p, 'frozen-deleted', `pinned file is missing (sha256 ${short(pinnedSha)})`);
      continue;
    }
    if (!s.st.isFile()) {
      add(p, 'frozen-modified', `pinned file was replaced by a ${typeOf(s.st)}`);
      continue;
    }
    const e = snapByPath.get(p);
    if (e && canonicalMode(s.st) !== e.mode)
      add(p, 'frozen-modified', `mode changed from ${e.mode.toString(8)} to ${canonicalMode(s.st).toString(8)}`);
    const sha = await cache.hash(s.abs);
    if (sha !== pinnedSha) {
      const shared = snapshotInodes.has(inodeOf(s.st));
      add(
        p,
        'frozen-modified',
        `content changed (sha256 ${short(sha)}, pinned ${short(pinnedSha)})` +
          (shared
            ? '; it was written through the hard link shared with the snapshot, so the snapshot copy is damaged too'
            : ''),
      );
    }
  }

  // 2. Everything else in the sandbox: new files under frozen globs, symlinks, hard links, device nodes.
  /** Inode → every sandbox path that names it, for files with more than one link. */
  const linksInside = new Map<string, string[]>();
  for (const s of seen.values()) {
    if (!s.st.isFile() || s.st.nlink < 2n) continue;
    const names = linksInside.get(inodeOf(s.st)) ?? [];
    names.push(s.rel);
    linksInside.set(inodeOf(s.st), names);
  }
  for (const s of seen.values()) {
    const snap = snapByPath.get(s.rel);
    if (isPinned(s.rel)) continue; // judged above
    if (s.st.isBlockDevice() || s.st.isCharacterDevice()) {
      add(s.rel, 'path-escape', 'device node inside the sandbox');
      continue;
    }
    if (s.st.isSymbolicLink()) {
      if (snap?.type === 'symlink' && fs.readlinkSync(s.abs) === snap.linkTarget) continue;
      checkSymlink(root, s, pinnedPaths, add);
      continue;
    }
    if (s.st.isFile()) {
      if (!snap && rules.frozen.matches(s.rel) && !rules.ignore.matches(s.rel))
        add(s.rel, 'frozen-added', `new file under frozen glob ${rules.frozen.matching(s.rel).join(', ')}`);
      checkHardLink(
        s,
        snapshotInodes.get(inodeOf(s.st)),
        linksInside.get(inodeOf(s.st)) ?? [],
        (rel) => isPinned(rel) || rules.editable.matches(rel),
        add,
      );
    }
  }

  // 3. Paths the caller is about to use.
  for (const requested of opts.paths ?? []) {
    const rel = normaliseWithin(requested);
    if (rel === null) {
      add(requested, 'path-escape', `requested path ${JSON.stringify(requested)} leaves the sandbox`);
      continue;
    }
    const real = realpathOfDeepestExisting(path.join(root, rel));
    if (!inside(root, real))
      add(
        requested,
        'path-escape',
        `requested path ${JSON.stringify(requested)} resolves outside the sandbox (${real})`,
      );
  }

  return violations.sort((a, b) => comparePaths(a.path, b.path) || (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0));
}

/**
 * A file that is not pinned must not share its inode with anything a write through it could damage. A write to an
 * editable path that is a hard link lands in every other name of the inode: the snapshot (and so every sandbox
 * forked from it) when it is a snapshot inode, a file outside the sandbox, or a pinned or editable file inside it.
 * Links only between job outputs (neither pinned nor editable) are let be: nothing edits outputs in place.
 */
function checkHardLink(
  s: Seen,
  snapshotPath: string | undefined,
  namesInside: readonly string[],
  guarded: (rel: string) => boolean,
  add: (p: string, k: ViolationKind, d: string) => void,
) {
  if (snapshotPath !== undefined) {
    add(
      s.rel,
      'path-escape',
      `hard link to the snapshot's ${snapshotPath} ` +
        '(a write to it would change the snapshot and every sandbox forked from it)',
    );
    return;
  }
  if (s.st.nlink < 2n) return;
  if (namesInside.length < Number(s.st.nlink)) {
    add(
      s.rel,
      'path-escape',
      `hard link to a file outside the sandbox (${s.st.nlink} links, ${namesInside.length} inside)`,
    );
    return;
  }
  const others = namesInside.filter((n) => n !== s.rel).sort(comparePaths);
  if (guarded(s.rel) || others.some(guarded))
    add(
      s.rel,
      'path-escape',
      `hard link shared with ${others.join(', ')} inside the sandbox ` +
        `(a write to one changes the other${others.length > 1 ? 's' : ''})`,
    );
}

function checkSymlink(
  root: string,
  s: Seen,
  pinnedPaths: readonly string[],
  add: (p: string, k: ViolationKind, d: string) => void,
) {
  const target = fs.readlinkSync(s.abs);
  let resolved = symlinkTargetWithin(s.rel, target);
  if (resolved === null) {
    add(s.rel, 'symlink-escape', `symlink points outside the sandbox (-> ${target})`);
    return;
  }
  try {
    // Follows chains (a link to a link to /etc) — the lexical check above only sees the first hop.
    const real = fs.realpathSync(s.abs);
    if (!inside(root, real)) {
      add(s.rel, 'symlink-escape', `symlink resolves outside the sandbox (-> ${target} -> ${real})`);
      return;
    }
    resolved = path.relative(root, real).split(path.sep).join('/');
  } catch {
    // dangling inside the sandbox: judge the lexical target
  }
  const intoPinned = pinnedPaths.find((p) => resolved === '' || p === resolved || p.startsWith(`${resolved}/`));
  if (intoPinned !== undefined)
    add(
      s.rel,
      'symlink-into-frozen',
      `symlink points at pinned ${resolved === intoPinned ? 'file' : 'directory'} ${resolved || '.'} (-> ${target})`,
    );
}

function realpathOfDeepestExisting(abs: string): string {
  let p = abs;
  const rest: string[] = [];
  for (;;) {
    try {
      return path.join(fs.realpathSync(p), ...rest.reverse());
    } catch {
      const parent = path.dirname(p);
      if (parent === p) return abs;
      rest.push(path.basename(p));
      p = parent;
    }
  }
}
