#!/usr/bin/env node
'use strict';
/*
 * Orchestration overhead per candidate on the simulated substrate (issue 7 target: < 150 ms).
 *
 * Every service runs as its own built process against PostgreSQL and nats-server, with its own schema, stream,
 * subject prefix and AEVO_HOME. For each size in --workers (default 8 and 32 workers per round), a campaign of
 * --rounds × workers candidates runs to CampaignCompleted on the local executor with --slots CPU slot(s). Then:
 *   time inside jobs   = the union of the jobs' [spawn, exit] intervals (the executor's own records), i.e. the
 *                        time during which at least one job ran — with one slot, the plain sum;
 *   orchestration time = campaign wall time (StartCampaign sent → CampaignCompleted appended) − time inside jobs:
 *                        the time nothing ran because the control plane was deciding, recording or relaying;
 *   overhead / candidate = orchestration time / candidates, split into idle time at round starts, within rounds
 *                        and in round tails (submissions → scores → evidence → policy → close, final audit);
 *   control-plane CPU  = user+sys time of the service processes during the campaign (start-up excluded).
 * Baseline, same run, after the services are stopped: the very same jobs' commands (argv, sandbox, env from their
 * specs) run back-to-back directly in their sandboxes, in the order they ran. Interleaved with them (job by job,
 * alternating which goes first), the same commands through the executor's sandbox (prlimit … setpriv … bwrap …,
 * built from its own planIsolation/bwrapArgs): the difference per job is the sandbox's added cost, also printed as
 * a ratio to the direct run and to a 20 s job (issue "Untrusted candidate code": < 5 % of a 20 s job, < 50 ms).
 * A table of per-stage latencies (medians over candidates, jobs or rounds) shows where the time goes; with two
 * sizes, the marginal overhead per extra candidate separates the per-round fixed part from the per-candidate one.
 *
 * --observability: every size runs twice in the same invocation, first with metrics and tracing off (the
 * default), then on — each service serves /metrics (AEVO_METRICS_PORT=0, an ephemeral port) and this process scrapes
 * all of them every 15 s (right after start-up, too), and each exports spans over OTLP/HTTP
 * (OTEL_EXPORTER_OTLP_ENDPOINT) to a sink in this
 * process that accepts and discards them — and the ratios on/off of overhead per candidate and of control-plane CPU
 * per candidate are printed (issue 17 target: within 10 %).
 */
const L = require('./lib');
const { stageLatencies, idleByPhase, handovers } = require('./analysis');

const USAGE =
  'node bench/campaign/overhead.js [--rounds 2] [--workers 8,32] [--slots 1] [--seed 1] [--keep] ' +
  '[--cpu-prof DIR] [--timeline FILE] [--observability]';
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');

/**
 * An OTLP/HTTP endpoint that accepts every export (what a collector costs the services) and keeps, per trace id, the
 * services its spans came from — to show how far one trace reaches across the real services.
 */
