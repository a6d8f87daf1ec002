'use strict';
/* Summary statistics of the search benchmark: mean, sample sd, paired differences with a 95 % t-interval. */

// Two-sided 95 % quantiles of Student's t (t_{0.975, df}), df 1..30; beyond 30 the normal 1.96 is close enough
// (t_{0.975,40} = 2.021, t_{0.975,60} = 2.000) and we use a few more rows for those.
const T975 = [
  NaN,
  12.706,
  4.303,
  3.182,
  2.776,
  2.571,
  2.447,
  2.365,
  2.306,
  2.262,
  2.228,
  2.201,
  2.179,
  2.16,
  2.145,
  2.131,
  2.12,
  2.11,
  2.101,
  2.093,
  2.086,
  2.08,
  2.074,
  2.069,
  2.064,
  2.06,
  2.056,
  2.052,
  2.048,
  2.045,
  2.042,
];

function tQuantile975(df) {
  if (!(df >= 1)) return NaN;
  if (df <= 30) return T975[Math.floor(df)];
  if (df <= 40) return 2.021;
  if (df <= 60) return 2.0;
  if (df <= 120) return 1.98;
  return 1.96;
}

const finite = (xs) => xs.filter((x) => typeof x === 'number' && Number.isFinite(x));

function mean(xs) {
  const v = finite(xs);
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN;
}

/** Sample standard deviation (n − 1). */
function sd(xs) {
  const v = finite(xs);
  if (v.length < 2) return NaN;
  const m = mean(v);
  return Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1));
}

/**
 * Paired differences a[i] − b[i] over the indices where both are finite: mean, sd, n, and the 95 % t-interval
 * of the mean difference (mean ± t_{0.975, n−1} · sd / √n). With n < 2 the interval is undefined (NaN).
 */
function pairedDiff(a, b) {
  const d = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (Number.isFinite(a[i]) && Number.isFinite(b[i])) d.push(a[i] - b[i]);
  }
  const m = mean(d);
  const s = sd(d);
  const half = d.length >= 2 ? tQuantile975(d.length - 1) * (s / Math.sqrt(d.length)) : NaN;
  return { n: d.length, mean: m, sd: s, low: m - half, high: m + half, diffs: d };
}

module.exports = { tQuantile975, mean, sd, pairedDiff };
