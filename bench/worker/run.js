#!/usr/bin/env node
// Worker runtime benchmarks, each against a baseline measured in the same run (see README.md).
//   npx nx run @aevo/worker-kit:build && node bench/worker/run.js [--calls 200] [--candidates 4] [--rounds 2]
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Client } = require('pg');

const ROOT = path.resolve(__dirname, '../..');
const kit = require(path.join(ROOT, 'libs/worker-kit/dist/index.js'));
const { PostgresEventStore } = require(path.join(ROOT, 'libs/eventstore/dist/index.js'));
const { LocalExecutor } = require(path.join(ROOT, 'libs/executors/dist/index.js'));
const { RollingPolicy, TraceStepRecorded, createEvent } = require(path.join(ROOT, 'libs/contracts/dist/index.js'));

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
};
const CALLS = arg('calls', 200);
const CANDIDATES = arg('candidates', 4);
const ROUNDS = arg('rounds', 2);
const PG = process.env.AEVO_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

const now = () => Number(process.hrtime.bigint()) / 1e6;
/** Best of ROUNDS (other processes only ever make a number worse); `fn` may return its own measured ms. */
const best = async (fn) => {
  let b = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const t = now();
    const v = await fn(r);
    b = Math.min(b, typeof v === 'number' ? v : now() - t);
  }
  return { ms: b };
};
const fmt = (ms) => `${ms.toFixed(1)} ms`;

function policyFor(substrateDir) {
  return RollingPolicy.parse({
    revision: 0,
    forRound: 1,
    standingRecipe: kit.parseRecipeYaml(fs.readFileSync(path.join(substrateDir, 'recipe.yaml'), 'utf8')),
    activeCategory: 'optimisation',
    activeAxes: ['learning-rate'],
    retiredAxes: [],
    deadEnds: [],
    promotionThreshold: 0.01,
    noiseBand: { devStd: 0, lbStd: 0, seeds: 0, round: 0 },
    anchorSeeds: 1,
    selectionCriterion: { kind: 'mean' },
    objective: 'raise-dev-and-lb',
    evidenceRules: [],
    bestPublicLb: null,
    plateauRounds: 0,
    rationale: 'bench',
  });
}

