'use strict';
/*
 * The two baselines, trained for real through the surface's entrypoints, run directly as child processes (no
 * control plane): prepare-data → train → evaluate every checkpoint on dev (checkpoint chosen by mean dev, the
 * default criterion) → for a submission, predict on the hidden split's prompts with the chosen checkpoint and
 * score on its public half. The hidden split is generated once per (surface, seed) with a secret seed derived
 * from both. Equal budget with aevo: rounds × workers trained candidates and rounds × submissions submissions.
 */
const fs = require('node:fs');
const path = require('node:path');
const C = require('@aevo/contracts');
const { perturb } = require('./knobs');
const { runNode, limiter, domainScores } = require('./noise-free');
const YAML = require('yaml');

const readJson = (f) => JSON.parse(fs.readFileSync(f, 'utf8'));

class DirectTrainer {
  constructor({ surface, surfaceDir, size, workDir, seed, parallel = 2 }) {
    this.size = size;
    this.sub = surfaceDir; // a scratch copy of the surface, never edited: recipes live in the candidates' dirs
    this.dir = workDir;
    this.limit = limiter(parallel);
    this.secretSeed = C.deriveSeed('bench-search-secret', surface, seed) % 1_000_000_007;
    this.jobs = 0;
  }

  async init() {
    fs.mkdirSync(this.dir, { recursive: true });
    const f = path.join(this.dir, 'secret-seed');
    fs.writeFileSync(f, String(this.secretSeed), { mode: 0o600 });
    await runNode(this.sub, [
      'harness/hidden_split.mjs',
      '--secret-seed-file',
      f,
      '--out',
      path.join(this.dir, 'hidden'),
    ]);
  }

  /** Trains one candidate; resolves { id, recipe, dev (chosen checkpoint's overall), checkpoint, diverged, failed }. */
  train(id, recipe, seed) {
    return this.limit(async () => {
      const d = path.join(this.dir, id);
      fs.mkdirSync(d, { recursive: true });
      const r = path.join(d, 'recipe.yaml');
      fs.writeFileSync(r, YAML.stringify(recipe));
      const s = String(seed);
      let diverged = false;
      try {
        await runNode(this.sub, [
          'bin/prepare-data.mjs',
          '--recipe',
          r,
          '--out',
          path.join(d, 'data'),
          '--size',
          this.size,
          '--seed',
          s,
        ]);
        this.jobs++;
        const code = await runNode(
          this.sub,
          [
            'bin/train.mjs',
            '--recipe',
            r,
            '--data-dir',
            path.join(d, 'data'),
            '--base',
            'base/checkpoint.json',
            '--out',
            path.join(d, 'ck'),
            '--size',
            this.size,
            '--device',
            'cpu',
            '--seed',
            s,
          ],
          { okCodes: [0, 3] },
        );
        this.jobs++;
        diverged = code === 3;
      } catch (e) {
        return { id, recipe, dev: null, checkpoint: null, diverged, failed: e.message.slice(0, 300) };
      }
      const summary = readJson(path.join(d, 'ck', 'train-summary.json'));
      const cks = [];
      for (const c of summary.checkpoints || []) {
        const out = path.join(d, `${c}.dev.json`);
        await runNode(this.sub, [
          'bin/evaluate.mjs',
          '--checkpoint',
          path.join(d, 'ck', c),
          '--split',
          'dev',
          '--out',
          out,
        ]);
        this.jobs++;
        const sc = readJson(out);
        cks.push({
          name: c,
          step: Number(/(\d+)$/.exec(c)?.[1] ?? 0),
          dev: { overall: sc.overall, domains: domainScores(sc.domains) },
        });
      }
      fs.rmSync(path.join(d, 'data'), { recursive: true, force: true });
      if (!cks.length) return { id, recipe, dev: null, checkpoint: null, diverged, failed: 'no checkpoint' };
      const sel = C.selectCheckpoint(cks, { kind: 'mean' });
      return {
        id,
        recipe,
        dev: sel.score,
        devDomains: sel.chosen.dev.domains,
        checkpoint: sel.chosen.name,
        diverged,
        failed: null,
      };
    });
  }

  /** Public-LB score of a trained candidate's chosen checkpoint. */
  submit(cand) {
    return this.limit(async () => {
      const d = path.join(this.dir, cand.id);
      const pred = path.join(d, 'predictions.csv');
      await runNode(this.sub, [
        'bin/predict.mjs',
        '--checkpoint',
        path.join(d, 'ck', cand.checkpoint),
        '--prompts',
        path.join(this.dir, 'hidden', 'prompts.csv'),
        '--out',
        pred,
      ]);
      await runNode(this.sub, [
        'harness/score_predictions.mjs',
        '--predictions',
        pred,
        '--answers',
        path.join(this.dir, 'hidden', 'public.csv'),
        '--out',
        path.join(d, 'public.json'),
        '--split',
        'public',
      ]);
      this.jobs += 2;
      return readJson(path.join(d, 'public.json')).overall;
    });
  }
}