async function spanSink() {
  const stats = { requests: 0, bytes: 0, spans: 0, traces: new Map() };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (d) => (chunks.push(d), (stats.bytes += d.length)));
    req.on('end', () => {
      if (req.url && req.url.startsWith('/v1/traces')) {
        stats.requests++;
        try {
          // OTLP/HTTP JSON (the exporter's default encoding): resourceSpans → scopeSpans → spans.
          for (const rs of JSON.parse(Buffer.concat(chunks).toString('utf8')).resourceSpans ?? []) {
            const service =
              (rs.resource?.attributes ?? []).find((a) => a.key === 'service.name')?.value?.stringValue ?? '?';
            for (const ss of rs.scopeSpans ?? [])
              for (const sp of ss.spans ?? []) {
                stats.spans++;
                const t = stats.traces.get(sp.traceId) ?? new Set();
                t.add(service);
                stats.traces.set(sp.traceId, t);
              }
          }
        } catch {
          // Another encoding: counted, not read.
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, stats, close: () => new Promise((r) => server.close(r)) };
}

/** Prometheus' common scrape interval (its own default is 1 min; ServiceMonitors often use 15–30 s). */
const SCRAPE_EVERY_MS = 15_000;

/** Scrapes every service's /metrics (URL from the line bootstrapService logs) every `everyMs`, as Prometheus would. */
function startScraping(run, services, everyMs) {
  const stats = { scrapes: 0, failed: 0, bytes: 0, services: 0 };
  const urls = [];
  for (const name of services) {
    const text = fs.readFileSync(path.join(run.logs, `${name}.log`), 'utf8');
    const m = /metrics (http:\/\/[^\s]+\/metrics)/.exec(text);
    if (m) urls.push(m[1]);
  }
  stats.services = urls.length;
  const scrape = (url) =>
    new Promise((resolve) => {
      http
        .get(url, (res) => {
          res.on('data', (d) => (stats.bytes += d.length));
          res.on('end', () => (res.statusCode === 200 ? stats.scrapes++ : stats.failed++, resolve()));
        })
        .on('error', () => (stats.failed++, resolve()));
    });
  void Promise.all(urls.map(scrape));
  const timer = setInterval(() => void Promise.all(urls.map(scrape)), everyMs);
  return { stats, stop: () => clearInterval(timer) };
}

const ms = (x) => `${Math.round(x)} ms`;

async function measure(o, workers, observability = false) {
  const run = L.newRun('overhead', o.keep);
  let stack;
  let sink = null;
  let scraping = null;
  try {
    const substrate = L.prepareSubstrate(run);
    console.log(
      `\n## ${o.rounds} rounds × ${workers} workers on ${o.slots} CPU slot(s), metrics and tracing ` +
        `${observability ? 'ON' : 'off'} (${L.machine()})`,
    );
    // --cpu-prof DIR: every service writes a V8 CPU profile there when it stops (open in Chrome DevTools).
    const nodeArgs = o['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', o['cpu-prof']] : [];
    const env = {};
    if (observability) {
      sink = await spanSink();
      Object.assign(env, {
        AEVO_METRICS_PORT: '0',
        AEVO_HEALTH_HOST: '127.0.0.1',
        OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
      });
    } else {
      // Off means off, whatever the calling shell exports.
      Object.assign(env, {
        AEVO_METRICS_PORT: '',
        AEVO_HEALTH_PORT: '',
        OTEL_EXPORTER_OTLP_ENDPOINT: '',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '',
        AEVO_OTLP_ENDPOINT: '',
      });
    }
    stack = await L.startStack(run, { cpuSlots: o.slots, workerConcurrency: workers, nodeArgs, env });
    if (observability) scraping = startScraping(run, L.SERVICES, SCRAPE_EVERY_MS);
    stack.sampleMemory();
    const cpu0 = stack.cpu();
    const config = L.campaignConfig(`bench-ovh-${run.id}`, substrate, { rounds: o.rounds, workers, seed: o.seed });
    const { t0, tEnd, events } = await L.runCampaign(run, stack, config, { stallMs: o['stall-seconds'] * 1000 });
    stack.sampleMemory();
    const cpu1 = stack.cpu();
    scraping?.stop();
    await stack.stop();
    if (observability)
      console.log(
        `observability: ${scraping.stats.scrapes} scrapes (every ${SCRAPE_EVERY_MS / 1000} s) of ` +
          `${scraping.stats.services} services' /metrics (${scraping.stats.failed} failed, ` +
          `${Math.round(scraping.stats.bytes / 1024)} KiB); ` +
          `${sink.stats.requests} OTLP span exports received (${sink.stats.spans} spans, ` +
          `${Math.round(sink.stats.bytes / 1024)} KiB) in ${sink.stats.traces.size} trace(s)`,
      );
    if (observability && sink.stats.traces.size > 0) {
      const widest = [...sink.stats.traces.values()].sort((a, b) => b.size - a.size)[0];
      console.log(`  the widest trace spans ${widest.size} services: ${[...widest].sort().join(', ')}`);
    }
    const serviceCpu = L.SERVICES.reduce((s, n) => s + ((cpu1[n] ?? 0) - (cpu0[n] ?? 0)), 0);
    const loadEnd = require('node:os').loadavg()[0];
    const jobs = L.jobIntervals(run);
    const candidates = new Set(events.filter((e) => e.type === 'CandidateForked').map((e) => e.data.candidateId)).size;
    const wall = tEnd - t0;
    const inside = L.unionLength(jobs);
    const sum = jobs.reduce((s, j) => s + (j.end - j.start), 0);
    const orchestration = wall - inside;
    const idle = idleByPhase(t0, tEnd, jobs, events);
    const failed = jobs.filter((j) => j.status !== 'succeeded').length;
    const requestedAt = new Map(
      events.filter((e) => e.type === 'JobRequested').map((e) => [e.data.spec.jobId, e.time]),
    );
    const gaps = handovers(jobs, requestedAt);
    // --timeline FILE: every event and job interval, ms after the clock started, for reading a run's critical path.
    if (o.timeline) {
      const rows = [
        ...events.map((e) => ({
          t: e.time - t0,
          what: e.type,
          round: e.data?.round ?? null,
          id: e.data?.candidateId ?? e.data?.jobId ?? null,
        })),
        ...jobs.flatMap((j) => [
          { t: j.start - t0, what: `job start ${j.entrypoint}`, round: j.round, id: j.jobId },
          { t: j.end - t0, what: `job end ${j.entrypoint}`, round: j.round, id: j.jobId },
        ]),
      ].sort((a, b) => a.t - b.t);
      require('node:fs').writeFileSync(
        `${o.timeline}.${workers}.tsv`,
        rows.map((r) => `${Math.round(r.t)}\t${r.what}\t${r.round ?? ''}\t${r.id ?? ''}`).join('\n') + '\n',
      );
    }

    // Baseline: the same commands back-to-back, nothing else of ours running; each also through the sandbox, right
    // before or after it (alternating), so that drift in the machine's load falls on both alike.
    let direct = 0;
    let directFailed = 0;
    let sandboxed = 0;
    let sandboxedFailed = 0;
    const added = [];
    const directTimes = [];
    for (const [i, j] of jobs.entries()) {
      const pair = {};
      for (const mode of i % 2 === 0 ? ['direct', 'sandboxed'] : ['sandboxed', 'direct']) {
        try {
          pair[mode] = mode === 'direct' ? await L.runDirect(j.spec) : await L.runSandboxed(j.spec, run.home);
        } catch (err) {
          pair[mode] = { ms: NaN, code: null, error: err };
        }
      }
      direct += pair.direct.ms;
      if (pair.direct.code !== 0) directFailed++;
      if (pair.sandboxed.code !== 0) {
        sandboxedFailed++;
        if (sandboxedFailed === 1)
          console.log(
            `  note: sandboxed re-run of ${j.jobId} failed: ` +
              `${pair.sandboxed.error ? pair.sandboxed.error.message : `exit code ${pair.sandboxed.code}`}`,
          );
        continue;
      }
      sandboxed += pair.sandboxed.ms;
      if (pair.direct.code === 0) {
        added.push(pair.sandboxed.ms - pair.direct.ms);
        directTimes.push(pair.direct.ms);
      }
    }
    const addedMedian = L.median(added);

    const perCand = orchestration / candidates;
    console.log(
      `campaign: ${candidates} candidates, ${jobs.length} jobs (${failed} not succeeded), ${events.length}` +
        ` events; load at end ${loadEnd.toFixed(1)}`,
    );
    console.log(`  wall time (StartCampaign → CampaignCompleted)   ${L.secs(wall)}`);
    console.log(`  time inside jobs (union of job intervals)         ${L.secs(inside)}   (Σ job time ${L.secs(sum)})`);
    console.log(`  orchestration time = wall − inside                ${L.secs(orchestration)}`);
    console.log(
      `    idle at round starts ${L.secs(idle.roundStart)} · within rounds ${L.secs(idle.within)} · round ` +
        `tails (submit → score → evidence → policy → close; final audit) ${L.secs(idle.roundTail)}`,
    );
    console.log(
      `  ORCHESTRATION OVERHEAD PER CANDIDATE              ${ms(perCand)}   target < 150 ms: ` +
        `${perCand < 150 ? 'met' : 'NOT met'}`,
    );
    console.log(
      `    of which within rounds (job-to-job, not hidden by other candidates) ${ms(idle.within / candidates)}`,
    );
    console.log(
      `    slot handover (exit → next waiting job started, same slot): median ${ms(L.median(gaps))}, p90 ` +
        `${ms(L.p90(gaps))}, Σ ${L.secs(gaps.reduce((a, b) => a + b, 0))} over ${gaps.length} handovers`,
    );
    console.log(
      `  control-plane CPU (user+sys of the 8 service processes, start-up excluded) ${L.secs(serviceCpu)} ` +
        `= ${ms(serviceCpu / candidates)} per candidate`,
    );
    console.log(
      `    per service: ` +
        `${L.SERVICES.map((n) => `${n} ${ms(((cpu1[n] ?? 0) - (cpu0[n] ?? 0)) / candidates)}`).join(' · ')}`,
    );
    console.log(
      `baseline: the same ${jobs.length} commands back-to-back directly: ${L.secs(direct)}` +
        `${directFailed ? ` (${directFailed} exited non-zero)` : ''}`,
    );
    console.log(`  campaign wall / direct                            ${(wall / direct).toFixed(2)}×`);
    console.log(
      `  Σ job time in the campaign / direct               ${(sum / direct).toFixed(2)}×   (the same ` +
        `commands while the services run)`,
    );
    console.log(`  orchestration time / direct job time              ${(orchestration / direct).toFixed(2)}×`);
    console.log(
      `sandbox: the same commands through the executor's sandbox, interleaved: ${L.secs(sandboxed)}` +
        `${sandboxedFailed ? ` (${sandboxedFailed} failed, left out)` : ''}; ` +
        `added per job median ${ms(addedMedian)}, p90 ${ms(L.p90(added))}, mean ` +
        `${ms(added.reduce((a, b) => a + b, 0) / added.length)} over ${added.length} jobs`,
    );
    console.log(
      `  sandboxed / direct, same jobs: ${(sandboxed / directTimes.reduce((a, b) => a + b, 0)).toFixed(2)}` +
        `× (a direct job takes ${ms(L.median(directTimes))} median here);   ` +
        `added / a 20 s job ${((100 * addedMedian) / 20_000).toFixed(2)} %   target < 50 ms and < 5 %: ` +
        `${addedMedian < 50 && addedMedian / 20_000 < 0.05 ? 'met' : 'NOT met'}`,
    );
    console.log('');
    console.log('per-stage latency (ms; events timed when appended, jobs by the executor):');
    console.log('| stage | n | median | p90 | what |');
    console.log('|---|---|---|---|---|');
    for (const r of stageLatencies(events, jobs, { cpu: o.slots, gpu: 0 }))
      console.log(
        `| ${r.stage} | ${r.n} | ${Number.isFinite(r.median) ? Math.round(r.median) : '–'} | ` +
          `${Number.isFinite(r.p90) ? Math.round(r.p90) : '–'} | ${r.note} |`,
      );
    return {
      workers,
      observability,
      candidates,
      jobs: jobs.length,
      wall,
      inside,
      orchestration,
      perCand,
      idle,
      direct,
      sandboxed,
      addedMedian,
      addedP90: L.p90(added),
      serviceCpu,
      load: loadEnd,
    };
  } finally {
    scraping?.stop();
    await L.cleanup(run, stack);
    await sink?.close();
  }
}

async function main() {
  const o = L.parseFlags(
    {
      rounds: 2,
      workers: '8,32',
      slots: 1,
      seed: 1,
      keep: false,
      'stall-seconds': 300,
      'cpu-prof': '',
      timeline: '',
      observability: false,
    },
    USAGE,
  );
  const sizes = String(o.workers).split(',').map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n < 1))
    throw new Error(`--workers: expected a comma-separated list of positive integers, got "${o.workers}"`);
  L.checkBuilds();
  console.log(
    `bench/campaign overhead: orchestration overhead per candidate, simulated substrate, ${o.slots} CPU ` +
      `slot(s), ${o.rounds} rounds`,
  );
  const results = [];
  const paired = [];
  for (const w of sizes) {
    const off = await measure(o, w, false);
    results.push(off);
    if (o.observability) {
      const on = await measure(o, w, true);
      paired.push({ off, on });
    }
  }
  console.log('\n## summary');
  console.log(
    '| workers/round | candidates | jobs | wall | inside jobs | direct (baseline) | wall / direct | ' +
      'orchestration | per candidate | within rounds / cand. | round starts + tails / round | service CPU / ' +
      'cand. | sandbox added / job (median · p90) | added / 20 s job | load |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results)
    console.log(
      `| ${r.workers} | ${r.candidates} | ${r.jobs} | ${L.secs(r.wall)} | ${L.secs(r.inside)} | ` +
        `${L.secs(r.direct)} | ${(r.wall / r.direct).toFixed(2)}× | ${L.secs(r.orchestration)} | ` +
        `**${ms(r.perCand)}** | ${ms(r.idle.within / r.candidates)} | ` +
        `${L.secs((r.idle.roundStart + r.idle.roundTail) / o.rounds)} | ` +
        `${ms(r.serviceCpu / r.candidates)} | ` +
        `${ms(r.addedMedian)} · ${ms(r.addedP90)} | ${((100 * r.addedMedian) / 20_000).toFixed(2)} % | ` +
        `${r.load.toFixed(1)} |`,
    );
  if (paired.length > 0) {
    console.log('\n## metrics and tracing: on / off, same invocation (target: overhead per candidate within 10 %)');
    console.log(
      '| workers/round | per candidate off | per candidate on | on / off | service CPU / cand. off | on | ' +
        'on / off | wall off | wall on |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|');
    for (const { off, on } of paired) {
      const ratio = on.perCand / off.perCand;
      console.log(
        `| ${off.workers} | ${ms(off.perCand)} | ${ms(on.perCand)} | **${ratio.toFixed(3)}** ` +
          `${ratio <= 1.1 ? '(within 10 %)' : '(NOT within 10 %)'} | ` +
          `${ms(off.serviceCpu / off.candidates)} | ${ms(on.serviceCpu / on.candidates)} | ` +
          `${(on.serviceCpu / on.candidates / (off.serviceCpu / off.candidates)).toFixed(3)} | ` +
          `${L.secs(off.wall)} | ${L.secs(on.wall)} |`,
      );
    }
  }
  if (results.length >= 2) {
    const a = results[0];
    const b = results[results.length - 1];
    const marginal = (b.orchestration - a.orchestration) / (b.candidates - a.candidates);
    console.log(
      `marginal orchestration time per extra candidate (${a.candidates} → ${b.candidates} candidates, ` +
        `same rounds): ${ms(marginal)} ` +
        `(the per-round fixed part is amortised over the workers of a round)`,
    );
  }
}

main().catch((err) => {
  console.error(err.stack || err);
  process.exit(1);
});
