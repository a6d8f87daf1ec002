// The simulated model (frozen): a checkpoint's weights.json holds its latent quality per (domain, variant);
// "running" it on a prompt answers correctly when the row's difficulty is below that quality (plus a
// per-(checkpoint, row) jitter).  evaluate and predict both go through solve(), so dev scores and
// leaderboard scores come from the same latent quality.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readJson } from './io.mjs';
import { hash01, normal, sha256 } from './rng.mjs';
import { SURFACE } from './surface.mjs';
import { answerOf, parsePrompt } from './world.mjs';

export const WEIGHTS = 'weights.json';

/** A checkpoint is a directory with weights.json (+ checkpoint.json) or a JSON file (the base). */
export function loadWeights(checkpoint) {
  const path = existsSync(checkpoint) && statSync(checkpoint).isDirectory() ? join(checkpoint, WEIGHTS) : checkpoint;
  if (!existsSync(path)) throw new Error(`no weights at ${path}`);
  const w = readJson(path);
  if (!w.quality) throw new Error(`${path} has no latent quality`);
  return w;
}

export function weightsKey(weights) {
  return sha256(JSON.stringify(weights.quality) + ':' + (weights.key ?? ''));
}

/** The model's raw output for a prompt: \boxed{answer} when it solves it, a wrong boxed answer otherwise. */
export function solve(weights, prompt, key = weightsKey(weights)) {
  const p = parsePrompt(prompt);
  const q = p ? (weights.quality[p.domain]?.[p.variant] ?? 0) : 0;
  const difficulty = hash01(`difficulty:${prompt}`);
  const jitter = SURFACE.evalJitter * normal(`jitter:${key}:${sha256(prompt).slice(0, 16)}`);
  const ok = p !== null && difficulty < q + jitter;
  return ok ? `\\boxed{${answerOf(prompt)}}` : `\\boxed{wrong-${sha256(`wrong:${key}:${prompt}`).slice(0, 6)}}`;
}

// Benchmark-only (bin/expected-score.mjs): the probability that solve() gets a row right, in expectation over
// the row's difficulty ~ U(0, 1) and the jitter ~ N(0, evalJitter):
// P(difficulty < q + jitter) = E[clamp(q + jitter, 0, 1)].
const erfc = (x) => {
  // Numerical Recipes' erfcc (Chebyshev fit, fractional error < 1.2e-7 everywhere)
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
        t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
};
const Phi = (x) => 0.5 * erfc(-x / Math.SQRT2);
const phi = (x) => Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);

/** Expected solve probability of a row whose (domain, variant) has latent quality q (analytic, no sampling). */
export function expectedSolve(q, sd = SURFACE.evalJitter) {
  if (!(sd > 0)) return Math.min(1, Math.max(0, q));
  const a = (0 - q) / sd;
  const b = (1 - q) / sd;
  return q * (Phi(b) - Phi(a)) + sd * (phi(a) - phi(b)) + (1 - Phi(b));
}
