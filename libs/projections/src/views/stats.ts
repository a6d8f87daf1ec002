/** Two-sided 95% Student-t quantiles by degrees of freedom (1–30); above 30 the normal 1.96 is within 2%. */
const T95 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11,
  2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

export const t95 = (df: number): number => (df < 1 ? Number.NaN : df <= 30 ? T95[df - 1] : 1.96);

export interface Estimate {
  n: number;
  mean: number | null;
  /** 95% interval of the mean (t interval); null below two observations. */
  low: number | null;
  high: number | null;
}

/** Mean and 95% t interval of the mean. */
export function estimate(xs: readonly number[]): Estimate {
  const n = xs.length;
  if (n === 0) return { n, mean: null, low: null, high: null };
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { n, mean: round6(mean), low: null, high: null };
  const sd = Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1));
  const half = (t95(n - 1) * sd) / Math.sqrt(n);
  return { n, mean: round6(mean), low: round6(mean - half), high: round6(mean + half) };
}

/** Six decimals: view numbers are compared across runs and serialised; float noise below that is not information. */
export const round6 = (x: number): number => Math.round(x * 1e6) / 1e6;

export const meanOf = (xs: readonly number[]): number | null =>
  xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
