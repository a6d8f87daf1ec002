/**
 * Globs of substrate.yaml (`editable`, `frozen`, `ignore`): POSIX paths relative to the substrate root.
 *
 *   `*`   any run of characters within one path segment (no "/")
 *   `?`   one character other than "/"
 *   `**`  as a whole segment: any number of segments (zero included), so `a/**` matches `a/x/y` and `a/**\/b`
 *         matches `a/b`; inside a segment (`a**`) it means `*`
 *
 * Leading dots are matched like any other character (a frozen `harness/**` must cover `harness/.env`).
 * Brace sets, character classes, negation and escapes are refused by `globProblems` so that every consumer
 * (this loader, the worker's file gate, the verifier) reads a pattern the same way.
 */

/** One step of a compiled pattern. `star` matches any string without "/", `any` any string at all. */
type Token = { kind: 'char'; c: string } | { kind: 'one' } | { kind: 'star' } | { kind: 'any' };

export interface CompiledGlob {
  pattern: string;
  regex: RegExp;
  /** Alternatives (a leading/middle/trailing `**` segment expands into "absent" and "present"). */
  alternatives: Token[][];
}

const UNSUPPORTED: Array<[RegExp, string]> = [
  [/[{}]/, 'brace sets ({a,b}) are not supported; list each pattern'],
  [/[[\]]/, 'character classes ([...]) are not supported'],
  [/\\/, 'backslashes are not allowed; paths use "/"'],
  [/^!/, 'negated patterns (!...) are not supported'],
];

/** Every reason a pattern is unusable; empty when it is fine. */
export function globProblems(pattern: string): string[] {
  const problems: string[] = [];
  if (pattern.length === 0) problems.push('expected a non-empty pattern');
  if (pattern.startsWith('/')) problems.push('expected a path relative to the substrate root (no leading "/")');
  if (pattern.includes('\0')) problems.push('pattern contains a NUL byte');
  const segments = pattern.split('/');
  if (segments.some((s) => s === '..')) problems.push('".." segments are not allowed');
  if (segments.some((s) => s === '.')) problems.push('"." segments are not allowed');
  if (pattern.includes('//')) problems.push('empty path segment ("//")');
  if (segments.filter((s) => s === '**').length > 6) problems.push('more than 6 "**" segments');
  if (pattern.endsWith('/')) problems.push('trailing "/" is not allowed; use "dir/**"');
  for (const [re, msg] of UNSUPPORTED) if (re.test(pattern)) problems.push(msg);
  return problems;
}

const cache = new Map<string, CompiledGlob>();

export function compileGlob(pattern: string): CompiledGlob {
  const hit = cache.get(pattern);
  if (hit) return hit;
  const problems = globProblems(pattern);
  if (problems.length > 0) throw new Error(`invalid glob ${JSON.stringify(pattern)}: ${problems.join('; ')}`);
  const alternatives = expandGlobstars(pattern.split('/'));
  const regex = new RegExp(`^(?:${alternatives.map(tokensToRegex).join('|')})$`, 's');
  const compiled = { pattern, regex, alternatives };
  cache.set(pattern, compiled);
  return compiled;
}

export function matchesGlob(pattern: string, relPath: string): boolean {
  return compileGlob(pattern).regex.test(relPath);
}

/**
 * Expands each whole-segment `**` into its two readings: absent (the segment and one adjacent "/" vanish) or
 * present (one or more whole segments). Both readings are plain token strings, which makes matching a regex and
 * overlap an exact automaton-product question.
 */
function expandGlobstars(segments: string[]): Token[][] {
  const results: Token[][] = [];
  const walk = (i: number, acc: Token[], needSlash: boolean) => {
    if (i === segments.length) {
      results.push(acc);
      return;
    }
    const seg = segments[i];
    const sep: Token[] = needSlash ? [{ kind: 'char', c: '/' }] : [];
    if (seg === '**') {
      // absent: contributes nothing, the next segment still needs its separator only if something came before
      walk(i + 1, acc, needSlash);
      // present: a non-empty run of whole segments — a first non-"/" character, then anything
      walk(i + 1, [...acc, ...sep, { kind: 'one' }, { kind: 'any' }], true);
      return;
    }
    walk(i + 1, [...acc, ...sep, ...segmentTokens(seg)], true);
  };
  walk(0, [], false);
  return dedupeAlternatives(results);
}

