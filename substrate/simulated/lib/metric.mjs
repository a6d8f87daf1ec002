// The challenge metric, as in the reference substrate's harness/metric.py (frozen).
// Extraction: last non-empty \boxed{...} (nested braces kept) -> "final answer" line -> last number ->
// last non-empty line.  Verification: stored 0/1 strings exactly; numbers with
// isclose(rel_tol=1e-2, abs_tol=1e-5); other strings case-insensitively, trimmed.

export const REL_TOL = 1e-2;
export const ABS_TOL = 1e-5;
const BOXED = '\\boxed{';

export function boxedContents(text) {
  const out = [];
  let start = 0;
  for (;;) {
    const i = text.indexOf(BOXED, start);
    if (i < 0) return out;
    const j = i + BOXED.length;
    let depth = 1;
    let k = j;
    while (k < text.length && depth > 0) {
      if (text[k] === '{') depth++;
      else if (text[k] === '}') depth--;
      k++;
    }
    if (depth === 0) {
      out.push(text.slice(j, k - 1));
      start = k;
    } else start = j;
  }
}

export function extractAnswer(text) {
  if (text === null || text === undefined) return '';
  const s = String(text);
  const boxes = boxedContents(s).map((b) => b.trim()).filter((b) => b);
  if (boxes.length) return boxes[boxes.length - 1];
  const lines = s.split(/\r?\n/).map((l) => l.trim()).filter((l) => l);
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = /final\s+answer\s*(?:is)?\s*[:=]?\s*(.*)$/i.exec(lines[i]);
    if (m) {
      const a = m[1].trim().replace(/\.+$/, '').trim();
      if (a) return a;
    }
  }
  const nums = s.match(/-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?/g);
  if (nums) return nums[nums.length - 1];
  return lines.length ? lines[lines.length - 1] : '';
}

function toNumber(s) {
  const t = s.trim();
  if (!/^-?[\d,]*\.?\d+(?:[eE][-+]?\d+)?$/.test(t)) return null;
  const v = Number(t.replace(/,/g, ''));
  return Number.isFinite(v) ? v : null;
}

export function verify(stored, predicted) {
  const a = String(stored).trim();
  const b = String(predicted).trim();
  if (/^[01]+$/.test(a)) return a === b;
  const x = toNumber(a);
  const y = toNumber(b);
  if (x !== null && y !== null)
    return Math.abs(x - y) <= Math.max(REL_TOL * Math.max(Math.abs(x), Math.abs(y)), ABS_TOL);
  return a.toLowerCase() === b.toLowerCase();
}

export function scoreOutput(stored, output) {
  return verify(stored, extractAnswer(output));
}

/** [[domain, ok], ...] -> { overall, n, domains: { d: { score, n } } } with every listed domain present. */
export function aggregate(results, domains) {
  const per = Object.fromEntries(domains.map((d) => [d, [0, 0]]));
  let c = 0;
  let n = 0;
  for (const [d, ok] of results) {
    per[d] ??= [0, 0];
    per[d][0] += ok ? 1 : 0;
    per[d][1] += 1;
    c += ok ? 1 : 0;
    n += 1;
  }
  const r = (x) => Math.round(x * 1e6) / 1e6;
  return {
    overall: n ? r(c / n) : 0,
    n,
    domains: Object.fromEntries(Object.entries(per).map(([d, [cc, nn]]) => [d, { score: nn ? r(cc / nn) : 0, n: nn }])),
  };
}
