#!/usr/bin/env node
'use strict';
/*
 * Orchestration overhead across clusters: the same campaign on one cluster and on two (issue "Across clusters",
 * target ≤ 1.5×), paired and interleaved. Each run gets its own hub and leaf nats-servers with the generated users
 * (bench/campaign/nats-pair.js), its own PostgreSQL schema, stream, prefix and AEVO_HOME.
 *   single: every service on the hub, each with PostgreSQL (the usual `aevo up` shape, authenticated NATS);
 *   two-domain: orchestrator, substrate, leaderboard, collector, meta-policy and the store gateway on the hub with
 *     PostgreSQL; worker, dispatch and evaluation on the leaf with AEVO_JS_DOMAIN=c1, AEVO_EVENT_STORE=remote and
 *     no database settings (they read events from their own domain's sourced stream and reach the record only
 *     through the gateway, across the leaf link). Both clusters still share one AEVO_HOME (the artefact store is not
 *     wired into the services yet), so this measures the messaging and record path, not artefact transfer.
 * Orchestration per candidate is measured as in overhead.js: (wall − union of job intervals) / candidates, one CPU
 * slot. Nothing is asserted.
 *
 *   node bench/campaign/domains.js [--pairs 2] [--workers 8] [--rounds 2] [--slots 1] [--seed 1] [--keep]
 */
const path = require('node:path');
const { spawn } = require('node:child_process');
const L = require('./lib');
const { startNatsPair, COMPUTE_DOMAIN } = require('./nats-pair');

const ROOT = L.ROOT;
const GATEWAY_MAIN = path.join(ROOT, 'libs/eventstore/dist/store-gateway-main.js');
const COMPUTE = ['worker', 'dispatch', 'evaluation'];
const CONTROL = L.SERVICES.filter((s) => !COMPUTE.includes(s));
const PG_URL = process.env.AEVO_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

// Observability off whatever the calling shell exports (as overhead.js).
const QUIET = {
  AEVO_METRICS_PORT: '',
  AEVO_HEALTH_PORT: '',
  OTEL_EXPORTER_OTLP_ENDPOINT: '',
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '',
  AEVO_OTLP_ENDPOINT: '',
};

