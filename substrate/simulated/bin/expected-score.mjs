#!/usr/bin/env node
// `expected-score` -- BENCHMARK-ONLY.  NOT an entrypoint: it is not in substrate.yaml and the control plane
// never calls it.  Benchmarks (bench/) use it to know the truth a campaign was estimating.
//   node bin/expected-score.mjs --recipe R --data-dir DATA [--size tiny|cpu|gpu] --out O [--base base/checkpoint.json]
// DATA is what bin/prepare-data.mjs wrote for R (its train.csv: the editable pipeline's real output counts).
// For every checkpoint bin/train.mjs would write (same plan: lib/training.mjs; a diverged run gives only the
// checkpoints before the divergence and diverged: true) it evaluates the same surface (lib/surface.mjs
// qualityAt) with the seed noise off, and turns each latent quality q into the expected solve probability
// E[clamp(q + N(0, evalJitter), 0, 1)] (lib/model.mjs expectedSolve: no finite-sample noise, no jitter draw),
// averaged under the dev split's composition (data/dev.csv, with the size's eval stride) and the hidden
// leaderboard split's expected composition (HIDDEN_MIX x HIDDEN_VARIANTS; public and private alike).
// Output (numbers rounded to 6 decimals; same inputs => byte-identical file):
//   { variant, size, diverged, checkpoints: [{ step, dev: { overall, domains }, leaderboard: { overall, domains },
//     decoupling: { domain, active, devGain, lbLoss, domainDevGain, domainLbLoss } }], last, bestByDev }
// decoupling: the variant's region (lib/variant.mjs), else the designed equation region; devGain / lbLoss are
// the expected overall dev gain / leaderboard loss its terms cause at that checkpoint (against the same surface
// without them); active = both positive (the recipe is inside the region there).
import { join } from 'node:path';
import { checkSize, DEV_CSV, ROOT, SIZES } from '../lib/common.mjs';
import { fail, loadRecipe, parseFlags, readCsv, requireFlags, writeJson } from '../lib/io.mjs';
import { expectedSolve, loadWeights } from '../lib/model.mjs';
import { decouplingRegions, qualityAt } from '../lib/surface.mjs';
import { planRun, readTrainRows, resolveTrain } from '../lib/training.mjs';
import { VARIANT_NAME } from '../lib/variant.mjs';
import { DOMAINS, HIDDEN_MIX, HIDDEN_VARIANTS, parsePrompt, STANDARD_VARIANT } from '../lib/world.mjs';

const USAGE = 'usage: expected-score --recipe FILE --data-dir DIR --out FILE [--size tiny|cpu|gpu] [--base FILE]';
const flags = parseFlags(process.argv.slice(2), ['recipe', 'data-dir', 'out', 'size', 'base'], USAGE);
requireFlags(flags, ['recipe', 'data-dir', 'out'], USAGE);
let size;
let settings;
const { recipe } = loadRecipe(flags.recipe);
try {
  size = checkSize(flags.size);
  settings = resolveTrain(recipe);
} catch (e) {
  fail(e.message);
}
const rows = readTrainRows(flags['data-dir']);
if (!rows.length) fail(`${flags['data-dir']}/train.csv has no rows`);
const base = loadWeights(flags.base ?? join(ROOT, 'base', 'checkpoint.json'));
const { steps, divergeAt, marks, ctx } = planRun(settings, size, rows, base.quality, 0);

// compositions: weight per (domain, variant) within each domain, and per domain within the split
const devRows = readCsv(DEV_CSV).filter((_, i) => i % (SIZES[size].evalStride ?? 1) === 0);
const devComp = {};
for (const r of devRows) {
  const p = parsePrompt(r.prompt);
  if (!p) continue;
  devComp[p.domain] ??= { n: 0, variants: {} };
  devComp[p.domain].n++;
  devComp[p.domain].variants[p.variant] = (devComp[p.domain].variants[p.variant] ?? 0) + 1;
}
const lbComp = {};
for (const d of DOMAINS) {
  const vs = HIDDEN_VARIANTS[d] ?? { [STANDARD_VARIANT[d]]: 1 };
  lbComp[d] = { n: HIDDEN_MIX[d], variants: Object.fromEntries(Object.entries(vs).filter(([, w]) => Number(w) > 0)) };
}

function score(quality, comp) {
  const domains = {};
  let total = 0;
  let weight = 0;
  for (const d of DOMAINS) {
    const c = comp[d];
    if (!c || !(c.n > 0)) continue;
    const vw = Object.values(c.variants).reduce((a, b) => a + Number(b), 0);
    let s = 0;
    for (const [v, w] of Object.entries(c.variants)) s += (Number(w) / vw) * expectedSolve(quality[d]?.[v] ?? 0);
    domains[d] = s;
    total += c.n * s;
    weight += c.n;
  }
  return { overall: total / weight, domains };
}

const r6 = (x) => Math.round(x * 1e6) / 1e6 + 0; // + 0: no -0
const rounded = (s) => ({
  overall: r6(s.overall),
  domains: Object.fromEntries(Object.entries(s.domains).map(([d, x]) => [d, r6(x)])),
});
const regions = decouplingRegions();
const region = regions[regions.length - 1]; // the variant's region when there is one, else the designed one

const checkpoints = marks.map((step) => {
  const { quality } = qualityAt(step, steps, { ...ctx, noise: false });
  const { quality: without } = qualityAt(step, steps, { ...ctx, noise: false, without: [region.domain] });
  const dev = score(quality, devComp);
  const lb = score(quality, lbComp);
  const dev0 = score(without, devComp);
  const lb0 = score(without, lbComp);
  const devGain = r6(dev.overall - dev0.overall);
  const lbLoss = r6(lb0.overall - lb.overall);
  return {
    step,
    dev: rounded(dev),
    leaderboard: rounded(lb),
    decoupling: {
      domain: region.domain,
      active: devGain > 0 && lbLoss > 0,
      devGain,
      lbLoss,
      domainDevGain: r6(dev.domains[region.domain] - dev0.domains[region.domain]),
      domainLbLoss: r6(lb0.domains[region.domain] - lb.domains[region.domain]),
    },
  };
});
let best = null;
for (const c of checkpoints) if (best === null || c.dev.overall > best.dev.overall) best = c;
writeJson(flags.out, {
  variant: VARIANT_NAME,
  size,
  diverged: divergeAt !== null,
  checkpoints,
  last: checkpoints.length ? checkpoints[checkpoints.length - 1].step : null,
  bestByDev: best ? best.step : null,
});
process.stdout.write(
  `expected-score: ${checkpoints.length} checkpoints${divergeAt !== null ? ' (diverged)' : ''}, ` +
    `last dev ${best ? checkpoints[checkpoints.length - 1].dev.overall : '-'} ` +
    `lb ${best ? checkpoints[checkpoints.length - 1].leaderboard.overall : '-'} -> ${flags.out}\n`,
);