const byDevDesc = (a, b) => (b.dev ?? -Infinity) - (a.dev ?? -Infinity);

/**
 * One baseline run. method 'random': every candidate perturbs 1–3 random knobs of the base recipe; final = best
 * public LB among the submitted. method 'greedy': every candidate moves one random knob of the current
 * best-by-dev recipe (the base until something was trained); final = best-by-dev recipe overall.
 * Each round submits its top `submissions` candidates by dev. Returns the run's record (no noise-free scores).
 */
async function runBaseline({
  method,
  surface,
  surfaceDir,
  baseRecipe,
  seed,
  rounds,
  workers,
  submissions,
  size,
  workDir,
  log = () => {},
}) {
  const t0 = Date.now();
  const trainer = new DirectTrainer({ surface, surfaceDir, size, workDir, seed });
  await trainer.init();
  const rnd = C.seededRandom(C.deriveSeed('bench-search', method, surface, seed));
  const all = [];
  const submitted = [];
  // incumbent = the recipe the method would hand over if it stopped now; every change of it is a "promotion"
  const incumbents = [{ round: 0, recipe: baseRecipe, id: 'base' }];
  let best = null; // best by dev so far (greedy's parent)
  for (let round = 1; round <= rounds; round++) {
    const parent = method === 'greedy' ? (best ? best.recipe : baseRecipe) : baseRecipe;
    const plans = [];
    for (let i = 0; i < workers; i++) {
      const k = method === 'greedy' ? 1 : 1 + Math.floor(rnd() * 3);
      const p = perturb(parent, rnd, k);
      plans.push({
        id: `r${round}-c${i}`,
        ...p,
        trainSeed: C.deriveSeed('bench-search-train', method, surface, seed, round, i) % 100000,
      });
    }
    const trained = await Promise.all(
      plans.map((p) =>
        trainer.train(p.id, p.recipe, p.trainSeed).then((c) => ({ ...c, round, knobs: p.knobs, changes: p.changes })),
      ),
    );
    all.push(...trained);
    const ranked = trained.filter((c) => c.dev !== null).sort(byDevDesc);
    const chosen = ranked.slice(0, submissions);
    const scores = await Promise.all(chosen.map((c) => trainer.submit(c)));
    chosen.forEach((c, i) => {
      c.publicLb = scores[i];
      submitted.push(c);
    });
    for (const c of ranked) if (!best || c.dev > best.dev) best = c;
    const finalNow =
      method === 'random' ? submitted.reduce((a, b) => (a && a.publicLb >= b.publicLb ? a : b), null) : best;
    if (finalNow && finalNow.id !== incumbents[incumbents.length - 1].id)
      incumbents.push({ round, recipe: finalNow.recipe, id: finalNow.id });
    log(
      `${method} ${surface} seed ${seed} round ${round}: best dev ${best ? best.dev.toFixed(3) : '—'}, ` +
        `submitted ${chosen.map((c) => `${c.id} dev ${c.dev.toFixed(3)} lb ${c.publicLb.toFixed(3)}`).join(', ')}`,
    );
  }
  const final = method === 'random' ? submitted.reduce((a, b) => (a && a.publicLb >= b.publicLb ? a : b), null) : best;
  return {
    method,
    seed,
    wallMs: Date.now() - t0,
    jobs: trainer.jobs,
    trainedCandidates: all.length,
    failedCandidates: all.filter((c) => c.failed).length,
    submissionsUsed: submitted.length,
    final: final
      ? {
          id: final.id,
          round: final.round,
          recipe: final.recipe,
          dev: final.dev,
          publicLb: final.publicLb ?? null,
          criterion: { kind: 'mean' },
        }
      : { id: 'base', recipe: baseRecipe, criterion: { kind: 'mean' } },
    promotions: incumbents.slice(1).map((inc, i) => ({
      round: inc.round,
      candidateId: inc.id,
      before: incumbents[i].recipe,
      after: inc.recipe,
      criterionBefore: { kind: 'mean' },
      criterionAfter: { kind: 'mean' },
    })),
    candidates: all.map((c) => ({
      id: c.id,
      round: c.round,
      recipe: c.recipe,
      knobs: c.knobs,
      changes: c.changes,
      dev: c.dev,
      diverged: c.diverged,
      failed: c.failed,
      publicLb: c.publicLb ?? null,
    })),
    confirmations: [], // the baselines have no decoupling mechanism
  };
}

module.exports = { runBaseline, DirectTrainer };
