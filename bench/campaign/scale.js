#!/usr/bin/env node
'use strict';
/*
 * A 64-worker × 20-round simulated campaign: wall time and peak memory per service, against a small campaign
 * (8 × 3 by default) run first in the same invocation as the baseline of the ratios.
 *
 * Each campaign gets a fresh set of service processes (so a process's peak RSS belongs to that campaign alone),
 * its own schema, stream, prefix and AEVO_HOME, the local executor with --slots CPU slots and the simulated
 * substrate (milliseconds per job). Peak memory is the kernel's high-water mark of resident memory, VmHWM in
 * /proc/<pid>/status, read every second and just before the services are stopped. Progress goes to stdout once
 * per closed round (elapsed time, events, each service's current RSS), so a long run can be watched.
 *
 *   node bench/campaign/scale.js                                  # 8×3 baseline, then 64×20
 *   node bench/campaign/scale.js --workers 16 --rounds 4          # scaled down
 *   node bench/campaign/scale.js --small-workers 0                # no baseline run (no ratios)
 */
const fs = require('node:fs');
const os = require('node:os');
const L = require('./lib');
const { idleByPhase } = require('./analysis');

const USAGE =
  'node bench/campaign/scale.js [--workers 64] [--rounds 20] [--small-workers 8] [--small-rounds 3] ' +
  '[--slots 2] [--concurrency 0 (= workers)] [--seed 1] [--keep]';

const mib = (kib) => `${(kib / 1024).toFixed(0)} MiB`;

async function campaign(o, workers, rounds) {
  const run = L.newRun(`scale-${workers}x${rounds}`, o.keep);
  let stack;
  try {
    const substrate = L.prepareSubstrate(run);
    const t = Date.now();
    stack = await L.startStack(run, { cpuSlots: o.slots, workerConcurrency: o.concurrency || workers });
    const startup = Date.now() - t;
    stack.sampleMemory();
    const idleMem = Object.fromEntries(Object.entries(stack.peak).map(([k, v]) => [k, v.rss]));
    const cpu0 = stack.cpu();
    console.log(
      `\n## ${workers} workers × ${rounds} rounds, ${o.slots} CPU slots (${L.machine()}); services ready ` +
        `in ${L.secs(startup)}, logs in ${run.logs}`,
    );
    const config = L.campaignConfig(`bench-scale-${run.id}`, substrate, { rounds, workers, seed: o.seed });
    const perRound = [];
    const t0Seen = Date.now();
    const onProgress = (all, fresh) => {
      for (const e of fresh) {
        if (e.type !== 'RoundClosed') continue;
        stack.sampleMemory();
        const rss = Object.fromEntries(
          [...stack.procs].map(([n, p]) => {
            let status = '';
            try {
              status = fs.readFileSync(`/proc/${p.child.pid}/status`, 'utf8');
            } catch {
              // gone: the run fails on its own
            }
            const x = /VmRSS:\s+(\d+)/.exec(status);
            return [n, x ? Number(x[1]) : 0];
          }),
        );
        perRound.push({ round: e.data.round, at: e.time, events: all.length, rss });
        console.log(
          `  round ${e.data.round} closed at ${L.secs(e.time - t0Seen)}, ${all.length} events, load ` +
            `${os.loadavg()[0].toFixed(1)}; RSS ` +
            Object.entries(rss)
              .map(([n, k]) => `${n} ${mib(k)}`)
              .join(', '),
        );
      }
    };
    const { t0, tEnd, events } = await L.runCampaign(run, stack, config, {
      stallMs: o['stall-seconds'] * 1000,
      onProgress,
    });
    stack.sampleMemory();
    const peak = JSON.parse(JSON.stringify(stack.peak));
    const cpu1 = stack.cpu();
    const cpu = Object.fromEntries(L.SERVICES.map((n) => [n, (cpu1[n] ?? 0) - (cpu0[n] ?? 0)]));
    await stack.stop();
    const jobs = L.jobIntervals(run);
    const candidates = new Set(events.filter((e) => e.type === 'CandidateForked').map((e) => e.data.candidateId)).size;
    const manifests = events.filter((e) => e.type === 'ManifestSubmitted').length;
    const wall = tEnd - t0;
    const inside = L.unionLength(jobs);
    const idle = idleByPhase(t0, tEnd, jobs, events);
    const roundSpans = [];
    const rs = new Map(events.filter((e) => e.type === 'RoundStarted').map((e) => [e.data.round, e.time]));
    for (const e of events.filter((x) => x.type === 'RoundClosed')) roundSpans.push(e.time - rs.get(e.data.round));
    const result = {
      workers,
      rounds,
      candidates,
      manifests,
      jobs: jobs.length,
      events: events.length,
      wall,
      inside,
      orchestration: wall - inside,
      idle,
      roundFirst: roundSpans[0],
      roundLast: roundSpans[roundSpans.length - 1],
      roundMedian: L.median(roundSpans),
      peak,
      idleMem,
      cpu,
      perRound,
      load: os.loadavg()[0],
    };
    console.log(
      `  done: ${candidates} candidates (${manifests} manifests), ${jobs.length} jobs, ${events.length} ` +
        `events in ${L.secs(wall)}; ` +
        `round span first ${L.secs(result.roundFirst)}, median ${L.secs(result.roundMedian)}, last ` +
        `${L.secs(result.roundLast)}; ` +
        `time inside jobs ${L.secs(inside)}, orchestration ${L.secs(wall - inside)} (` +
        `${Math.round((wall - inside) / candidates)} ms/candidate)`,
    );
    return result;
  } finally {
    await L.cleanup(run, stack);
  }
}

