#!/usr/bin/env node
// Token spend of a 60-turn Claude candidate against the strict loopback Messages API (see README.md).
//   npx nx run @aevo/worker-kit:build && node bench/worker/claude-tokens.js [--turns 60] [--file-chars 10000]
// Printed, not asserted: how the tokens per turn and the total grow with the number of turns, for the worker as
// configured (cached conversation, old tool results cleared past the threshold) and, as the baseline in the same
// run, the same worker with clearing off (the context only grows).
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Client } = require('pg');
const Anthropic = require('@anthropic-ai/sdk').default;

const ROOT = path.resolve(__dirname, '../..');
const kit = require(path.join(ROOT, 'libs/worker-kit/dist/index.js'));
const { PostgresEventStore } = require(path.join(ROOT, 'libs/eventstore/dist/index.js'));
const { LocalExecutor } = require(path.join(ROOT, 'libs/executors/dist/index.js'));
const { DEFAULT_CLAUDE_MODEL } = require(path.join(ROOT, 'libs/contracts/dist/index.js'));
// Built with worker-kit (its dev dependency).
const { policies } = require(path.join(ROOT, 'libs/testkit/dist/index.js'));
const { placeSnapshot, forkSandbox, removeHome } = require('../sandbox/home');

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
};
const TURNS = arg('turns', 60);
const FILE_CHARS = arg('file-chars', 10_000);
const PG = process.env.AEVO_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

/** The scripted model: writes one file, reads it every turn (a log or file it keeps looking at), submits at the end. */
const readerModel = (turns) => (req) => {
  const turn = req.messages.filter((m) => m.role === 'assistant').length;
  if (turn === 0)
    return {
      content: [
        {
          type: 'tool_use',
          name: 'write_file',
          input: { path: 'pipeline/notes.txt', content: 'n'.repeat(FILE_CHARS) },
        },
      ],
    };
  if (turn < turns - 1)
    return {
      content: [
        { type: 'text', text: `Turn ${turn}: reading the notes again.` },
        { type: 'tool_use', name: 'read_file', input: { path: 'pipeline/notes.txt' } },
      ],
    };
  return {
    content: [
      {
        type: 'tool_use',
        name: 'submit_manifest',
        input: { status: 'failed', hypothesis: 'bench: reads only', reason: 'nothing evaluated' },
      },
    ],
  };
};

async function main() {
  const schema = `aevo_bench_claude_${process.pid}`;
  const admin = new Client({ connectionString: PG });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  const store = await PostgresEventStore.open({ connectionString: PG, schema, poolSize: 4 });
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-claude-'));
  const { snapshotId, snapshotPath } = placeSnapshot(path.join(ROOT, 'substrate/simulated'), home);
  const executor = new LocalExecutor({ home, cpuSlots: 1, pollMs: 20, sandbox: 'none' });
  await executor.recover();
  const jobs = new kit.LocalJobPort(executor, 'bench', { pollMs: 20 });
  const evaluator = new kit.LocalEvaluationPort(jobs, {
    scoresDir: path.join(home, 'scores'),
    size: 'tiny',
    device: 'cpu',
  });
  // The tests' hand-set policy (one axis: learning-rate), with the bench's one anchor seed.
  const standingRecipe = kit.parseRecipeYaml(fs.readFileSync(path.join(snapshotPath, 'recipe.yaml'), 'utf8'));
  const policy = policies.plain(0, standingRecipe, { anchorSeeds: 1, rationale: 'bench' });
  const config = {
    campaignId: 'bench',
    workerId: 'bench',
    agentKind: 'claude',
    size: 'tiny',
    device: 'cpu',
    maxWaitSeconds: 120,
  };
  const lines = [];
  try {
    let n = 0;
    for (const [label, context] of [
      ['as configured (default: clear at 60,000 tokens, keep 4 turns)', {}],
      ['baseline: clearing off', { clearAtTokens: Number.MAX_SAFE_INTEGER }],
    ]) {
      const server = await kit.startAnthropicLoopback(readerModel(TURNS));
      try {
        const candidateId = `bench-r1-c${++n}`;
        const fork = {
          round: 1,
          candidateId,
          index: 1,
          axis: 'learning-rate',
          isAnchor: false,
          seeds: [1],
          snapshotId,
          sandboxPath: forkSandbox(snapshotPath, home, candidateId),
          policyRevision: 0,
        };
        const agent = new kit.ClaudeAgent({
          client: new Anthropic({ apiKey: 'bench', baseURL: server.url, maxRetries: 0 }),
          model: DEFAULT_CLAUDE_MODEL,
          constitutionExcerpt:
            'Constitution bench 1: the leaderboard is authoritative; the dead-end registry only grows.',
          context,
        });
        const ports = {
          log: new kit.EventStoreCandidateLog(store, kit.candidateStreamId(candidateId)),
          jobs,
          evaluator,
        };
        const out = await kit.runCandidate({ fork, policy }, config, ports, agent, {
          budget: { maxTokens: 100_000_000, maxToolCalls: 1000 },
        });
        const steps = (await store.readStream(kit.candidateStreamId(candidateId))).filter(
          (e) => e.type === 'TraceStepRecorded' && e.data.tool === 'llm' && e.data.phase === 'outcome',
        );
        const usage = steps.map((e) => e.data.output.usage);
        const perTurn = usage.map(
          (u) => u.input_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens + u.output_tokens,
        );
        const cumulative = perTurn.reduce((acc, t) => [...acc, (acc[acc.length - 1] ?? 0) + t], []);
        const sum = (k) => usage.reduce((s, u) => s + u[k], 0);
        const at = (k) => cumulative[Math.min(k, cumulative.length) - 1];
        lines.push(`${label}: ${steps.length} model turns, candidate ${out.kind}`);
        lines.push(
          `  tokens sent per turn (prompt + output) at turns 10/20/30/40/50/60: ` +
            `${[10, 20, 30, 40, 50, 60].map((k) => perTurn[Math.min(k, perTurn.length) - 1]).join(' / ')}`,
        );
        lines.push(
          `  cumulative at turns 15/30/60: ${at(15)} / ${at(30)} / ${at(60)}; ratio 60:30 = ` +
            `${(at(60) / at(30)).toFixed(2)} (2.0 linear, 4.0 quadratic)`,
        );
        lines.push(
          `  totals: plain input ${sum('input_tokens')}, cache writes ` +
            `${sum('cache_creation_input_tokens')}, cache reads ${sum('cache_read_input_tokens')}, output ` +
            `${sum('output_tokens')}`,
        );
        const largest = Math.max(
          ...usage.map((u) => u.input_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens),
        );
        lines.push(`  largest prompt: ${largest} tokens; requests refused by the fake: ${server.refused.length}`);
      } finally {
        await server.close();
      }
    }
  } finally {
    await executor.close();
    await store.close();
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.end();
    removeHome(home);
  }
  console.log(
    `Claude worker token spend, ${TURNS}-turn candidate reading a ${FILE_CHARS}-character file each turn ` +
      `(strict loopback fake, ~4 characters a token):`,
  );
  for (const l of lines) console.log(l);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
