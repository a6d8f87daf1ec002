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