async function main() {
  const o = L.parseFlags(
    {
      workers: 64,
      rounds: 20,
      'small-workers': 8,
      'small-rounds': 3,
      slots: 2,
      concurrency: 0,
      seed: 1,
      keep: false,
      'stall-seconds': 600,
    },
    USAGE,
  );
  for (const k of ['workers', 'rounds', 'slots']) if (!(o[k] >= 1)) throw new Error(`--${k}: at least 1`);
  L.checkBuilds();
  console.log(`bench/campaign scale (${L.machine()}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM)`);
  const small = o['small-workers'] > 0 ? await campaign(o, o['small-workers'], o['small-rounds']) : null;
  const full = await campaign(o, o.workers, o.rounds);

  console.log('\n## summary');
  const runs = [small, full].filter(Boolean);
  console.log(
    `| campaign | candidates | jobs | events | wall | wall / candidate | median round | orchestration / ` +
      `candidate | load at end |`,
  );
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of runs)
    console.log(
      `| ${r.workers} × ${r.rounds} | ${r.candidates} | ${r.jobs} | ${r.events} | ${L.secs(r.wall)} | ` +
        `${Math.round(r.wall / r.candidates)} ms | ${L.secs(r.roundMedian)} | ` +
        `${Math.round(r.orchestration / r.candidates)} ms | ${r.load.toFixed(1)} |`,
    );
  if (small)
    console.log(
      `ratios ${full.workers}×${full.rounds} / ${small.workers}×${small.rounds}: candidates ` +
        `${(full.candidates / small.candidates).toFixed(1)}×, ` +
        `wall ${(full.wall / small.wall).toFixed(1)}×, wall per candidate ` +
        `${(full.wall / full.candidates / (small.wall / small.candidates)).toFixed(2)}×, ` +
        `events ${(full.events / small.events).toFixed(1)}×`,
    );
  console.log('\npeak memory per service process (VmHWM; RSS right after start-up in brackets):');
  console.log(`| service | ${runs.map((r) => `${r.workers} × ${r.rounds}`).join(' | ')} |${small ? ' ratio |' : ''}`);
  console.log(`|---|${runs.map(() => '---|').join('')}${small ? '---|' : ''}`);
  const totals = runs.map(() => 0);
  for (const name of L.SERVICES) {
    const cells = runs.map((r, i) => {
      totals[i] += r.peak[name]?.hwm ?? 0;
      return `${mib(r.peak[name]?.hwm ?? 0)} (${mib(r.idleMem[name] ?? 0)})`;
    });
    const ratio = small ? ` ${((full.peak[name]?.hwm ?? 0) / (small.peak[name]?.hwm || 1)).toFixed(2)}× |` : '';
    console.log(`| ${name} | ${cells.join(' | ')} |${ratio}`);
  }
  console.log(
    `| all services | ${totals.map((t) => mib(t)).join(' | ')} |` +
      `${small ? ` ${(totals[1] / totals[0]).toFixed(2)}× |` : ''}`,
  );
  console.log(
    '\nCPU time per service process during the campaign (user+sys, start-up excluded; per candidate in brackets):',
  );
  console.log(`| service | ${runs.map((r) => `${r.workers} × ${r.rounds}`).join(' | ')} |`);
  console.log(`|---|${runs.map(() => '---|').join('')}`);
  for (const name of [...L.SERVICES, 'all services']) {
    const cells = runs.map((r) => {
      const c = name === 'all services' ? Object.values(r.cpu).reduce((a, b) => a + b, 0) : r.cpu[name];
      return `${L.secs(c)} (${Math.round(c / r.candidates)} ms)`;
    });
    console.log(`| ${name} | ${cells.join(' | ')} |`);
  }
  if (full.perRound.length > 2) {
    const first = full.perRound[0];
    const last = full.perRound[full.perRound.length - 1];
    console.log(
      `\nRSS growth over the ${full.rounds}-round campaign (round ${first.round} close → round ${last.round} close): ` +
        L.SERVICES.map((n) => `${n} ${mib(first.rss[n])} → ${mib(last.rss[n])}`).join(', '),
    );
  }
}

main().catch((err) => {
  console.error(err.stack || err);
  process.exit(1);
});
