#!/usr/bin/env node
'use strict';
/*
 * aevo vs random search vs dev-greedy at equal budget (rounds × workers trained candidates, rounds × submissions
 * leaderboard submissions per run), over campaign seeds, on the simulated substrate's designed surface and two
 * variants. Prints, per surface and method: the noise-free leaderboard gain of the final recipe over the base
 * recipe (mean ± sd over seeds; paired differences aevo − method with a 95 % t-interval), harmful promotions, false
 * and missed decoupling confirmations, leaderboard submissions used. Nothing is asserted. See README.md.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const YAML = require('yaml');
const L = require('../campaign/lib.js');
const S = require('./stats');
const { NoiseFreeScorer, expectedScoreAvailable, EXPECTED_SCORE } = require('./noise-free');
const { runBaseline } = require('./baselines');
const { runAevoSurface, DEFAULT_AXES } = require('./aevo');

const SURFACES = ['designed', 'late-decoupling', 'noisy-public'];
const METHODS = ['aevo', 'random', 'greedy'];
// AEVO_SEARCH_SIMULATED: another copy of substrate/simulated (e.g. a colleague's work tree) to take surfaces from
const SIM = path.resolve(process.env.AEVO_SEARCH_SIMULATED || path.join(L.ROOT, 'substrate/simulated'));
const MAKE_VARIANT = path.join(SIM, 'sim/make-variant.mjs');

const o = L.parseFlags(
  {
    seeds: 10,
    'first-seed': 9001,
    rounds: 6,
    workers: 8,
    submissions: 2,
    size: 'cpu',
    methods: METHODS.join(','),
    surfaces: SURFACES.join(','),
    axes: DEFAULT_AXES.join(','),
    out: '',
    keep: false,
    'allow-missing-expected': false,
    'stall-seconds': 300,
    report: '',
  },
  'node bench/search/run.js [--seeds 10] [--rounds 6] [--workers 8] [--submissions 2] [--size cpu|tiny] ' +
    '[--methods aevo,random,greedy] [--surfaces designed,late-decoupling,noisy-public] [--out results.json] ' +
    '[--keep] | --report results.json (re-print the tables of a results file, also a partial one)',
);
if (o.report) {
  const r = JSON.parse(fs.readFileSync(o.report, 'utf8'));
  for (const [surface, bySurface] of Object.entries(r.surfaces))
    console.log(table(surface, bySurface, r.config, r.config.methods));
  console.log(`\n${r.finished ? `finished ${r.finished}` : 'partial (the run had not finished)'}; ${r.machine}`);
  process.exit(0);
}
const seeds = Array.from({ length: o.seeds }, (_, i) => o['first-seed'] + i);
const methods = o.methods.split(',').filter(Boolean);
const surfaces = o.surfaces.split(',').filter(Boolean);
for (const m of methods)
  if (!METHODS.includes(m)) fail(`--methods: unknown method ${m} (known: ${METHODS.join(', ')})`);
for (const s of surfaces)
  if (!SURFACES.includes(s)) fail(`--surfaces: unknown surface ${s} (known: ${SURFACES.join(', ')})`);
if (!['tiny', 'cpu', 'gpu'].includes(o.size)) fail(`--size: tiny, cpu or gpu, got ${o.size}`);

function fail(msg) {
  console.error(`bench/search: ${msg}`);
  process.exit(1);
}
const t00 = Date.now();
const log = (msg) =>
  console.error(`[${new Date().toISOString().slice(11, 19)} +${((Date.now() - t00) / 1000).toFixed(0)}s] ${msg}`);

// ---- what must exist before anything runs (the two substrate interfaces are being built in parallel) ----
if (methods.includes('aevo')) L.checkBuilds();
const needsVariant = surfaces.filter((s) => s !== 'designed');
if (needsVariant.length && !fs.existsSync(MAKE_VARIANT))
  fail(
    `surfaces ${needsVariant.join(', ')} need ${path.relative(L.ROOT, MAKE_VARIANT)} (node ` +
      `sim/make-variant.mjs --variant NAME --out DIR), which is missing: it has not landed yet. Run with ` +
      `--surfaces designed meanwhile.`,
  );
const haveExpected = expectedScoreAvailable(SIM);
if (!haveExpected) {
  const msg =
    `${path.join(SIM, EXPECTED_SCORE)} is missing (not landed yet): no noise-free scores, so no gains, ` +
    `harmful promotions or decoupling checks`;
  if (!o['allow-missing-expected'])
    fail(`${msg}. --allow-missing-expected runs the methods anyway and prints only what needs no noise-free score.`);
  log(`WARNING: ${msg}; running the methods anyway (--allow-missing-expected)`);
}

const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'aevo-bench-search-'));
fs.chmodSync(workDir, 0o711);

/** A full substrate directory for the surface under workDir. */
function prepareSurface(surface) {
  const dir = path.join(workDir, 'surfaces', surface);
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  if (surface === 'designed')
    fs.cpSync(SIM, dir, { recursive: true, filter: (p) => !/(^|\/)(node_modules|\.git)(\/|$)/.test(p) });
  else
    execFileSync(process.execPath, [MAKE_VARIANT, '--variant', surface, '--out', dir], {
      cwd: SIM,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  if (!fs.existsSync(path.join(dir, 'substrate.yaml'))) fail(`${surface}: ${dir} has no substrate.yaml`);
  return dir;
}

/** Noise-free facts of one run record (mutates and returns it). */
async function scoreRun(rec, nf, base) {
  if (!nf) return rec;
  const fin = await nf.score(rec.final.recipe, rec.final.criterion);
  rec.noiseFree = { final: fin, base: base.lb, gain: fin.lb - base.lb };
  rec.promotions = await Promise.all(
    rec.promotions.map(async (p) => {
      const before = await nf.score(p.before, p.criterionBefore);
      const after = await nf.score(p.after, p.criterionAfter);
      return { ...p, lbBefore: before.lb, lbAfter: after.lb, harmful: after.lb < before.lb - 1e-9 };
    }),
  );
  const byId = new Map(rec.candidates.map((c) => [c.id, c]));
  await Promise.all(
    rec.candidates.map(async (c) => {
      const s = await nf.score(c.recipe, { kind: 'mean' });
      c.noiseFree = { lb: s.lb, dev: s.dev, decoupling: s.decoupling };
    }),
  );
  rec.confirmations = rec.confirmations.map((cf) => {
    const known = cf.candidates.map((id) => byId.get(id)).filter(Boolean);
    // false: none of the implicated candidates' recipes is in an active decoupling region (noise-free)
    const isFalse = known.length ? known.every((c) => !c.noiseFree.decoupling) : null;
    return { ...cf, false: isFalse };
  });
  const confirmedRounds = rec.confirmations.map((c) => c.round).filter((r) => r !== null);
  const active = rec.candidates.filter((c) => c.noiseFree.decoupling);
  // missed: a trained candidate in an active region with no confirmation in its round or the two after it
  const missed = active.filter((c) => !confirmedRounds.some((r) => r >= c.round && r <= c.round + 2));
  rec.summary = {
    gain: rec.noiseFree.gain,
    promotions: rec.promotions.length,
    harmfulPromotions: rec.promotions.filter((p) => p.harmful).length,
    confirmations: rec.confirmations.length,
    falseConfirmations: rec.confirmations.filter((c) => c.false === true).length,
    missedConfirmations: missed.length,
    activeRegionCandidates: active.length,
    finalInDecoupling: fin.decoupling,
  };
  return rec;
}

function f3(x) {
  return Number.isFinite(x) ? (x >= 0 ? ' ' : '') + x.toFixed(3) : '—';
}
function f1(x) {
  return Number.isFinite(x) ? x.toFixed(1) : '—';
}

function table(surface, bySurface, cfg = o, methodList = cfg.methods) {
  const methods = Array.isArray(methodList) ? methodList : String(methodList).split(',').filter(Boolean);
  const lines = [];
  const runs = bySurface.methods;
  const aevoGains = (runs.aevo || []).filter((r) => !r.failed).map((r) => r.summary?.gain ?? NaN);
  const aevoBySeed = new Map((runs.aevo || []).filter((r) => !r.failed).map((r) => [r.seed, r.summary?.gain ?? NaN]));
  lines.push(
    `\n## surface ${surface}  (base recipe noise-free public LB ${f3(bySurface.baseLb)}; ${cfg.rounds} ` +
      `rounds × ${cfg.workers} workers, ${cfg.submissions} submissions/round, size ${cfg.size})`,
  );
  lines.push(
    '| method | runs | LB gain of final recipe (mean ± sd) | aevo − method (mean [95% t-CI], paired) | ' +
      'promotions | harmful promotions | confirmations | false conf. | missed conf. | active-region cand. | ' +
      'final in decoupling | submissions used | trained cand. | wall / run |',
  );
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const m of methods) {
    const rs = (runs[m] || []).filter((r) => !r.failed);
    const failed = (runs[m] || []).length - rs.length;
    if (!rs.length && !failed) continue;
    const gains = rs.map((r) => r.summary?.gain ?? NaN);
    let diff = '—';
    if (m !== 'aevo' && aevoGains.length) {
      const d = S.pairedDiff(
        rs.map((r) => aevoBySeed.get(r.seed) ?? NaN),
        gains,
      );
      diff = d.n ? `${f3(d.mean)} [${f3(d.low)}, ${f3(d.high)}] (n=${d.n})` : '—';
    } else if (m === 'aevo') diff = '(reference)';
    const sum = (k) => rs.reduce((a, r) => a + (r.summary ? r.summary[k] : NaN), 0);
    const tot = (k) => rs.reduce((a, r) => a + r[k], 0);
    const harmful = () =>
      Number.isFinite(sum('harmfulPromotions'))
        ? sum('harmfulPromotions')
        : `${rs.reduce((a, r) => a + r.promotions.length, 0)} promotions, harm unknown`;
    const conf =
      m === 'aevo'
        ? `${sum('confirmations')}` +
          (rs.some((r) => r.confirmationSource === 'DecouplingConfirmed')
            ? ` (${tot('suspected')} suspected, ${tot('refutations')} refuted)`
            : ' (evidence flags)')
        : 'n/a';
    lines.push(
      `| ${m} | ${rs.length}${failed ? ` (+${failed} failed)` : ''} | ${f3(S.mean(gains))} ± ` +
        `${f3(S.sd(gains)).trim()} | ${diff} | ` +
        `${Number.isFinite(sum('promotions')) ? sum('promotions') : '—'} | ` +
        `${harmful()}` +
        ` | ${conf} | ` +
        `${m === 'aevo' ? (Number.isFinite(sum('falseConfirmations')) ? sum('falseConfirmations') : '—') : 'n/a'}` +
        ` | ${Number.isFinite(sum('missedConfirmations')) ? sum('missedConfirmations') : '—'} | ` +
        `${Number.isFinite(sum('activeRegionCandidates')) ? sum('activeRegionCandidates') : '—'} | ` +
        `${rs.every((r) => r.summary) ? `${rs.filter((r) => r.summary.finalInDecoupling).length}/${rs.length}` : '—'}` +
        ` | ${tot('submissionsUsed')} (${f1(tot('submissionsUsed') / rs.length)}/run) | ` +
        `${tot('trainedCandidates')} | ${f1(S.mean(rs.map((r) => r.wallMs / 1000)))} s |`,
    );
  }
  const dup = (runs.aevo || []).filter((r) => !r.failed && r.duplicateRuns !== undefined);
  if (dup.length)
    lines.push(
      `\naevo: non-anchor runs repeating an earlier run of their round (same recipe, same seed), per seed: ` +
        `${dup.map((r) => `${r.seed} ${r.duplicateRuns}/${r.nonAnchorRuns}`).join(', ')}; runs that changed nothing: ` +
        `${dup.reduce((a, r) => a + r.unchangedRuns, 0)}`,
    );
  return lines.join('\n');
}

async function main() {
  log(
    `bench/search: methods ${methods.join(',')}, surfaces ${surfaces.join(',')}, seeds ${seeds[0]}..` +
      `${seeds[seeds.length - 1]}, ${o.rounds}×${o.workers}, ${o.submissions} submissions/round, size ` +
      `${o.size}; ${L.machine()}; work dir ${workDir}`,
  );
  const results = {
    config: { ...o, seeds, methods, surfaces },
    machine: L.machine(),
    started: new Date().toISOString(),
    expectedScore: haveExpected,
    surfaces: {},
  };
  const outPath = o.out || path.join(workDir, 'results.json');
  const save = () => fs.writeFileSync(outPath, JSON.stringify(results, null, 1) + '\n');
  try {
    for (const surface of surfaces) {
      const surfaceDir = prepareSurface(surface);
      const baseRecipe = YAML.parse(fs.readFileSync(path.join(surfaceDir, 'recipe.yaml'), 'utf8'));
      const nf = haveExpected ? new NoiseFreeScorer({ surface, surfaceDir, size: o.size, workDir }) : null;
      const base = nf ? await nf.score(baseRecipe, { kind: 'mean' }) : null;
      const bySurface = { baseLb: base ? base.lb : NaN, base, methods: {}, noiseFreeCalls: 0 };
      results.surfaces[surface] = bySurface;
      if (base)
        log(
          `${surface}: base recipe noise-free public LB ${base.lb.toFixed(4)} (dev ${base.dev.toFixed(4)}` +
            `, step ${base.step})`,
        );
      if (methods.includes('aevo')) {
        bySurface.methods.aevo = [];
        await runAevoSurface({
          surface,
          surfaceDir,
          baseRecipe,
          seeds,
          rounds: o.rounds,
          workers: o.workers,
          submissions: o.submissions,
          size: o.size,
          axes: o.axes.split(','),
          keep: o.keep,
          stallSeconds: o['stall-seconds'],
          log,
          onCampaign: async (rec) => {
            if (rec.failed) {
              bySurface.methods.aevo.push(rec);
              return save();
            }
            await scoreRun(rec, nf, base);
            bySurface.methods.aevo.push(rec);
            log(
              `aevo ${surface} seed ${rec.seed}: ${(rec.wallMs / 1000).toFixed(0)} s, ` +
                `${rec.trainedCandidates} candidates, ${rec.submissionsUsed} submissions, ` +
                `${rec.promotions.length} promotions, gain ${rec.summary ? rec.summary.gain.toFixed(4) : '—'}` +
                (rec.duplicateRuns === undefined
                  ? ''
                  : `, ${rec.duplicateRuns} of ${rec.nonAnchorRuns} non-anchor runs repeat another of their round`),
            );
            save();
          },
        });
      }
      for (const method of methods.filter((m) => m !== 'aevo')) {
        bySurface.methods[method] = [];
        for (const seed of seeds) {
          const rec = await runBaseline({
            method,
            surface,
            surfaceDir,
            baseRecipe,
            seed,
            rounds: o.rounds,
            workers: o.workers,
            submissions: o.submissions,
            size: o.size,
            workDir: path.join(workDir, 'runs', surface, method, String(seed)),
            log,
          });
          await scoreRun(rec, nf, base);
          bySurface.methods[method].push(rec);
          log(
            `${method} ${surface} seed ${seed}: ${(rec.wallMs / 1000).toFixed(0)} s, ${rec.jobs} jobs, ` +
              `gain ${rec.summary ? rec.summary.gain.toFixed(4) : '—'}`,
          );
          if (!o.keep)
            fs.rmSync(path.join(workDir, 'runs', surface, method, String(seed)), { recursive: true, force: true });
          save();
        }
      }
      if (nf) bySurface.noiseFree = { calls: nf.calls, seconds: nf.ms / 1000 };
      console.log(table(surface, bySurface));
      save();
    }
    results.finished = new Date().toISOString();
    results.wallSeconds = (Date.now() - t00) / 1000;
    save();
    console.log(`\nresults: ${outPath}; total wall ${(results.wallSeconds / 60).toFixed(1)} min; ${L.machine()}`);
  } finally {
    if (!o.keep) {
      for (const d of ['surfaces', 'runs']) fs.rmSync(path.join(workDir, d), { recursive: true, force: true });
      for (const d of fs.readdirSync(workDir))
        if (d.startsWith('noise-free-')) fs.rmSync(path.join(workDir, d), { recursive: true, force: true });
      if (o.out) fs.rmSync(workDir, { recursive: true, force: true });
    } else console.error(`kept ${workDir}`);
  }
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
