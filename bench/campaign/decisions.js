'use strict';
/*
 * Decision digest of a fixed-seed simulated campaign: what the loop decided (candidates and their axes, recipes,
 * dev scores, selections, submissions and leaderboard scores, evidence, policy revisions, promotions), with what
 * only says *when* or *where* it happened left out (times, durations, positions, event ids, process ids, host
 * paths, log text). Two runs of the same commit should print the same digest; a refactoring that claims
 * "behaviour unchanged" runs this on the old and the new build and compares.
 *
 *   node bench/campaign/decisions.js [--rounds 2] [--workers 4] [--seed 7] [--runs 2] [--out FILE]
 *
 * Run the same file from another checkout (copied next to its bench/campaign/lib.js) to digest that build.
 */
const fs = require('node:fs');
const crypto = require('node:crypto');
const L = require('./lib');

const USAGE = 'node bench/campaign/decisions.js [--rounds N] [--workers N] [--seed N] [--runs N] [--out FILE]';

/** Event types that carry decisions; the rest (job lifecycle, sandbox checks, dead letters) are mechanics. */
const DECISIONS = new Set([
  'CampaignStarted',
  'RoundStarted',
  'CandidateForked',
  'ManifestSubmitted',
  'CheckpointEvaluated',
  'CheckpointSelected',
  'EvaluationCompleted',
  'SubmissionRequested',
  'LeaderboardScored',
  'RoundEvidenceRecorded',
  'PolicyRevised',
  'RoundClosed',
  'CandidateInvalidated',
  'CampaignCompleted',
]);

/**
 * Keys whose values say when, where or how long — not what was decided. The evidence's hash covers the ids of the
 * events it was built from (new ids every run); the evidence itself is compared field by field.
 */
const VOLATILE = new RegExp(
  '(^time$|At$|^at$|Ms$|Seconds$|^duration|^elapsed|^pid$|^host|[pP]ath$|[pP]aths$|Dir$|^logTail$|^log$|^eventId$|' +
    '^causationId$|^correlationId$|^position$|^jobId$|^jobIds$|^sandbox|^workerId$|^consumer|^inputEventIds$|' +
    '^evidenceSha256$)',
);

function normalise(value) {
  if (Array.isArray(value)) return value.map(normalise);
  if (value && typeof value === 'object') {
    const out = {};
    for (const k of Object.keys(value).sort()) if (!VOLATILE.test(k)) out[k] = normalise(value[k]);
    return out;
  }
  if (typeof value === 'string' && value.startsWith('/')) return '<path>';
  return value;
}

async function once(o) {
  const run = L.newRun('decisions', false);
  let stack;
  try {
    const substrate = L.prepareSubstrate(run);
    // The board's secret is fixed too: otherwise each run draws its own hidden split, and the leaderboard scores (and
    // every decision after them) differ by design.
    const env = { AEVO_LEADERBOARD_SECRET: 'decisions-digest-fixed-secret' };
    stack = await L.startStack(run, { cpuSlots: 2, workerConcurrency: o.workers, env });
    const config = L.campaignConfig('decisions-fixed', substrate, {
      rounds: o.rounds,
      workers: o.workers,
      seed: o.seed,
    });
    const { events } = await L.runCampaign(run, stack, config, { stallMs: 240_000 });
    // Order within a round depends on which job finished first: sort by what the event is about, not by position.
    const rows = events
      .filter((e) => DECISIONS.has(e.type))
      .map((e) => JSON.stringify([e.type, e.streamId, normalise(e.data)]))
      .sort();
    return rows;
  } finally {
    await L.cleanup(run, stack);
  }
}

async function main() {
  const o = L.parseFlags({ rounds: 2, workers: 4, seed: 7, runs: 2, out: '' }, USAGE);
  const digests = [];
  for (let i = 0; i < o.runs; i++) {
    const rows = await once(o);
    const sha = crypto.createHash('sha256').update(rows.join('\n')).digest('hex');
    digests.push(sha);
    if (o.out) fs.writeFileSync(`${o.out}.${i}`, rows.join('\n') + '\n');
    const counts = {};
    for (const r of rows) counts[JSON.parse(r)[0]] = (counts[JSON.parse(r)[0]] ?? 0) + 1;
    console.log(`run ${i + 1}: ${rows.length} decision events, digest ${sha}`);
    console.log(
      `  ${Object.entries(counts)
        .map(([t, n]) => `${t} ${n}`)
        .join(' · ')}`,
    );
  }
  const same = digests.every((d) => d === digests[0]);
  console.log(same ? `all ${digests.length} runs: the same decisions` : 'runs DIFFER (see --out files)');
  process.exitCode = same ? 0 : 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
