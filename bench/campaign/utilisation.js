#!/usr/bin/env node
'use strict';
/*
 * GPU-slot utilisation during a round (issue 7 target: ≥ 97 %).
 *
 * Every service runs as its own built process (own schema, stream, prefix, AEVO_HOME). The local executor gets
 * --gpus GPU slots (indices handed out as CUDA_VISIBLE_DEVICES only, so this runs on a CPU box) and --cpu-slots CPU
 * slots. A copy of substrate/simulated is used whose `train` asks for one GPU and sleeps --train-seconds before the
 * simulated train runs (the substrate itself is unchanged: its train takes milliseconds, too short for a
 * utilisation figure to mean anything). prepare-data, evaluate and predict stay on CPU slots (flag
 * --gpu-entrypoints moves more of them to GPUs).
 *
 * Per round, from the executor's records (exact spawn/exit times) and the events:
 *   busy             = Σ GPU-job durations (slot-seconds)
 *   utilisation      = busy / (gpus × makespan), makespan of the round's GPU phase (first GPU job start → last
 *                      GPU job end), and also over the whole round (RoundStarted → RoundClosed);
 *   ideal            = busy / (gpus × ideal makespan), ideal = greedy list schedule of the same durations in
 *                      request order with zero overhead (all jobs available at once);
 *   ideal w/ release = the same, but no job starts before it was requested (JobRequested): the best any
 *                      dispatcher could do given when the workers asked — compared with the measured span from
 *                      the round's first GPU request to its last GPU job's end;
 *   dispatch loss    = slot-seconds during which a GPU slot was free while a GPU job was already requested and
 *                      waiting — what the dispatcher itself wasted.
 */
const L = require('./lib');
const { handovers } = require('./analysis');

const USAGE =
  'node bench/campaign/utilisation.js [--gpus 4] [--workers 16] [--rounds 2] [--train-seconds 20] ' +
  '[--cpu-slots 2] [--gpu-entrypoints train] [--seed 1] [--keep]';

/**
 * List schedule respecting release times: each job (in order) goes to the earliest free slot, not before its release.
 */
function releaseScheduleMakespan(jobs, slots, t0) {
  const free = new Array(slots).fill(0);
  let end = 0;
  for (const j of jobs) {
    let k = 0;
    for (let i = 1; i < slots; i++) if (free[i] < free[k]) k = i;
    const start = Math.max(free[k], j.release - t0);
    free[k] = start + j.duration;
    end = Math.max(end, free[k]);
  }
  return end;
}

/** ∫ min(free slots, waiting jobs) dt over [from, to]: slot time lost while requested work waited. */
function dispatchLoss(gpuJobs, requestedAt, slots, from, to) {
  const pts = [];
  for (const j of gpuJobs) {
    const r = requestedAt.get(j.jobId) ?? j.start;
    pts.push([r, 'w+'], [j.start, 'w-'], [j.start, 'r+'], [j.end, 'r-']);
  }
  pts.sort((a, b) => a[0] - b[0]);
  let waiting = 0;
  let running = 0;
  let prev = from;
  let loss = 0;
  for (const [t, k] of pts) {
    const a = Math.max(prev, from);
    const b = Math.min(t, to);
    if (b > a) loss += Math.min(Math.max(0, slots - running), waiting) * (b - a);
    prev = t;
    if (k === 'w+') waiting++;
    else if (k === 'w-') waiting--;
    else if (k === 'r+') running++;
    else running--;
  }
  return loss;
}

