import * as fs from 'node:fs';
import * as path from 'node:path';
import { GlobSet } from '@aevo/substrate-kit';

export type PathRefusalKind = 'invalid' | 'absolute' | 'escape' | 'symlink' | 'frozen' | 'not-editable' | 'not-found' | 'too-large';

/** A file operation the sandbox rules forbid. The runtime records it as a `path-refused` failure mode. */
export class PathRefusedError extends Error {
  readonly code = 'PATH_REFUSED';
  constructor(
    public readonly kind: PathRefusalKind,
    public readonly requested: string,
    detail: string,
  ) {
    super(`refused ${JSON.stringify(requested)}: ${detail}`);
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
 * frozen glob. Every access is logged so tests can prove a worker reads nothing outside its sandbox.
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
      throw new PathRefusedError('absolute', requested, 'absolute paths are not allowed; use a path relative to the sandbox');
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

  read(requested: string, opts: { offset?: number; limit?: number } = {}): { path: string; content: string; bytes: number; truncated: boolean } {
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
      const content = fs.readFileSync(abs, 'utf8');
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
    if (this.frozen.matches(rel)) throw new PathRefusedError('frozen', requested, `matches a frozen path (${this.rules.frozen.join(', ')})`);
    if (!this.editable.matches(rel))
      throw new PathRefusedError('not-editable', requested, `only these paths are editable: ${this.rules.editable.join(', ')}`);
    this.assertNoSymlink(rel, requested, 'write');
    const max = this.rules.maxWriteBytes ?? 1024 * 1024;
    const bytes = Buffer.byteLength(content, 'utf8');
    if (bytes > max) throw new PathRefusedError('too-large', requested, `content is ${bytes} bytes, at most ${max} allowed`);
    const abs = path.join(this.root, rel);
    let previous: string | null = null;
    try {
      previous = fs.readFileSync(abs, 'utf8');
    } catch {
      previous = null;
    }
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    // O_NOFOLLOW closes the window between the lstat walk and the open.
    const fd = fs.openSync(abs, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_NOFOLLOW, 0o644);
    try {
      fs.writeSync(fd, content);
    } finally {
      fs.closeSync(fd);
    }
    this.accesses.push({ op: 'write', absPath: abs, ok: true });
    return { path: rel, bytes, previous };
  }

  /** Writes a runtime-owned file under an output directory (run recipe copies); never an editable or frozen path. */
  writeOutput(requested: string, content: string): void {
    const rel = this.normalise(requested);
    if (!this.outputDirs.some((d) => rel.startsWith(`${d}/`))) throw new PathRefusedError('not-editable', requested, `runtime outputs live under ${this.outputDirs.join(', ')}`);
    if (this.frozen.matches(rel)) throw new PathRefusedError('frozen', requested, 'matches a frozen path');
    this.assertNoSymlink(rel, requested, 'write');
    const abs = path.join(this.root, rel);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    const fd = fs.openSync(abs, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_NOFOLLOW, 0o644);
    try {
      fs.writeSync(fd, content);
    } finally {
      fs.closeSync(fd);
    }
    this.accesses.push({ op: 'write', absPath: abs, ok: true });
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
          files.push({ path: r, bytes: st.size, editable: this.isEditable(r), frozen: this.isFrozen(r), symlink: st.isSymbolicLink() });
        }
      }
    };
    walk(start);
    return { files, truncated };
  }
}