function segmentTokens(seg: string): Token[] {
  const out: Token[] = [];
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i];
    if (c === '*') {
      while (seg[i + 1] === '*') i++; // `a**b` inside a segment reads as `a*b`
      out.push({ kind: 'star' });
    } else if (c === '?') out.push({ kind: 'one' });
    else out.push({ kind: 'char', c });
  }
  return out;
}

function dedupeAlternatives(alts: Token[][]): Token[][] {
  const seen = new Set<string>();
  return alts.filter((a) => {
    const k = JSON.stringify(a);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function tokensToRegex(tokens: Token[]): string {
  return tokens
    .map((t) => {
      switch (t.kind) {
        case 'char':
          return t.c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
        case 'one':
          return '[^/]';
        case 'star':
          return '[^/]*';
        case 'any':
          return '.*';
      }
    })
    .join('');
}

/**
 * Whether some path is matched by both patterns (exact, not a heuristic): the product of the two token automata
 * is searched for an accepting run. Used to refuse editable and frozen lists that claim the same file even when
 * no such file exists yet (e.g. `pipeline/**` vs `pipeline/eval/**`, or `**\/*.py` vs `harness/**`).
 */
export function globsOverlap(a: string, b: string): boolean {
  const A = compileGlob(a).alternatives;
  const B = compileGlob(b).alternatives;
  return A.some((x) => B.some((y) => tokensIntersect(x, y)));
}

const isStar = (t: Token) => t.kind === 'star' || t.kind === 'any';

/** Can the single-character tokens x and y read the same character? (`one` reads any character but "/".) */
function charsMeet(x: Token, y: Token): boolean {
  if (x.kind === 'char' && y.kind === 'char') return x.c === y.c;
  if (x.kind === 'char') return x.c !== '/';
  if (y.kind === 'char') return y.c !== '/';
  return true;
}

/** Can a star token swallow the character read by the single-character token y? */
function starSwallows(star: Token, y: Token): boolean {
  if (star.kind === 'any') return true;
  return y.kind === 'char' ? y.c !== '/' : true;
}

function tokensIntersect(a: Token[], b: Token[]): boolean {
  const memo = new Map<number, boolean>();
  const f = (i: number, j: number): boolean => {
    const key = i * (b.length + 1) + j;
    const hit = memo.get(key);
    if (hit !== undefined) return hit;
    memo.set(key, false); // cycles (two stars swallowing each other) add nothing
    let r = false;
    if (i === a.length && j === b.length) r = true;
    else if (i < a.length && isStar(a[i]) && f(i + 1, j)) r = true;
    else if (j < b.length && isStar(b[j]) && f(i, j + 1)) r = true;
    else if (i < a.length && j < b.length) {
      const x = a[i];
      const y = b[j];
      if (isStar(x) && isStar(y)) r = f(i + 1, j) || f(i, j + 1);
      else if (isStar(x)) r = starSwallows(x, y) && f(i, j + 1);
      else if (isStar(y)) r = starSwallows(y, x) && f(i + 1, j);
      else r = charsMeet(x, y) && f(i + 1, j + 1);
    }
    memo.set(key, r);
    return r;
  };
  return f(0, 0);
}

/** A list of patterns; a path matches the set when it matches any of them. */
export class GlobSet {
  private readonly compiled: CompiledGlob[];
  constructor(readonly patterns: readonly string[]) {
    this.compiled = patterns.map(compileGlob);
  }
  matches(relPath: string): boolean {
    return this.compiled.some((g) => g.regex.test(relPath));
  }
  /** The patterns that match `relPath` (for error messages). */
  matching(relPath: string): string[] {
    return this.compiled.filter((g) => g.regex.test(relPath)).map((g) => g.pattern);
  }
}