async function main() {
  const o = L.parseFlags(
    {
      gpus: 4,
      workers: 16,
      rounds: 2,
      'train-seconds': 20,
      'cpu-slots': 2,
      'gpu-entrypoints': 'train',
      seed: 1,
      keep: false,
      'stall-seconds': 600,
    },
    USAGE,
  );
  if (o.gpus < 1) throw new Error('--gpus: at least 1');
  L.checkBuilds();
  const run = L.newRun('util', o.keep);
  let stack;
  try {
    const gpuEntrypoints = o['gpu-entrypoints'].split(',').filter(Boolean);
    const substrate = L.prepareSubstrate(run, { trainSeconds: o['train-seconds'], gpuEntrypoints });
    console.log(
      `bench/campaign utilisation: ${o.rounds} round(s) × ${o.workers} workers, ${o.gpus} GPU slots + ` +
        `${o['cpu-slots']} CPU slots, ` +
        `train = sleep ${o['train-seconds']} s + simulated train, on GPU: ${gpuEntrypoints.join(', ')} (` +
        `${L.machine()})`,
    );
    stack = await L.startStack(run, {
      cpuSlots: o['cpu-slots'],
      gpus: Array.from({ length: o.gpus }, (_, i) => i),
      workerConcurrency: o.workers,
    });
    const config = L.campaignConfig(`bench-util-${run.id}`, substrate, {
      rounds: o.rounds,
      workers: o.workers,
      seed: o.seed,
    });
    const { events } = await L.runCampaign(run, stack, config, { stallMs: o['stall-seconds'] * 1000 });
    await stack.stop();
    const jobs = L.jobIntervals(run);
    const requestedAt = new Map(
      events.filter((e) => e.type === 'JobRequested').map((e) => [e.data.spec.jobId, e.time]),
    );
    const roundStart = new Map(events.filter((e) => e.type === 'RoundStarted').map((e) => [e.data.round, e.time]));
    const roundClosed = new Map(events.filter((e) => e.type === 'RoundClosed').map((e) => [e.data.round, e.time]));

    console.log(
      '| round | GPU jobs | busy | GPU phase (1st start → last end) | util (GPU phase) | ideal makespan · ' +
        'util | measured / ideal util | from 1st request: measured · ideal w/ release | dispatch loss | ' +
        'round span | util (whole round) |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|---|---|');
    const tot = { busy: 0, phase: 0, ideal: 0, rel: 0, fromRequest: 0, round: 0, loss: 0 };
    const full = { busy: 0, phase: 0, rounds: [] }; // rounds whose ideal schedule itself reaches 97 %
    for (const r of [...roundStart.keys()].sort((a, b) => a - b)) {
      const g = jobs
        .filter((j) => j.round === r && j.gpu)
        .sort((a, b) => (requestedAt.get(a.jobId) ?? a.start) - (requestedAt.get(b.jobId) ?? b.start));
      if (!g.length) continue;
      const busy = g.reduce((s, j) => s + (j.end - j.start), 0);
      const first = Math.min(...g.map((j) => j.start));
      const last = Math.max(...g.map((j) => j.end));
      const phase = last - first;
      const ideal = L.listScheduleMakespan(
        g.map((j) => j.end - j.start),
        o.gpus,
      );
      const t0 = Math.min(...g.map((j) => requestedAt.get(j.jobId) ?? j.start));
      const rel = releaseScheduleMakespan(
        g.map((j) => ({ release: requestedAt.get(j.jobId) ?? j.start, duration: j.end - j.start })),
        o.gpus,
        t0,
      );
      // the release-aware ideal counts from the first request, so it is compared with the measured span from it
      const fromRequest = last - t0;
      const loss = dispatchLoss(g, requestedAt, o.gpus, first, last);
      const roundSpan = (roundClosed.get(r) ?? last) - roundStart.get(r);
      const cap = (ms) => o.gpus * ms;
      if (busy / cap(ideal) >= 0.97)
        Object.assign(full, { busy: full.busy + busy, phase: full.phase + phase, rounds: [...full.rounds, r] });
      Object.assign(tot, {
        busy: tot.busy + busy,
        phase: tot.phase + phase,
        ideal: tot.ideal + ideal,
        rel: tot.rel + rel,
        fromRequest: tot.fromRequest + fromRequest,
        round: tot.round + roundSpan,
        loss: tot.loss + loss,
      });
      console.log(
        `| ${r} | ${g.length} | ${L.secs(busy)} | ${L.secs(phase)} | **${L.pct(busy / cap(phase))}** | ` +
          `${L.secs(ideal)} · ${L.pct(busy / cap(ideal))} | ` +
          `${(ideal / phase).toFixed(3)} | ${L.secs(fromRequest)} · ${L.secs(rel)} | ${L.secs(loss)} (` +
          `${L.pct(loss / cap(phase))}) | ` +
          `${L.secs(roundSpan)} | ${L.pct(busy / cap(roundSpan))} |`,
      );
    }
    const cap = (ms) => o.gpus * ms;
    const util = tot.busy / cap(tot.phase);
    const fullUtil = full.busy / cap(full.phase);
    console.log(
      full.rounds.length
        ? `rounds whose ideal schedule reaches 97 % (${full.rounds.join(', ')}): GPU-phase utilisation ` +
            `${L.pct(fullUtil)} — target ≥ 97 %: ${fullUtil >= 0.97 ? 'met' : 'NOT met'}`
        : 'no round has an ideal schedule reaching 97 % (GPU jobs do not divide evenly over the slots): ' +
            'compare measured / ideal instead',
    );
    console.log(
      `all rounds: GPU-phase utilisation ${L.pct(util)}, ideal ${L.pct(tot.busy / cap(tot.ideal))}, ` +
        `measured/ideal ${(tot.ideal / tot.phase).toFixed(3)}; from the first request ` +
        `${L.secs(tot.fromRequest)} vs ${L.secs(tot.rel)} ideal with release times (` +
        `${(tot.rel / tot.fromRequest).toFixed(3)}); ` +
        `dispatch loss ${L.pct(tot.loss / cap(tot.phase))} of GPU slot time; whole-round utilisation ` +
        `${L.pct(tot.busy / cap(tot.round))}`,
    );
    const handover = handovers(jobs, requestedAt, (j) => j.gpu);
    console.log(
      `GPU slot handover (a job waiting when the previous one on that slot ended): median ` +
        `${Math.round(L.median(handover))} ms, p90 ${Math.round(L.p90(handover))} ms, n ${handover.length}; ` +
        `load at end ${require('node:os').loadavg()[0].toFixed(1)}`,
    );
  } finally {
    await L.cleanup(run, stack);
  }
}

main().catch((err) => {
  console.error(err.stack || err);
  process.exit(1);
});
