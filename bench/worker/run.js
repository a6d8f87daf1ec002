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
const { TraceStepRecorded, createEvent } = require(path.join(ROOT, 'libs/contracts/dist/index.js'));
// Built with worker-kit (its dev dependency).
const { policies } = require(path.join(ROOT, 'libs/testkit/dist/index.js'));
const { placeSnapshot, forkSandbox, removeHome } = require('../sandbox/home');

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
  // The tests' hand-set policy (one axis: learning-rate), with the bench's one anchor seed.
  const standingRecipe = kit.parseRecipeYaml(fs.readFileSync(path.join(substrateDir, 'recipe.yaml'), 'utf8'));
  return policies.plain(0, standingRecipe, { anchorSeeds: 1, rationale: 'bench' });
}

async function main() {
  const schema = `aevo_bench_worker_${process.pid}`;
  const admin = new Client({ connectionString: PG });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  const store = await PostgresEventStore.open({ connectionString: PG, schema, poolSize: 8 });
  // The executor's AEVO_HOME is the bench's directory: jobs are sandboxed (bubblewrap, the default) and a sandbox
  // must lie inside it and name a snapshot under <home>/snapshots; the scores directory is inside it too.
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-worker-'));
  const { snapshotId, snapshotPath } = placeSnapshot(path.join(ROOT, 'substrate/simulated'), home);
  const policy = policyFor(snapshotPath);
  const onError = (err, context) => console.error(`executor ${context}: ${err.message}`);
  const executor = new LocalExecutor({ home, cpuSlots: 2, pollMs: 20, onError });
  // Measurement 3 is repeated on an unsandboxed executor (the operator opt-out) to show the sandbox's share.
  const unsandboxed = new LocalExecutor({
    home,
    cpuSlots: 2,
    pollMs: 20,
    sandbox: 'none',
    stateDir: path.join(home, 'dispatch', 'unsandboxed-jobs'),
    logDir: path.join(home, 'logs', 'unsandboxed'),
    onError,
  });
  await executor.recover();
  await unsandboxed.recover();
  const portsFor = (ex) => {
    const jobs = new kit.LocalJobPort(ex, 'bench', { pollMs: 20 });
    return {
      jobs,
      evaluator: new kit.LocalEvaluationPort(jobs, {
        scoresDir: path.join(home, 'scores'),
        size: 'tiny',
        device: 'cpu',
      }),
    };
  };
  const sandboxedPorts = portsFor(executor);
  const unsandboxedPorts = portsFor(unsandboxed);
  let n = 0;
  const fork = (axis, over = {}) => {
    const candidateId = `bench-r1-c${++n}`;
    const sandboxPath = forkSandbox(snapshotPath, home, candidateId);
    return {
      round: 1,
      candidateId,
      index: 1,
      axis,
      isAnchor: false,
      seeds: [1],
      snapshotId,
      sandboxPath,
      policyRevision: 0,
      ...over,
    };
  };
  const config = {
    campaignId: 'bench',
    workerId: 'bench',
    agentKind: 'heuristic',
    size: 'tiny',
    device: 'cpu',
    maxWaitSeconds: 120,
  };
  const ports = (id, via = sandboxedPorts) => ({
    log: new kit.EventStoreCandidateLog(store, kit.candidateStreamId(id)),
    ...via,
  });
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
    const recipe = fs.readFileSync(path.join(snapshotPath, 'recipe.yaml'), 'utf8');
    const raw = await best(async () => {
      const stream = `raw-${++n}`;
      let v = 0;
      for (let i = 0; i < CALLS; i++) {
        const events = ['intent', 'outcome'].map((phase) => {
          const data = { candidateId: 'raw', step: i, phase, tool: 'read_file', input: { path: 'recipe.yaml' } };
          if (phase === 'outcome')
            Object.assign(data, {
              ok: true,
              output: { path: 'recipe.yaml', content: recipe, bytes: recipe.length, truncated: false },
            });
          return createEvent(TraceStepRecorded, data, { campaignId: 'bench', streamId: stream, source: 'worker' });
        });
        await store.append(stream, v === 0 ? 'no-stream' : v, events);
        v += events.length;
      }
    });
    results.push([
      'tool call recorded as intent+outcome (per call)',
      traced.ms / CALLS,
      'one raw append of the same two events',
      raw.ms / CALLS,
    ]);

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
          if (
            lastEvent.type === 'TraceStepRecorded' &&
            lastEvent.data.tool === 'evaluate_checkpoints' &&
            lastEvent.data.phase === 'outcome'
          )
            throw new Crash();
        },
      };
      await kit
        .runCandidate({ fork: g, policy }, config, ports(g.candidateId), new kit.HeuristicAgent(), { hooks })
        .catch((e) => {
          if (!(e instanceof Crash)) throw e;
        });
      const t = now();
      const out = await kit.runCandidate({ fork: g, policy }, config, ports(g.candidateId), new kit.HeuristicAgent());
      if (out.kind !== 'submitted') throw new Error(`resume ended ${out.kind}`);
      return now() - t;
    });
    results.push(['resume a candidate from its trace (replay)', resume.ms, 'run the same candidate fresh', fresh.ms]);

    // 3. Worker overhead on a whole candidate vs the wall time of the jobs it ran (prepare, train, evaluations), with
    //    sandboxed and unsandboxed jobs alternating candidate by candidate (so machine drift hits both alike). Time
    //    outside jobs includes the executor's launch work (for a sandboxed job: planning and preparing its mounts).
    const acc = {
      bubblewrap: { overhead: 0, jobWall: 0, total: 0, jobs: 0 },
      none: { overhead: 0, jobWall: 0, total: 0, jobs: 0 },
    };
    for (let c = 0; c < CANDIDATES; c++) {
      for (const mode of c % 2 === 0 ? ['bubblewrap', 'none'] : ['none', 'bubblewrap']) {
        const ex = mode === 'none' ? unsandboxed : executor;
        const g = fork(['learning-rate', 'data-mix', 'steps', 'warmup'][c % 4]);
        const t = now();
        const out = await kit.runCandidate(
          { fork: g, policy },
          config,
          ports(g.candidateId, mode === 'none' ? unsandboxedPorts : sandboxedPorts),
          new kit.HeuristicAgent(),
        );
        const total = now() - t;
        const ran = ex.views().filter((v) => v.outcome && v.jobId.startsWith(g.candidateId));
        const wall = ran.reduce((s, v) => s + v.outcome.wallSeconds * 1000, 0);
        acc[mode].jobs += ran.length;
        if (out.kind !== 'submitted') throw new Error(`candidate ${g.candidateId} (${mode}) ended ${out.kind}`);
        acc[mode].overhead += Math.max(0, total - wall);
        acc[mode].jobWall += wall;
        acc[mode].total += total;
      }
    }
    const a = acc.bubblewrap;
    const b = acc.none;
    results.push([
      `worker time outside jobs (${CANDIDATES} candidates, simulated, sandboxed jobs)`,
      a.overhead / CANDIDATES,
      'job wall time (sequential sum)',
      a.jobWall / CANDIDATES,
    ]);
    results.push([
      `worker time outside jobs (${CANDIDATES} candidates, simulated, unsandboxed jobs)`,
      b.overhead / CANDIDATES,
      'job wall time (sequential sum)',
      b.jobWall / CANDIDATES,
    ]);
    results.push([
      `whole candidate, sandboxed jobs (${(a.jobs / CANDIDATES).toFixed(1)} jobs each)`,
      a.total / CANDIDATES,
      'the same, unsandboxed jobs',
      b.total / CANDIDATES,
    ]);
  } finally {
    await executor.close();
    await unsandboxed.close();
    await store.close();
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.end();
    removeHome(home);
  }

  console.log(
    `bench/worker  (node ${process.version}, ${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(1)}; ` +
      `best of ${ROUNDS})`,
  );
  for (const [what, v, base, b] of results)
    console.log(`  ${what}: ${fmt(v)}   baseline (${base}): ${fmt(b)}   ratio ${(v / b).toFixed(2)}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