async function main() {
  const schema = `aevo_bench_worker_${process.pid}`;
  const admin = new Client({ connectionString: PG });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  const store = await PostgresEventStore.open({ connectionString: PG, schema, poolSize: 8 });
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-worker-'));
  const substrateDir = path.join(home, 'substrate');
  fs.cpSync(path.join(ROOT, 'substrate/simulated'), substrateDir, { recursive: true });
  const policy = policyFor(substrateDir);
  const executor = new LocalExecutor({ home: path.join(home, 'exec'), cpuSlots: 2, pollMs: 20 });
  await executor.recover();
  const jobs = new kit.LocalJobPort(executor, 'bench', { pollMs: 20 });
  const evaluator = new kit.LocalEvaluationPort(jobs, { scoresDir: path.join(home, 'scores'), size: 'tiny', device: 'cpu' });
  let n = 0;
  const fork = (axis, over = {}) => {
    const candidateId = `bench-r1-c${++n}`;
    const sandboxPath = path.join(home, 'sandboxes', candidateId);
    kit.forkSandbox(substrateDir, sandboxPath);
    return { round: 1, candidateId, index: 1, axis, isAnchor: false, seeds: [1], snapshotId: 'a'.repeat(64), sandboxPath, policyRevision: 0, ...over };
  };
  const config = { campaignId: 'bench', workerId: 'bench', agentKind: 'heuristic', size: 'tiny', device: 'cpu', maxWaitSeconds: 120 };
  const ports = (id) => ({ log: new kit.EventStoreCandidateLog(store, kit.candidateStreamId(id)), jobs, evaluator });
  const results = [];

  try {
    // 1. Recording every tool call as a trace step vs the same events appended raw. A local tool's intent and
    //    outcome go out in one append (the intent is staged until the step's first append), so the baseline is one
    //    raw append of the same two events per call.
    const reader = {
      kind: 'heuristic',
      async run(rt) {
        for (let i = 0; i < CALLS; i++) await rt.call('read_file', { path: 'recipe.yaml' });
        await rt.abandon('bench done');
      },
    };
    const traced = await best(async () => {
      const f = fork('learning-rate');
      await kit.runCandidate({ fork: f, policy }, config, ports(f.candidateId), reader);
    });
    const recipe = fs.readFileSync(path.join(substrateDir, 'recipe.yaml'), 'utf8');
    const raw = await best(async () => {
      const stream = `raw-${++n}`;
      let v = 0;
      for (let i = 0; i < CALLS; i++) {
        const events = ['intent', 'outcome'].map((phase) => {
          const data = { candidateId: 'raw', step: i, phase, tool: 'read_file', input: { path: 'recipe.yaml' } };
          if (phase === 'outcome') Object.assign(data, { ok: true, output: { path: 'recipe.yaml', content: recipe, bytes: recipe.length, truncated: false } });
          return createEvent(TraceStepRecorded, data, { campaignId: 'bench', streamId: stream, source: 'worker' });
        });
        await store.append(stream, v === 0 ? 'no-stream' : v, events);
        v += events.length;
      }
    });
    results.push(['tool call recorded as intent+outcome (per call)', traced.ms / CALLS, 'one raw append of the same two events', raw.ms / CALLS]);

    // 2. Resuming a finished trace (replay, nothing re-executed) vs running the candidate fresh.
    const fresh = await best(async () => {
      const f = fork('learning-rate');
      await kit.runCandidate({ fork: f, policy }, config, ports(f.candidateId), new kit.HeuristicAgent());
    });
    // Crash a run just after it recorded its evaluation's outcome (the submission's intent and outcome are one
    // append), then time the replica that resumes it: it replays every recorded step (no job, no evaluation runs
    // again) and executes only the submission.
    class Crash extends Error {}
    const resume = await best(async () => {
      const g = fork('learning-rate');
      const hooks = {
        afterAppend: ({ lastEvent }) => {
          if (lastEvent.type === 'TraceStepRecorded' && lastEvent.data.tool === 'evaluate_checkpoints' && lastEvent.data.phase === 'outcome') throw new Crash();
        },
      };
      await kit.runCandidate({ fork: g, policy }, config, ports(g.candidateId), new kit.HeuristicAgent(), { hooks }).catch((e) => {
        if (!(e instanceof Crash)) throw e;
      });
      const t = now();
      const out = await kit.runCandidate({ fork: g, policy }, config, ports(g.candidateId), new kit.HeuristicAgent());
      if (out.kind !== 'submitted') throw new Error(`resume ended ${out.kind}`);
      return now() - t;
    });
    results.push(['resume a candidate from its trace (replay)', resume.ms, 'run the same candidate fresh', fresh.ms]);

    // 3. Worker overhead on a whole candidate vs the wall time of the jobs it ran (prepare, train, evaluations).
    let overhead = 0;
    let jobWall = 0;
    for (let c = 0; c < CANDIDATES; c++) {
      const g = fork(['learning-rate', 'data-mix', 'steps', 'warmup'][c % 4]);
      const t = now();
      const out = await kit.runCandidate({ fork: g, policy }, config, ports(g.candidateId), new kit.HeuristicAgent());
      const total = now() - t;
      const wall = executor.views().filter((v) => v.outcome && v.jobId.startsWith(g.candidateId)).reduce((s, v) => s + v.outcome.wallSeconds * 1000, 0);
      if (out.kind !== 'submitted') throw new Error(`candidate ${g.candidateId} ended ${out.kind}`);
      overhead += Math.max(0, total - wall);
      jobWall += wall;
    }
    results.push([`worker time outside jobs (${CANDIDATES} candidates, simulated)`, overhead / CANDIDATES, 'job wall time (sequential sum)', jobWall / CANDIDATES]);
  } finally {
    await executor.close();
    await store.close();
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.end();
    fs.rmSync(home, { recursive: true, force: true });
  }

  console.log(`bench/worker  (node ${process.version}, ${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(1)}; best of ${ROUNDS})`);
  for (const [what, v, base, b] of results) console.log(`  ${what}: ${fmt(v)}   baseline (${base}): ${fmt(b)}   ratio ${(v / b).toFixed(2)}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
