/**
 * Numbers in evidence are rounded so that the record (and its hash) does not depend on float noise in the last bits.
 */
export const DECIMALS = 6;

export function roundTo(x: number, decimals = DECIMALS): number {
  if (!Number.isFinite(x)) throw new Error(`cannot record a non-finite number (${x})`);
  const f = 10 ** decimals;
  const r = Math.round(x * f) / f;
  return Object.is(r, -0) ? 0 : r;
}

export const roundOrNull = (x: number | null | undefined, decimals = DECIMALS): number | null =>
  x === null || x === undefined ? null : roundTo(x, decimals);

export function mean(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Sample standard deviation (n − 1); null below two values. */
export function sampleStd(xs: readonly number[]): number | null {
  if (xs.length < 2) return null;
  const m = mean(xs) as number;
  let s = 0;
  for (const x of xs) s += (x - m) ** 2;
  return Math.sqrt(s / (xs.length - 1));
}

/** Ranks 1..n with ties given their average rank. */
export function averageRanks(xs: readonly number[]): number[] {
  const order = xs.map((x, i) => ({ x, i })).sort((a, b) => a.x - b.x || a.i - b.i);
  const ranks = new Array<number>(xs.length);
  let k = 0;
  while (k < order.length) {
    let j = k;
    while (j + 1 < order.length && order[j + 1].x === order[k].x) j++;
    const r = (k + j) / 2 + 1;
    for (let t = k; t <= j; t++) ranks[order[t].i] = r;
    k = j + 1;
  }
  return ranks;
}

function pearson(a: readonly number[], b: readonly number[]): number | null {
  const ma = mean(a) as number;
  const mb = mean(b) as number;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < a.length; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  if (saa === 0 || sbb === 0) return null;
  return Math.max(-1, Math.min(1, sab / Math.sqrt(saa * sbb)));
}

/** Spearman rank correlation (Pearson on average ranks); null below three pairs or when either side is constant. */
export function spearman(a: readonly number[], b: readonly number[]): number | null {
  if (a.length !== b.length) throw new Error(`spearman needs paired samples (${a.length} vs ${b.length})`);
  if (a.length < 3) return null;
  return pearson(averageRanks(a), averageRanks(b));
}
