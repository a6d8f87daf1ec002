import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { GlobSet } from '@aevo/substrate-kit';

export type PathRefusalKind =
  | 'invalid'
  | 'absolute'
  | 'escape'
  | 'symlink'
  | 'frozen'
  | 'not-editable'
  | 'not-found'
  | 'too-large'
  | 'hard-link'
  | 'unsafe-name';

/** Characters that render as nothing (or reorder what follows), so a name can look like another one. */
const UNSAFE_CHAR = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Default_Ignorable_Code_Point}]/u;
const UNSAFE_CHARS = new RegExp(UNSAFE_CHAR.source, 'gu');
const hex = (cp: number) => cp.toString(16).toUpperCase().padStart(4, '0');

/** JSON-quotes a path with every unsafe character escaped, so a message shows the name as it is stored. */
export function printablePath(p: string): string {
  return JSON.stringify(p).replace(UNSAFE_CHARS, (c) => {
    const cp = c.codePointAt(0)!;
    return cp > 0xffff ? `\\u{${hex(cp)}}` : `\\u${hex(cp)}`;
  });
}

function describeUnsafe(cp: number): string {
  if (
    cp === 0x200e ||
    cp === 0x200f ||
    cp === 0x061c ||
    (cp >= 0x202a && cp <= 0x202e) ||
    (cp >= 0x2066 && cp <= 0x2069)
  )
    return 'a bidirectional control character, which makes a name display in another order than it is stored';
  if ((cp >= 0x200b && cp <= 0x200d) || cp === 0x2060 || cp === 0xfeff)
    return 'a zero-width character, invisible when displayed';
  if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) return 'a control character';
  if (cp >= 0xd800 && cp <= 0xdfff) return 'an unpaired surrogate, which has no file-name encoding';
  if (cp === 0x2028 || cp === 0x2029) return 'a line or paragraph separator';
  return 'an invisible format character';
}

/** A file operation the sandbox rules forbid. The runtime records it as a `path-refused` failure mode. */
export class PathRefusedError extends Error {
  readonly code = 'PATH_REFUSED';
  constructor(
    public readonly kind: PathRefusalKind,
    public readonly requested: string,
    detail: string,
  ) {
    super(`refused ${printablePath(requested)}: ${detail}`);
    this.name = 'PathRefusedError';
  }
}

export interface FileAccess {
  op: 'list' | 'read' | 'write';
  /** Absolute path actually touched (or that would have been). */
  absPath: string;
  ok: boolean;
}

export interface ListedFile {
  path: string;
  bytes: number;
  editable: boolean;
  frozen: boolean;
  symlink: boolean;
}

export interface SandboxRules {
  editable: readonly string[];
  frozen: readonly string[];
  /** Directories that hold job outputs (runs, prepared data); listed only when asked for explicitly. */
  outputDirs?: readonly string[];
  maxReadBytes?: number;
  maxWriteBytes?: number;
}

/**
 * The only door between a worker and the file system. Every path is sandbox-relative; absolute paths, `..`
 * segments and symlinks are refused before anything is touched, writes must match an editable glob and no
 * frozen glob, may not name invisible or bidi-control characters, and replace the file (never write in place)
 * unless it has other hard links, which are refused. Every access is logged so tests can prove a worker reads
 * nothing outside its sandbox.
 */
export class SandboxFiles {
  readonly root: string;
  private readonly editable: GlobSet;
  private readonly frozen: GlobSet;
  private readonly outputDirs: readonly string[];
  readonly accesses: FileAccess[] = [];

  constructor(
    sandboxPath: string,
    private readonly rules: SandboxRules,
  ) {
    this.root = fs.realpathSync(path.resolve(sandboxPath));
    this.editable = new GlobSet(rules.editable);
    this.frozen = new GlobSet(rules.frozen);
    this.outputDirs = rules.outputDirs ?? [];
  }

  isEditable(rel: string): boolean {
    return this.editable.matches(rel) && !this.frozen.matches(rel);
  }
  isFrozen(rel: string): boolean {
    return this.frozen.matches(rel);
  }

  /** Validates a requested path syntactically; returns the normalised relative path. */
  normalise(requested: unknown): string {
    if (typeof requested !== 'string' || requested.length === 0)
      throw new PathRefusedError('invalid', String(requested), 'expected a non-empty sandbox-relative path');
    if (requested.includes('\0')) throw new PathRefusedError('invalid', requested, 'path contains a NUL byte');
    if (path.isAbsolute(requested) || /^[A-Za-z]:[\\/]/.test(requested) || requested.startsWith('~'))
      throw new PathRefusedError(
        'absolute',
        requested,
        'absolute paths are not allowed; use a path relative to the sandbox',
      );
    const segments = requested.split(/[\\/]+/);
    if (segments.includes('..')) throw new PathRefusedError('escape', requested, '".." segments are not allowed');
    const rel = segments.filter((s) => s !== '' && s !== '.').join('/');
    if (rel === '') return '.';
    return rel;
  }

