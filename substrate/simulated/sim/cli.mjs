#!/usr/bin/env node
// Entrypoints of the simulated substrate: prepare-data, train, evaluate, predict, and the leaderboard's generate
// and score. Same arguments and output files as substrate/wonderland, answered in milliseconds.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseYaml } from './yaml-lite.mjs';
import { DOMAINS, HIDDEN_MIX, devScores, gauss, hiddenAccuracy, latent, round4, u01 } from './surface.mjs';

const here = path.dirname(new URL(import.meta.url).pathname);
const sandbox = path.resolve(here, '..');

function args(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    if (!argv[i].startsWith('--')) throw new Error(`unexpected argument "${argv[i]}"`);
    out[argv[i].slice(2)] = argv[i + 1];
    i++;
  }
  return out;
}
function need(a, key) {
  if (a[key] === undefined || a[key] === '') throw new Error(`missing --${key}`);
  return a[key];
}
const writeJson = (file, v) => {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(v, null, 2) + '\n');
};
const readJson = (file) => JSON.parse(fs.readFileSync(file, 'utf8'));
const sha256 = (s) => createHash('sha256').update(s).digest('hex');

function readCsv(file) {
  const [head, ...rows] = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '');
  const cols = head.split(',');
  return rows.map((line) => {
    const cells = [];
    let cur = '', quoted = false;
    for (let i = 0; i < line.length; i++) {
      const ch = line[i];
      if (quoted) {
        if (ch === '"' && line[i + 1] === '"') { cur += '"'; i++; } else if (ch === '"') quoted = false; else cur += ch;
      } else if (ch === '"') quoted = true;
      else if (ch === ',') { cells.push(cur); cur = ''; } else cur += ch;
    }
    cells.push(cur);
    return Object.fromEntries(cols.map((c, i) => [c, cells[i] ?? '']));
  });
}
const csvCell = (v) => (/[",\n]/.test(String(v)) ? `"${String(v).replace(/"/g, '""')}"` : String(v));
const writeCsv = (file, cols, rows) => {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, [cols.join(','), ...rows.map((r) => cols.map((c) => csvCell(r[c])).join(','))].join('\n') + '\n');
};

async function prepareData(a) {
  const recipePath = need(a, 'recipe');
  const recipe = parseYaml(fs.readFileSync(recipePath, 'utf8'));
  // The data-construction pipeline is editable: load it from this sandbox.
  const { buildDataSummary } = await import(pathToFileURL(path.join(sandbox, 'pipeline', 'build.mjs')).href);
  const summary = buildDataSummary(recipe);
  writeJson(path.join(need(a, 'out'), 'data-summary.json'), { ...summary, recipeSha256: sha256(fs.readFileSync(recipePath)) });
  console.log(`prepared ${Object.values(summary.counts).reduce((s, n) => s + n, 0)} rows + ${Object.values(summary.synthetic).reduce((s, n) => s + n, 0)} synthetic`);
}

function train(a) {
  const recipeText = fs.readFileSync(need(a, 'recipe'), 'utf8');
  const recipe = parseYaml(recipeText);
  const data = readJson(path.join(need(a, 'data'), 'data-summary.json'));
  readJson(need(a, 'base')); // the frozen base must be there, as for a real substrate
  const out = need(a, 'out');
  const seed = Number(a.seed ?? recipe.seed ?? 0);
  const steps = Number(recipe.train?.steps ?? 600);
  const every = Math.max(1, Number(recipe.train?.checkpoint_every ?? 200));
  const marks = [];
  for (let s = every; s < steps; s += every) marks.push(s);
  marks.push(steps);
  const checkpoints = [];
  const started = process.hrtime.bigint();
  for (const step of marks) {
    const w = latent(recipe, data, step, seed);
    const loss = round4(2.2 * (1 - w.quality) + 0.05 + 0.01 * gauss(`loss:${seed}:${step}`));
    if (w.diverged) {
      console.log(`step ${step} loss nan`);
      console.log('DIVERGED: loss is not finite; lower train.lr or enable train.grad_clip');
      writeJson(path.join(out, 'train-summary.json'), { status: 'diverged', steps: step, checkpoints, finalLoss: null, seconds: 0, device: 'sim' });
      process.exit(3);
    }
    const dir = `step-${String(step).padStart(6, '0')}`;
    writeJson(path.join(out, dir, 'weights.json'), w);
    writeJson(path.join(out, dir, 'checkpoint.json'), {
      step, seed, trainLoss: loss, recipeSha256: sha256(recipeText), size: a.size ?? 'tiny', device: 'sim', diverged: false,
    });
    checkpoints.push(dir);
    console.log(`step ${step} loss ${loss}`);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const last = readJson(path.join(out, checkpoints[checkpoints.length - 1], 'checkpoint.json'));
  writeJson(path.join(out, 'train-summary.json'), { status: 'ok', steps, checkpoints, finalLoss: last.trainLoss, seconds: round4(seconds), device: 'sim' });
}

function evaluate(a) {
  const ckpt = need(a, 'checkpoint');
  const split = a.split ?? 'dev';
  if (split !== 'dev') throw new Error(`--split must be "dev" (the hidden split is scored by the leaderboard), got "${split}"`);
  const w = readJson(path.join(ckpt, 'weights.json'));
  const info = readJson(path.join(ckpt, 'checkpoint.json'));
  const scores = devScores(w, `dev:${info.seed}:${info.step}:${info.recipeSha256}`);
  writeJson(need(a, 'out'), { checkpoint: path.basename(ckpt), split, ...scores });
}

/** Hidden prompts carry their domain and variant, as real puzzles reveal their family in the text. */
function generate(a) {
  const secret = need(a, 'secret-seed');
  const out = need(a, 'out');
  for (const [half, n] of [['public', 600], ['private', 600]]) {
    const rows = [];
    for (let i = 0; i < n; i++) {
      let x = u01(`${secret}:${half}:${i}:domain`);
      let domain = DOMAINS[DOMAINS.length - 1];
      for (const d of DOMAINS) { if (x < HIDDEN_MIX[d]) { domain = d; break; } x -= HIDDEN_MIX[d]; }
      const variant = domain === 'equation' && u01(`${secret}:${half}:${i}:variant`) < 0.7 ? 'hard' : 'standard';
      const id = `${half.slice(0, 3)}${String(i).padStart(4, '0')}`;
      const answer = `ans-${sha256(`${secret}:${half}:${i}`).slice(0, 10)}`;
      rows.push({ id, prompt: `In Alice's Wonderland, a secret ${domain} rule (${variant}) hides puzzle ${id}.`, answer, domain });
    }
    writeCsv(path.join(out, `${half}.csv`), ['id', 'prompt', 'answer', 'domain'], rows);
  }
}

function predict(a) {
  const ckpt = need(a, 'checkpoint');
  const w = readJson(path.join(ckpt, 'weights.json'));
  const info = readJson(path.join(ckpt, 'checkpoint.json'));
  const rows = readCsv(need(a, 'prompts')).map((r) => {
    const m = /secret (\w+) rule \((\w+)\)/.exec(r.prompt) ?? [];
    const p = hiddenAccuracy(w, m[1], m[2]);
    // A right answer is reproduced from the prompt's hidden rule; the model only "knows" it with probability p.
    const right = u01(`predict:${info.seed}:${info.step}:${info.recipeSha256}:${r.id}`) < p;
    return { id: r.id, answer: right ? 'RIGHT' : 'wrong' };
  });
  writeCsv(need(a, 'out'), ['id', 'answer'], rows);
}

/**
 * Scores predictions against answers. The simulated model cannot know answer strings, so "RIGHT" stands for the
 * correct answer; the board reads the real answers from outside the sandbox only here.
 */
function score(a) {
  const preds = new Map(readCsv(need(a, 'predictions')).map((r) => [r.id, r.answer]));
  const answers = readCsv(need(a, 'answers'));
  const per = Object.fromEntries(DOMAINS.map((d) => [d, { right: 0, n: 0 }]));
  for (const r of answers) {
    const d = per[r.domain] ?? (per[r.domain] = { right: 0, n: 0 });
    d.n++;
    if (preds.get(r.id) === 'RIGHT') d.right++;
  }
  const n = answers.length;
  const right = Object.values(per).reduce((s, d) => s + d.right, 0);
  const domains = Object.fromEntries(Object.entries(per).filter(([, d]) => d.n > 0).map(([k, d]) => [k, { score: round4(d.right / d.n), n: d.n }]));
  writeJson(need(a, 'out'), { checkpoint: a.checkpoint ?? path.basename(need(a, 'predictions')), split: a.split ?? 'hidden', overall: n ? round4(right / n) : 0, n, domains });
}

const commands = { 'prepare-data': prepareData, train, evaluate, predict, generate, score };
const [cmd, ...rest] = process.argv.slice(2);
try {
  if (!commands[cmd]) throw new Error(`unknown command "${cmd}" (expected one of ${Object.keys(commands).join(', ')})`);
  await commands[cmd](args(rest));
} catch (err) {
  console.error(`simulated ${cmd ?? ''}: ${err.message}`);
  process.exit(2);
}
