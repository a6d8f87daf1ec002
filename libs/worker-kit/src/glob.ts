/**
 * Minimal POSIX-path glob matching for substrate.yaml's editable/frozen lists:
 * `*` (within one segment), `?`, `**` (any number of segments). Paths are sandbox-relative with "/".
 */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') {
      if (glob[i + 1] === '*') {
        const atSegmentStart = i === 0 || glob[i - 1] === '/';
        const followedBySlash = glob[i + 2] === '/';
        if (atSegmentStart && followedBySlash) {
          re += '(?:.*/)?';
          i += 2;
        } else if (atSegmentStart && i + 2 === glob.length && i > 0) {
          // "dir/**" also matches "dir" itself: drop the slash already emitted and make it optional.
          re = re.slice(0, -1) + '(?:/.*)?';
          i += 1;
        } else {
          re += '.*';
          i += 1;
        }
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

export class GlobSet {
  private readonly res: RegExp[];
  constructor(public readonly globs: readonly string[]) {
    this.res = globs.map(globToRegExp);
  }
  matches(relPath: string): boolean {
    return this.res.some((r) => r.test(relPath));
  }
}