function startGateway(run, hubUrl) {
  const child = spawn(process.execPath, [GATEWAY_MAIN], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      AEVO_DATABASE_URL: PG_URL,
      AEVO_DB_SCHEMA: run.schema,
      AEVO_NATS_URL: hubUrl,
      AEVO_NATS_CREDENTIALS_DIR: run.credentialsDir,
      AEVO_SUBJECT_PREFIX: run.prefix,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (d) => (out = (out + String(d)).slice(-8000));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((r) => child.once('exit', () => r()));
  return {
    pid: child.pid,
    ready: async () => {
      const deadline = Date.now() + 60_000;
      while (!/"msg":"serving"/.test(out)) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`store gateway did not start:\n${out}`);
        await L.sleep(100);
      }
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

async function measure(o, setup) {
  const run = L.newRun(`domains-${setup}`, o.keep);
  const stacks = [];
  let nats = null;
  let gateway = null;
  try {
    const substrate = L.prepareSubstrate(run);
    nats = await startNatsPair(run);
    run.natsUrl = nats.hub.url;
    run.credentialsDir = nats.credentialsDir;
    const { natsAuthFor } = require(path.join(ROOT, 'libs/eventstore/dist/index.js'));
    run.natsAuth = natsAuthFor({ AEVO_NATS_CREDENTIALS_DIR: run.credentialsDir }, 'cli');
    const common = { cpuSlots: o.slots, workerConcurrency: o.workers, env: QUIET };
    if (setup === 'single') stacks.push(await L.startStack(run, common));
    else {
      gateway = startGateway(run, nats.hub.url);
      await gateway.ready();
      stacks.push(await L.startStack(run, { ...common, services: CONTROL }));
      const compute = {
        AEVO_NATS_URL: nats.leaf.url,
        AEVO_JS_DOMAIN: COMPUTE_DOMAIN,
        AEVO_EVENT_STORE: 'remote',
        AEVO_DATABASE_URL: undefined,
        AEVO_DB_SCHEMA: undefined,
      };
      const serviceEnv = Object.fromEntries(COMPUTE.map((s) => [s, compute]));
      stacks.push(await L.startStack(run, { ...common, services: COMPUTE, serviceEnv }));
    }
    const cpuOf = () => {
      let total = 0;
      for (const st of stacks) {
        st.sampleMemory();
        for (const v of Object.values(st.cpu())) total += v;
      }
      if (gateway) total += require('./measure').cpuMsOf(gateway.pid) ?? 0;
      return total;
    };
    const cpu0 = cpuOf();
    const config = L.campaignConfig(`bench-dom-${run.id}`, substrate, {
      rounds: o.rounds,
      workers: o.workers,
      seed: o.seed,
    });
    // Any stack's failure fails the run (runCampaign watches one `failure` field).
    const watch = {
      get failure() {
        return stacks.map((s) => s.failure).find(Boolean) || null;
      },
    };
    const { t0, tEnd, events } = await L.runCampaign(run, watch, config, { stallMs: o['stall-seconds'] * 1000 });
    const cpu = cpuOf() - cpu0;
    const jobs = L.jobIntervals(run);
    const candidates = new Set(events.filter((e) => e.type === 'CandidateForked').map((e) => e.data.candidateId)).size;
    const wall = tEnd - t0;
    const orchestration = wall - L.unionLength(jobs);
    return {
      setup,
      candidates,
      jobs: jobs.length,
      events: events.length,
      wall,
      orchestration,
      perCandidate: orchestration / candidates,
      cpuPerCandidate: cpu / candidates,
      load: require('node:os').loadavg()[0],
    };
  } finally {
    for (const st of stacks.reverse()) await st.stop().catch(() => undefined);
    await gateway?.stop();
    await nats?.stop();
    await L.cleanup(run, null);
  }
}

const fmt = (ms) => `${Math.round(ms)} ms`;

async function main() {
  const o = L.parseFlags(
    { pairs: 2, workers: 8, rounds: 2, slots: 1, seed: 1, keep: false, 'stall-seconds': 300 },
    'node bench/campaign/domains.js [--pairs 2] [--workers 8] [--rounds 2] [--slots 1] [--seed 1] [--keep]',
  );
  L.checkBuilds();
  console.log(`# orchestration overhead, one cluster vs two JetStream domains (${L.machine()})`);
  console.log(`${o.pairs} pairs of ${o.rounds} rounds × ${o.workers} workers, ${o.slots} CPU slot(s), seed ${o.seed}`);
  const rows = [];
  for (let i = 0; i < o.pairs; i++) {
    // Alternate which goes first, so that drift in the machine's load falls on both alike.
    const order = i % 2 === 0 ? ['single', 'two-domain'] : ['two-domain', 'single'];
    const pair = {};
    for (const setup of order) {
      pair[setup] = await measure(o, setup);
      const r = pair[setup];
      console.log(
        `  pair ${i + 1} ${setup.padEnd(10)} ${r.candidates} candidates, ${r.jobs} jobs, ${r.events} events: wall ` +
          `${L.secs(r.wall)}, orchestration ${fmt(r.perCandidate)}/candidate, service CPU ` +
          `${fmt(r.cpuPerCandidate)}/candidate, load ${r.load.toFixed(1)}`,
      );
    }
    rows.push(pair);
  }
  const ratios = rows.map((p) => p['two-domain'].perCandidate / p.single.perCandidate);
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log('\n| pair | single: orchestration / cand. | two domains | **ratio** | CPU / cand. single · two |');
  console.log('|---|---|---|---|---|');
  rows.forEach((p, i) =>
    console.log(
      `| ${i + 1} | ${fmt(p.single.perCandidate)} | ${fmt(p['two-domain'].perCandidate)} | ` +
        `**${ratios[i].toFixed(2)}×** | ${fmt(p.single.cpuPerCandidate)} · ${fmt(p['two-domain'].cpuPerCandidate)} |`,
    ),
  );
  const pooled = mean(rows.map((p) => p['two-domain'].perCandidate)) / mean(rows.map((p) => p.single.perCandidate));
  console.log(
    `\nratio two-domain / single: per pair ${ratios.map((r) => r.toFixed(2)).join(', ')}; of the means ` +
      `${pooled.toFixed(2)}× (target ≤ 1.5×: ${pooled <= 1.5 ? 'met' : 'NOT met'})`,
  );
}

main().catch((err) => {
  console.error(err instanceof Error ? err.stack : String(err));
  process.exit(1);
});
