'use strict';
/*
 * Noise-free expected scores of a recipe on a surface, through the simulated substrate's benchmark-only
 * entrypoint `bin/expected-score.mjs` (no seed noise, no evaluation jitter, no finite-split noise): the recipe is
 * written into a scratch copy of the surface's substrate, `prepare-data` runs with a fixed seed (so the rows the
 * surface counts are the pipeline's real output), then `expected-score` gives per-checkpoint expected dev and
 * leaderboard scores and whether the checkpoint lies in an active decoupling region. Raw outputs are cached by the
 * recipe's hash; the checkpoint is picked by the method's selection criterion on the noise-free dev scores.
 */
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const YAML = require('yaml');
const C = require('@aevo/contracts');

const ROOT = path.resolve(__dirname, '../..');
const EXPECTED_SCORE = 'bin/expected-score.mjs';

function expectedScoreAvailable(substrateDir = path.join(ROOT, 'substrate/simulated')) {
  return fs.existsSync(path.join(substrateDir, EXPECTED_SCORE));
}

/** Runs `node args…` in cwd; rejects with the stderr tail on a non-zero exit unless `okCodes` has it. */
function runNode(cwd, args, { okCodes = [0], timeoutMs = 300_000 } = {}) {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, args, {
      cwd,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C.UTF-8' },
    });
    let err = '';
    c.stderr.on('data', (d) => (err = (err + d).slice(-3000)));
    const t = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    c.once('error', reject);
    c.once('exit', (code, signal) => {
      clearTimeout(t);
      if (okCodes.includes(code)) resolve(code);
      else
        reject(new Error(`node ${args.join(' ')} (cwd ${cwd}) exited ${signal || code}: ${err.trim().slice(-1500)}`));
    });
  });
}

/** A small pool: at most `n` of the returned function's tasks run at once. */
function limiter(n) {
  let active = 0;
  const queue = [];
  const next = () => {
    if (active >= n || !queue.length) return;
    active++;
    const { fn, resolve, reject } = queue.shift();
    Promise.resolve()
      .then(fn)
      .then(resolve, reject)
      .finally(() => {
        active--;
        next();
      });
  };
  return (fn) =>
    new Promise((resolve, reject) => {
      queue.push({ fn, resolve, reject });
      next();
    });
}

const recipeHash = (recipe) => C.sha256Hex(C.canonicalJson(recipe));

/** `{d: {score}}` or `{d: number}` → `{d: number}`. */
function domainScores(domains) {
  const out = {};
  for (const [d, v] of Object.entries(domains || {}))
    out[d] = typeof v === 'number' ? v : v && typeof v.score === 'number' ? v.score : NaN;
  return out;
}

const asVector = (s) => ({ overall: s.overall, domains: domainScores(s.domains) });

function decouplingActive(d) {
  if (!d) return false;
  if (Array.isArray(d)) return d.some((x) => x && x.active === true);
  return d.active === true;
}

class NoiseFreeScorer {
  /**
   * @param surfaceDir the surface's substrate (never written: a scratch copy is made under workDir)
   * @param size substrate size the expected scores are computed for (the size the methods trained at)
   */
  constructor({ surface, surfaceDir, size, workDir, prepSeed = 1, parallel = 2 }) {
    this.surface = surface;
    this.size = size;
    this.prepSeed = prepSeed;
    this.dir = path.join(workDir, `noise-free-${surface}`);
    this.scratch = path.join(this.dir, 'substrate');
    fs.mkdirSync(this.dir, { recursive: true });
    fs.cpSync(surfaceDir, this.scratch, {
      recursive: true,
      filter: (p) => !/(^|\/)(node_modules|\.git)(\/|$)/.test(p),
    });
    this.available = expectedScoreAvailable(this.scratch);
    this.cache = new Map();
    this.limit = limiter(parallel);
    this.calls = 0;
    this.ms = 0;
  }

  /** The raw expected-score output of a recipe (cached by recipe hash). */
  raw(recipe) {
    if (!this.available)
      return Promise.reject(
        new Error(`${this.surface}: ${EXPECTED_SCORE} is missing in the substrate (not landed yet?)`),
      );
    const h = recipeHash(recipe);
    if (!this.cache.has(h)) {
      this.cache.set(
        h,
        this.limit(async () => {
          const t = Date.now();
          const d = path.join(this.dir, h.slice(0, 16));
          fs.mkdirSync(d, { recursive: true });
          const r = path.join(d, 'recipe.yaml');
          fs.writeFileSync(r, YAML.stringify(recipe));
          await runNode(this.scratch, [
            'bin/prepare-data.mjs',
            '--recipe',
            r,
            '--out',
            path.join(d, 'data'),
            '--size',
            this.size,
            '--seed',
            String(this.prepSeed),
          ]);
          await runNode(this.scratch, [
            EXPECTED_SCORE,
            '--recipe',
            r,
            '--data-dir',
            path.join(d, 'data'),
            '--size',
            this.size,
            '--out',
            path.join(d, 'expected.json'),
          ]);
          const out = JSON.parse(fs.readFileSync(path.join(d, 'expected.json'), 'utf8'));
          fs.rmSync(path.join(d, 'data'), { recursive: true, force: true });
          this.calls++;
          this.ms += Date.now() - t;
          return out;
        }),
      );
    }
    return this.cache.get(h);
  }

  /**
   * Noise-free scores of `recipe` with the checkpoint `criterion` picks on noise-free dev:
   * { lb, dev, step, checkpoints, diverged, decoupling: any checkpoint in an active decoupling region,
   *   decouplingAtSelected }. No checkpoint at all (diverged before the first): lb = dev = 0 (nothing to submit).
   */
  async score(recipe, criterion = { kind: 'mean' }) {
    const out = await this.raw(recipe);
    const cks = (out.checkpoints || []).map((c) => ({
      ...c,
      dev: asVector(c.dev),
      leaderboard: asVector(c.leaderboard),
    }));
    const decoupling = cks.some((c) => decouplingActive(c.decoupling));
    if (!cks.length)
      return {
        lb: 0,
        dev: 0,
        step: null,
        checkpoints: 0,
        diverged: !!out.diverged,
        decoupling,
        decouplingAtSelected: false,
      };
    const sel = C.selectCheckpoint(cks, criterion);
    const c = sel.chosen;
    return {
      lb: c.leaderboard.overall,
      dev: c.dev.overall,
      step: c.step,
      checkpoints: cks.length,
      diverged: !!out.diverged,
      decoupling,
      decouplingAtSelected: decouplingActive(c.decoupling),
    };
  }
}

module.exports = {
  NoiseFreeScorer,
  expectedScoreAvailable,
  runNode,
  limiter,
  recipeHash,
  domainScores,
  EXPECTED_SCORE,
};
