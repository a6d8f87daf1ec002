#!/usr/bin/env node
/*
 * Dispatch slot-utilisation benchmark: how busy does the local executor keep its slots during a burst of queued jobs?
 *
 * Build first:  npx nx run @aevo/executors:build
 * Run:          node bench/dispatch/run.js [--slots 4] [--jobs 48] [--seed 1] [--scale 1]
 *
 * A burst of `--jobs` jobs is submitted at once to a LocalExecutor with `--slots` GPU slots (GPU indices are only
 * handed out through CUDA_VISIBLE_DEVICES, so this runs on a CPU box too). Each job sleeps a seeded duration, so
 * the work is known exactly and the CPU contention of a shared machine does not change it. Two mixes: short jobs
 * (0.1–0.5 s, where per-job overhead shows) and long ones (1–3 s). Printed per mix:
 *   busy utilisation   = Σ slot-busy seconds / (slots × makespan)   — what the executor accounts (wallSeconds)
 *   useful utilisation = Σ requested sleep   / (slots × makespan)   — overhead of starting/ending a job excluded
 *   ideal              = Σ sleep / (slots × ideal makespan), ideal makespan = the greedy list schedule of the same
 *                        durations in the same FIFO order with zero overhead (what a perfect dispatcher achieves)
 *   handover gap       = from a job's end (its exit code written) to the next job's start on the same slot
 *   baseline           = the same burst run by a bare pool in this process (spawn `sh -c sleep` per slot, start the
 *                        next on 'exit'; no state files, no log capture, no process-group bookkeeping), measured
 *                        in the same run: the cost of the executor's restart safety is the gap to it.
 * The executor runs each mix twice in the same run: sandboxed (bubblewrap, the default: every job in its own
 * sandbox forked from a snapshot under AEVO_HOME, one output directory each) and unsandboxed (`sandbox: 'none'`,
 * the operator opt-out), so the sandbox's share of the handover is the gap between the two.
 * Everything lives in a temporary directory that is removed at the end.
 */
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');

const ROOT = path.resolve(__dirname, '../..');
const DIST = path.join(ROOT, 'libs/executors/dist/index.js');
if (!fs.existsSync(DIST)) {
  console.error('missing libs/executors/dist: build first with  npx nx run @aevo/executors:build');
  process.exit(1);
}
const { LocalExecutor, writeJobSnapshot, forkJobSandbox } = require(DIST);
const { removeHome } = require('../sandbox/home');

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const SLOTS = arg('slots', 4);
const JOBS = arg('jobs', 48);
const SEED = arg('seed', 1);
const SCALE = arg('scale', 1);

// The control plane's seeded generator (mulberry32), so a run is reproducible from --seed.
const rng = require('@aevo/contracts').seededRandom;

function durations(lo, hi, seed) {
  const r = rng(seed);
  return Array.from({ length: JOBS }, () => Math.round((lo + (hi - lo) * r()) * SCALE * 1000) / 1000);
}

/** Makespan of greedy FIFO list scheduling with zero overhead: the best a dispatcher can do with this order. */
function idealMakespan(ds) {
  const free = new Array(SLOTS).fill(0);
  for (const d of ds) {
    let k = 0;
    for (let i = 1; i < SLOTS; i++) if (free[i] < free[k]) k = i;
    free[k] += d;
  }
  return Math.max(...free);
}

async function runExecutor(ds, home, mode) {
  // A job's sandbox must lie inside AEVO_HOME and name a snapshot under <home>/snapshots (what the substrate service
  // leaves); the unsandboxed run uses the same layout so that only the boundary differs.
  fs.mkdirSync(home, { recursive: true });
  const { snapshotId, snapshotPath } = writeJobSnapshot(home);
  const sandbox = forkJobSandbox(snapshotPath, path.join(home, 'sandboxes', 'bench-c0'));
  const ex = new LocalExecutor({
    home,
    gpus: Array.from({ length: SLOTS }, (_, i) => i),
    cpuSlots: 0,
    pollMs: 500,
    sandbox: mode,
    onError: (err, context) => console.error(`  executor (${mode}) ${context}: ${err.message}`),
  });
  const outcomes = new Map();
  const slotOf = new Map();
  let resolveAll;
  const all = new Promise((r) => (resolveAll = r));
  ex.on((e) => {
    if (e.type === 'started') slotOf.set(e.jobId, e.slot);
    if (e.type !== 'finished') return;
    outcomes.set(e.jobId, e.outcome);
    if (outcomes.size === ds.length) resolveAll();
  });
  await ex.recover();
  const t0 = Date.now();
  for (let i = 0; i < ds.length; i++) {
    await ex.submit({
      campaignId: 'bench',
      spec: {
        jobId: `bench-${i}`,
        candidateId: 'bench-c0',
        round: 1,
        entrypoint: 'train',
        sandboxPath: sandbox,
        argv: ['sleep', String(ds[i])],
        env: {},
        resources: { cpu: 1, memoryMiB: 64, gpu: 1 },
        timeoutSeconds: 600,
        priority: 'normal',
        isolation: { snapshotId, outputs: [`out/bench-${i}`], inputs: [] },
      },
    });
  }
  await all;
  await ex.drained();
  const makespan = (Date.now() - t0) / 1000;
  await ex.close();
  const failed = [...outcomes.values()].filter((o) => o.status !== 'succeeded');
  if (failed.length) throw new Error(`${failed.length} bench jobs failed: ${failed[0].message}`);
  const busy = [...outcomes.values()].reduce((s, o) => s + o.wallSeconds, 0);
  const gpuSeconds = [...outcomes.values()].reduce((s, o) => s + o.gpuSeconds, 0);
  // Handover gap: from a job's end (its exit code written) to the next job's start on the same slot.
  const bySlot = new Map();
  for (const [jobId, o] of outcomes) {
    const slot = slotOf.get(jobId);
    if (!bySlot.has(slot)) bySlot.set(slot, []);
    bySlot.get(slot).push(o);
  }
  const gaps = [];
  for (const list of bySlot.values()) {
    list.sort((a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt));
    for (let i = 1; i < list.length; i++) gaps.push(Date.parse(list[i].startedAt) - Date.parse(list[i - 1].finishedAt));
  }
  gaps.sort((a, b) => a - b);
  const gapMedian = gaps[Math.floor(gaps.length / 2)];
  return { makespan, busy, gpuSeconds, gapMedian, gapMax: gaps[gaps.length - 1] };
}