  /** Refuses the path if any existing component (including the last) is a symlink. */
  private assertNoSymlink(rel: string, requested: string, op: FileAccess['op']): void {
    if (rel === '.') return;
    let cur = this.root;
    for (const seg of rel.split('/')) {
      cur = path.join(cur, seg);
      let st: fs.Stats;
      try {
        st = fs.lstatSync(cur);
      } catch {
        return; // the rest does not exist yet
      }
      if (st.isSymbolicLink()) {
        this.accesses.push({ op, absPath: cur, ok: false });
        throw new PathRefusedError('symlink', requested, `${path.relative(this.root, cur)} is a symbolic link`);
      }
    }
  }

  read(
    requested: string,
    opts: { offset?: number; limit?: number } = {},
  ): { path: string; content: string; bytes: number; truncated: boolean } {
    const rel = this.normalise(requested);
    this.assertNoSymlink(rel, requested, 'read');
    const abs = path.join(this.root, rel);
    let st: fs.Stats;
    try {
      st = fs.statSync(abs);
    } catch {
      this.accesses.push({ op: 'read', absPath: abs, ok: false });
      throw new PathRefusedError('not-found', requested, 'no such file in the sandbox');
    }
    if (!st.isFile()) throw new PathRefusedError('invalid', requested, 'not a regular file');
    const max = this.rules.maxReadBytes ?? 64 * 1024;
    const offset = Math.max(0, opts.offset ?? 0);
    const limit = Math.min(max, opts.limit ?? max);
    const fd = fs.openSync(abs, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      const buf = Buffer.alloc(Math.max(0, Math.min(limit, st.size - offset)));
      fs.readSync(fd, buf, 0, buf.length, offset);
      this.accesses.push({ op: 'read', absPath: abs, ok: true });
      return { path: rel, content: buf.toString('utf8'), bytes: st.size, truncated: offset + buf.length < st.size };
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Reads a whole file for the runtime itself (recipe, outputs); same rules as `read`, no size cap. */
  readWhole(requested: string): string {
    const rel = this.normalise(requested);
    this.assertNoSymlink(rel, requested, 'read');
    const abs = path.join(this.root, rel);
    try {
      // O_NOFOLLOW: a symlink swapped in after the lstat walk is not followed out of the sandbox.
      const fd = fs.openSync(abs, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
      let content: string;
      try {
        content = fs.readFileSync(fd, 'utf8');
      } finally {
        fs.closeSync(fd);
      }
      this.accesses.push({ op: 'read', absPath: abs, ok: true });
      return content;
    } catch {
      this.accesses.push({ op: 'read', absPath: abs, ok: false });
      throw new PathRefusedError('not-found', requested, 'no such file in the sandbox');
    }
  }

  exists(requested: string): boolean {
    const rel = this.normalise(requested);
    return fs.existsSync(path.join(this.root, rel));
  }

  write(requested: string, content: string): { path: string; bytes: number; previous: string | null } {
    const rel = this.normalise(requested);
    if (rel === '.') throw new PathRefusedError('invalid', requested, 'expected a file path');
    this.assertSafeName(rel, requested);
    if (this.frozen.matches(rel))
      throw new PathRefusedError('frozen', requested, `matches a frozen path (${this.rules.frozen.join(', ')})`);
    if (!this.editable.matches(rel))
      throw new PathRefusedError(
        'not-editable',
        requested,
        `only these paths are editable: ${this.rules.editable.join(', ')}`,
      );
    this.assertNoSymlink(rel, requested, 'write');
    const max = this.rules.maxWriteBytes ?? 1024 * 1024;
    const bytes = Buffer.byteLength(content, 'utf8');
    if (bytes > max)
      throw new PathRefusedError('too-large', requested, `content is ${bytes} bytes, at most ${max} allowed`);
    const abs = path.join(this.root, rel);
    const previous = this.replace(rel, requested, abs, content, true);
    return { path: rel, bytes, previous };
  }

  /** Writes a runtime-owned file under an output directory (run recipe copies); never an editable or frozen path. */
  writeOutput(requested: string, content: string): void {
    const rel = this.normalise(requested);
    this.assertSafeName(rel, requested);
    if (!this.outputDirs.some((d) => rel.startsWith(`${d}/`)))
      throw new PathRefusedError('not-editable', requested, `runtime outputs live under ${this.outputDirs.join(', ')}`);
    if (this.frozen.matches(rel)) throw new PathRefusedError('frozen', requested, 'matches a frozen path');
    this.assertNoSymlink(rel, requested, 'write');
    this.replace(rel, requested, path.join(this.root, rel), content, false);
  }

  /** Refuses a name with a character that displays as nothing or reorders the text (Trojan-source style names). */
  private assertSafeName(rel: string, requested: string): void {
    for (const segment of rel.split('/')) {
      for (const ch of segment) {
        if (!UNSAFE_CHAR.test(ch)) continue;
        const cp = ch.codePointAt(0)!;
        throw new PathRefusedError(
          'unsafe-name',
          requested,
          `path component ${printablePath(segment)} contains U+${hex(cp)} (${describeUnsafe(cp)})`,
        );
      }
    }
  }

  /**
   * Replaces `abs` with a new inode holding `content`: written to a fresh temporary file in the same directory and
   * renamed over the old name. Never writing in place means a hard link planted at `abs` (to a snapshot inode, say)
   * keeps its bytes even if it appears after the checks below. A file that already has other links is refused
   * outright: every snapshot inode reachable from a sandbox has at least two (the snapshot's own and the link), so
   * this also covers those, and it tells the agent that something tampered with its sandbox.
   * Returns the previous content (when asked for), or null when the file is new.
   */
  private replace(rel: string, requested: string, abs: string, content: string, wantPrevious: boolean): string | null {
    let st: fs.Stats | null = null;
    try {
      st = fs.lstatSync(abs);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (st) {
      if (st.isSymbolicLink()) {
        this.accesses.push({ op: 'write', absPath: abs, ok: false });
        throw new PathRefusedError('symlink', requested, `${rel} is a symbolic link`);
      }
      if (!st.isFile()) throw new PathRefusedError('invalid', requested, 'not a regular file');
      if (st.nlink > 1) {
        this.accesses.push({ op: 'write', absPath: abs, ok: false });
        throw new PathRefusedError(
          'hard-link',
          requested,
          `${rel} has ${st.nlink} hard links (it may be the same file as a frozen or snapshot file); ` +
            `refusing to write it`,
        );
      }
    }
    let previous: string | null = null;
    if (st && wantPrevious) {
      let fd: number;
      try {
        fd = fs.openSync(abs, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
      } catch (err) {
        // Swapped for a symlink since the lstat: a refusal, not a crash of the tool call.
        if ((err as NodeJS.ErrnoException).code !== 'ELOOP') throw err;
        this.accesses.push({ op: 'write', absPath: abs, ok: false });
        throw new PathRefusedError('symlink', requested, `${rel} is a symbolic link`);
      }
      try {
        previous = fs.readFileSync(fd, 'utf8');
      } finally {
        fs.closeSync(fd);
      }
    }
    const dir = path.dirname(abs);
    fs.mkdirSync(dir, { recursive: true });
    // A directory swapped for a symlink after the lstat walk would put the new file elsewhere.
    if (fs.realpathSync(dir) !== dir) {
      this.accesses.push({ op: 'write', absPath: abs, ok: false });
      throw new PathRefusedError(
        'symlink',
        requested,
        `${path.relative(this.root, dir) || '.'} resolves through a symbolic link`,
      );
    }
    // Short fixed-length name: a long file name plus a suffix could exceed NAME_MAX.
    const tmp = path.join(dir, `.aevo-write-${randomBytes(8).toString('hex')}.tmp`);
    const fd = fs.openSync(
      tmp,
      fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW,
      0o600,
    );
    try {
      try {
        fs.writeFileSync(fd, content);
        // The replacement keeps the old file's permission bits (an executable pipeline script stays executable).
        fs.fchmodSync(fd, st ? st.mode & 0o777 : 0o644);
        if (st && (st.uid !== process.getuid?.() || st.gid !== process.getgid?.())) {
          try {
            fs.fchownSync(fd, st.uid, st.gid);
          } catch {
            // only root may give a file away; the content and mode are what matter
          }
        }
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, abs);
    } catch (err) {
      fs.rmSync(tmp, { force: true });
      throw err;
    }
    this.accesses.push({ op: 'write', absPath: abs, ok: true });
    return previous;
  }

  list(requested = '.', maxEntries = 400): { files: ListedFile[]; truncated: boolean } {
    const rel = this.normalise(requested);
    this.assertNoSymlink(rel, requested, 'list');
    const start = path.join(this.root, rel);
    this.accesses.push({ op: 'list', absPath: start, ok: true });
    const files: ListedFile[] = [];
    let truncated = false;
    const walk = (absDir: string) => {
      let entries: fs.Dirent[];
      try {
        entries = fs.readdirSync(absDir, { withFileTypes: true });
      } catch {
        throw new PathRefusedError('not-found', requested, 'no such directory in the sandbox');
      }
      entries.sort((a, b) => a.name.localeCompare(b.name));
      for (const e of entries) {
        if (files.length >= maxEntries) {
          truncated = true;
          return;
        }
        const abs = path.join(absDir, e.name);
        const r = path.relative(this.root, abs).split(path.sep).join('/');
        if (e.isDirectory()) {
          // Job outputs can hold thousands of files; they are listed only when asked for by name.
          if (rel === '.' && this.outputDirs.includes(r)) continue;
          walk(abs);
        } else {
          const st = fs.lstatSync(abs);
          files.push({
            path: r,
            bytes: st.size,
            editable: this.isEditable(r),
            frozen: this.isFrozen(r),
            symlink: st.isSymbolicLink(),
          });
        }
      }
    };
    walk(start);
    return { files, truncated };
  }
}
