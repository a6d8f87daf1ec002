/**
 * Unified diff (the format `patch -p1` and `git apply` read) of two texts, computed with Myers' O(ND)
 * algorithm. Small and dependency-free: recipes and pipeline files are short.
 */

type Op = { kind: ' ' | '-' | '+'; line: string; noEol: boolean };

interface Lines {
  lines: string[];
  /** True when the text does not end with a newline (the last line gets "\ No newline at end of file"). */
  noFinalEol: boolean;
}

function splitLines(text: string): Lines {
  if (text === '') return { lines: [], noFinalEol: false };
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') {
    lines.pop();
    return { lines, noFinalEol: false };
  }
  return { lines, noFinalEol: true };
}

/** Myers' shortest edit script between a and b (line arrays). */
function myers(a: string[], b: string[]): Array<{ kind: ' ' | '-' | '+'; ai: number; bi: number }> {
  const n = a.length;
  const m = b.length;
  const max = n + m;
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  let found = false;
  for (let d = 0; d <= max && !found; d++) {
    trace.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      let x =
        k === -d || (k !== d && v[offset + k - 1] < v[offset + k + 1]) ? v[offset + k + 1] : v[offset + k - 1] + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) {
        found = true;
        break;
      }
    }
  }
  // Backtrack through the saved V arrays to recover the path.
  const script: Array<{ kind: ' ' | '-' | '+'; ai: number; bi: number }> = [];
  let x = n;
  let y = m;
  for (let d = trace.length - 1; d >= 0; d--) {
    const vd = trace[d];
    const k = x - y;
    const prevK = k === -d || (k !== d && vd[offset + k - 1] < vd[offset + k + 1]) ? k + 1 : k - 1;
    const prevX = d === 0 ? 0 : vd[offset + prevK];
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      script.push({ kind: ' ', ai: x - 1, bi: y - 1 });
      x--;
      y--;
    }
    if (d > 0) {
      if (x === prevX) script.push({ kind: '+', ai: x, bi: y - 1 });
      else script.push({ kind: '-', ai: x - 1, bi: y });
    }
    x = prevX;
    y = prevY;
  }
  return script.reverse();
}

export interface UnifiedDiffOptions {
  context?: number;
  /** Labels for the header lines; default "a/<path>" and "b/<path>". */
  fromLabel?: string;
  toLabel?: string;
}

/** Returns "" when the texts are equal. Creation/deletion use /dev/null labels as git does. */
export function unifiedDiff(
  path: string,
  before: string | null,
  after: string | null,
  opts: UnifiedDiffOptions = {},
): string {
  const ctx = opts.context ?? 3;
  if ((before ?? '') === (after ?? '') && (before === null) === (after === null)) return '';
  const A = splitLines(before ?? '');
  const B = splitLines(after ?? '');
  const raw = myers(A.lines, B.lines);
  const ops: Op[] = raw.map((s) => {
    if (s.kind === '+') return { kind: '+', line: B.lines[s.bi], noEol: B.noFinalEol && s.bi === B.lines.length - 1 };
    if (s.kind === '-') return { kind: '-', line: A.lines[s.ai], noEol: A.noFinalEol && s.ai === A.lines.length - 1 };
    return { kind: ' ', line: A.lines[s.ai], noEol: false, ai: s.ai, bi: s.bi } as Op;
  });
  // A common last line whose final-newline status differs must appear as a change.
  for (let i = 0; i < ops.length; i++) {
    const r = raw[i];
    if (r.kind !== ' ') continue;
    const aLast = A.noFinalEol && r.ai === A.lines.length - 1;
    const bLast = B.noFinalEol && r.bi === B.lines.length - 1;
    if (aLast !== bLast) {
      ops.splice(
        i,
        1,
        { kind: '-', line: A.lines[r.ai], noEol: aLast },
        { kind: '+', line: B.lines[r.bi], noEol: bLast },
      );
      raw.splice(i, 1, { kind: '-', ai: r.ai, bi: r.bi }, { kind: '+', ai: r.ai, bi: r.bi });
      i++;
    } else if (aLast) ops[i].noEol = true;
  }
  if (!ops.some((o) => o.kind !== ' ')) return '';

  // Positions (1-based line numbers in a and b) before each op.
  const aPos: number[] = [];
  const bPos: number[] = [];
  let ap = 1;
  let bp = 1;
  for (const o of ops) {
    aPos.push(ap);
    bPos.push(bp);
    if (o.kind !== '+') ap++;
    if (o.kind !== '-') bp++;
  }

  // Group changes into hunks with `ctx` lines of context, merging hunks whose contexts touch.
  const hunks: Array<[number, number]> = [];
  for (let i = 0; i < ops.length; i++) {
    if (ops[i].kind === ' ') continue;
    const start = Math.max(0, i - ctx);
    let end = i;
    while (end + 1 < ops.length) {
      let j = end + 1;
      while (j < ops.length && ops[j].kind === ' ' && j - end <= 2 * ctx) j++;
      if (j < ops.length && ops[j].kind !== ' ' && j - end <= 2 * ctx + 1) end = j;
      else break;
    }
    const stop = Math.min(ops.length - 1, end + ctx);
    hunks.push([start, stop]);
    i = stop;
  }

  const out: string[] = [];
  out.push(`--- ${before === null ? '/dev/null' : (opts.fromLabel ?? `a/${path}`)}`);
  out.push(`+++ ${after === null ? '/dev/null' : (opts.toLabel ?? `b/${path}`)}`);
  for (const [s, e] of hunks) {
    const slice = ops.slice(s, e + 1);
    const aCount = slice.filter((o) => o.kind !== '+').length;
    const bCount = slice.filter((o) => o.kind !== '-').length;
    const aStart = aCount === 0 ? aPos[s] - 1 : aPos[s];
    const bStart = bCount === 0 ? bPos[s] - 1 : bPos[s];
    out.push(`@@ -${aStart}${aCount === 1 ? '' : `,${aCount}`} +${bStart}${bCount === 1 ? '' : `,${bCount}`} @@`);
    for (const o of slice) {
      out.push(`${o.kind}${o.line}`);
      if (o.noEol) out.push('\\ No newline at end of file');
    }
  }
  return out.join('\n') + '\n';
}