async function runBarePool(ds, dir) {
  const t0 = Date.now();
  let next = 0;
  let busy = 0;
  const worker = async () => {
    while (next < ds.length) {
      const d = ds[next++];
      const s = Date.now();
      await new Promise((resolve, reject) => {
        const c = spawn('sh', ['-c', `sleep ${d}`], { cwd: dir, stdio: 'ignore' });
        c.once('exit', resolve);
        c.once('error', reject);
      });
      busy += (Date.now() - s) / 1000;
    }
  };
  await Promise.all(Array.from({ length: SLOTS }, worker));
  return { makespan: (Date.now() - t0) / 1000, busy };
}

const pct = (x) => `${(100 * x).toFixed(1)}%`;

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aevo-bench-dispatch-'));
  // Searchable by others: sandboxed jobs run under per-slot uids (when this runs as root) and must reach their mounts.
  fs.chmodSync(dir, 0o711);
  try {
    console.log(
      `dispatch slot utilisation: ${JOBS} jobs burst onto ${SLOTS} GPU slots (seed ${SEED}, node ` +
        `${process.version}, ${os.cpus().length} CPUs)`,
    );
    console.log(
      '| mix | Σ work | ideal makespan | bare pool makespan · util | executor | executor makespan | busy ' +
        'util | useful util | ideal util | executor / ideal makespan | handover gap median · max |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|---|---|');
    for (const [label, lo, hi, seedOffset] of [
      ['short 0.1–0.5 s', 0.1, 0.5, 0],
      ['long 1–3 s', 1, 3, 1],
    ]) {
      const ds = durations(lo, hi, SEED + seedOffset);
      const work = ds.reduce((a, b) => a + b, 0);
      const ideal = idealMakespan(ds);
      const bare = await runBarePool(ds, dir);
      // Alternate which mode goes first between the mixes, so that drift in machine load does not favour one.
      const modes = seedOffset % 2 === 0 ? ['bubblewrap', 'none'] : ['none', 'bubblewrap'];
      const byMode = {};
      for (const mode of modes)
        byMode[mode] = await runExecutor(ds, path.join(dir, `${label.split(' ')[0]}-${mode}`), mode);
      for (const mode of ['bubblewrap', 'none']) {
        const ex = byMode[mode];
        const cap = SLOTS * ex.makespan;
        console.log(
          `| ${label} | ${work.toFixed(1)} s | ${ideal.toFixed(2)} s | ${bare.makespan.toFixed(2)} s · ` +
            `${pct(work / (SLOTS * bare.makespan))} | ${mode === 'none' ? 'unsandboxed' : 'sandboxed'} | ` +
            `${ex.makespan.toFixed(2)} s | ` +
            `${pct(ex.busy / cap)} | ${pct(work / cap)} | ${pct(work / (SLOTS * ideal))} | ` +
            `${(ex.makespan / ideal).toFixed(3)}× | ${ex.gapMedian} ms · ${ex.gapMax} ms |`,
        );
        if (Math.abs(ex.gpuSeconds - ex.busy) > 0.01 * ex.busy)
          console.log(`  note: gpuSeconds ${ex.gpuSeconds.toFixed(2)} differs from busy ${ex.busy.toFixed(2)}`);
      }
      const [sb, none] = [byMode.bubblewrap, byMode.none];
      console.log(
        `  sandbox: makespan ${(1000 * (sb.makespan - none.makespan)).toFixed(0)} ms longer over ${JOBS} ` +
          `jobs on ${SLOTS} slots (≈ ${((1000 * (sb.makespan - none.makespan) * SLOTS) / JOBS).toFixed(1)} ` +
          `slot-ms per job), ` +
          `handover median ${sb.gapMedian - none.gapMedian} ms more, busy (charged) seconds +` +
          `${(sb.busy - none.busy).toFixed(2)} s (${((1000 * (sb.busy - none.busy)) / JOBS).toFixed(1)} ms ` +
          `per job)`,
      );
    }
  } finally {
    removeHome(dir); // the snapshots are read-only
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
