'use strict';
/*
 * Shared harness of the campaign benchmarks: one isolated run = its own PostgreSQL schema, JetStream stream and
 * subject prefix, AEVO_HOME and copy of the simulated substrate; every service as its own process
 * (`services/<name>/dist/main.js`, as deployed); the campaign started with the real StartCampaign command; facts
 * read back from the event store and the local executor's job records.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { randomBytes } = require('node:crypto');

const ROOT = path.resolve(__dirname, '../..');
const SERVICES = [
  'orchestrator',
  'substrate',
  'worker',
  'dispatch',
  'evaluation',
  'leaderboard',
  'collector',
  'meta-policy',
];
const PG_URL = process.env.AEVO_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const NATS_URL = process.env.AEVO_NATS_URL || 'nats://127.0.0.1:4222';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const {
  memOf,
  cpuMsOf,
  jobIntervals,
  unionLength,
  listScheduleMakespan,
  runDirect,
  runSandboxed,
  machine,
  median,
  p90,
  pct,
  secs,
} = require('./measure');
const { parseFlags } = require('./flags');
const { campaignConfig } = require('./campaign-config');

function checkBuilds() {
  const missing = [
    ...SERVICES.map((s) => path.join(ROOT, 'services', s, 'dist/main.js')),
    path.join(ROOT, 'libs/messaging/dist/index.js'),
  ].filter((f) => !fs.existsSync(f));
  if (missing.length) {
    console.error(
      `missing builds (npx nx run-many -t build -p ${SERVICES.map((s) => `@aevo/${s}`).join(',')}):\n ` +
        ` ${missing.join('\n  ')}`,
    );
    process.exit(1);
  }
}

/** Names of one isolated run. */
function newRun(label, keep = false) {
  const id = randomBytes(4).toString('hex');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `aevo-bench-campaign-${label}-`));
  // Searchable (not listable) by others: sandboxed jobs run under per-slot uids when dispatch runs as root, and those
  // uids must reach their mounts under AEVO_HOME (dispatch would otherwise fall back to its own uid, and say so).
  fs.chmodSync(dir, 0o711);
  return {
    label,
    id,
    keep,
    dir,
    home: path.join(dir, 'home'),
    logs: path.join(dir, 'logs'),
    schema: `aevo_bench_${id}`,
    stream: `AEVO_BENCH_${id.toUpperCase()}`,
    prefix: `b${id}.aevo`,
  };
}

/**
 * Copies substrate/simulated into the run's directory (the original is never touched). Options change only the
 * copy's substrate.yaml:
 * - trainSeconds > 0: `train` sleeps that long before the simulated train runs (`sh -c 'sleep N; exec "$@"'`), so a
 *   job has a known, configurable duration; its timeout grows to match.
 * - gpuEntrypoints: those entrypoints ask for one GPU (so they run on the local executor's GPU slots).
 */
function prepareSubstrate(run, { trainSeconds = 0, gpuEntrypoints = [] } = {}) {
  const YAML = require('yaml');
  const src = path.join(ROOT, 'substrate/simulated');
  const dst = path.join(run.dir, 'substrate');
  fs.cpSync(src, dst, { recursive: true, filter: (p) => !/(^|\/)(node_modules|\.git)(\/|$)/.test(p) });
  const file = path.join(dst, 'substrate.yaml');
  const doc = YAML.parse(fs.readFileSync(file, 'utf8'));
  if (trainSeconds > 0) {
    const train = doc.entrypoints.train;
    train.command = ['sh', '-c', `sleep ${trainSeconds}; exec "$@"`, 'bench-train', ...train.command];
    train.timeoutSeconds = Math.ceil((train.timeoutSeconds || 60) + trainSeconds * 2);
  }
  for (const ep of gpuEntrypoints) {
    if (!doc.resources?.[ep]) throw new Error(`--gpu-entrypoints: the substrate has no resources.${ep}`);
    doc.resources[ep].gpu = 1;
  }
  fs.writeFileSync(file, YAML.stringify(doc));
  return dst;
}

/**
 * Starts every service as a child process with the run's environment; resolves once each printed the transport's
 * "listening:" line. A service exiting before stop() makes `stack.failure` name it (callers check it while waiting).
 * Peak memory is sampled from /proc/<pid>/status every second (VmHWM is the kernel's own high-water mark, so the
 * sample interval only matters if a process died, which fails the run anyway).
 */
async function startStack(
  run,
  {
    cpuSlots = 2,
    gpus = [],
    workerConcurrency = 2,
    env = {},
    nodeArgs = [],
    readyTimeoutMs = 180_000,
    // Per service: variables laid over the run's environment; an undefined value removes the variable (a compute
    // cluster's services have no database settings at all).
    serviceEnv = {},
    services = SERVICES,
  } = {},
) {
  fs.mkdirSync(run.home, { recursive: true });
  fs.mkdirSync(run.logs, { recursive: true });
  const baseEnv = {
    ...process.env,
    AEVO_DATABASE_URL: PG_URL,
    AEVO_DB_SCHEMA: run.schema,
    AEVO_NATS_URL: run.natsUrl || NATS_URL,
    ...(run.credentialsDir ? { AEVO_NATS_CREDENTIALS_DIR: run.credentialsDir } : {}),
    AEVO_SUBJECT_PREFIX: run.prefix,
    AEVO_STREAM: run.stream,
    AEVO_HOME: run.home,
    AEVO_ROOT: ROOT,
    AEVO_CONSTITUTIONS_ROOT: ROOT,
    // StartCampaign reads substrates only under configured roots: the bench's copy lives in its run directory.
    AEVO_SUBSTRATE_ROOTS: [path.join(ROOT, 'substrate'), run.dir].join(path.delimiter),
    AEVO_EXECUTOR: 'local',
    AEVO_LOCAL_SLOTS: String(cpuSlots),
    AEVO_LOCAL_GPUS: gpus.length ? gpus.join(',') : 'none',
    AEVO_WORKER_JOBS: 'events',
    AEVO_WORKER_CONCURRENCY: String(workerConcurrency),
    // keep every sandbox: the overhead bench re-runs the jobs' commands in them afterwards
    AEVO_GC_KEEP_ROUNDS: '100000',
    AEVO_LEADERBOARD_SECRET: `bench-secret-${run.id}-0123456789`,
    ...env,
  };
  for (const k of ['ANTHROPIC_API_KEY', 'KAGGLE_API_TOKEN', 'KAGGLE_USERNAME', 'KAGGLE_KEY', 'KUBECONFIG'])
    delete baseEnv[k];
  const procs = new Map();
  const stack = {
    procs,
    failure: null,
    peak: {},
    cpuMs: {},
    stopping: false,
    pids: () => Object.fromEntries([...procs].map(([n, p]) => [n, p.child.pid])),
  };
  for (const name of services) {
    const log = fs.createWriteStream(path.join(run.logs, `${name}.log`));
    const own = { ...baseEnv, ...(serviceEnv[name] || {}) };
    for (const [k, v] of Object.entries(own)) if (v === undefined) delete own[k];
    const child = spawn(process.execPath, [...nodeArgs, path.join(ROOT, 'services', name, 'dist/main.js')], {
      cwd: ROOT,
      env: own,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const p = {
      child,
      ready: false,
      tail: '',
      exited: new Promise((r) => child.once('exit', (code, signal) => r({ code, signal }))),
    };
    const onData = (d) => {
      log.write(d);
      p.tail = (p.tail + d.toString('utf8')).slice(-6000);
      if (!p.ready && /listening: /.test(p.tail)) p.ready = true;
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void p.exited.then(({ code, signal }) => {
      log.end();
      if (!stack.stopping && !stack.failure)
        stack.failure =
          `${name} exited (${signal || `code ${code}`}); its ` +
          `log: ${path.join(run.logs, `${name}.log`)}\n${p.tail.slice(-2000)}`;
    });
    procs.set(name, p);
  }
  const sample = () => {
    for (const [name, p] of procs) {
      const m = memOf(p.child.pid);
      if (!m) continue;
      const prev = stack.peak[name] || { hwm: 0, rss: 0 };
      stack.peak[name] = { hwm: Math.max(prev.hwm, m.hwm), rss: Math.max(prev.rss, m.rss) };
      const cpu = cpuMsOf(p.child.pid);
      if (cpu != null) stack.cpuMs[name] = cpu;
    }
  };
  stack.sampleMemory = sample;
  stack.sampler = setInterval(sample, 1000);
  /** CPU ms each service used since it started (last sample; sample() first for a fresh figure). */
  stack.cpu = () => ({ ...stack.cpuMs });
  stack.stop = async () => {
    if (!stack.stopping) sample();
    clearInterval(stack.sampler);
    stack.stopping = true;
    await Promise.all(
      [...procs.values()].map(async (p) => {
        if (p.child.exitCode !== null || p.child.signalCode !== null) return;
        p.child.kill('SIGTERM');
        const t = setTimeout(() => p.child.kill('SIGKILL'), 20_000);
        await p.exited;
        clearTimeout(t);
      }),
    );
  };
  const deadline = Date.now() + readyTimeoutMs;
  while ([...procs.values()].some((p) => !p.ready)) {
    if (stack.failure) {
      await stack.stop();
      throw new Error(stack.failure);
    }
    if (Date.now() > deadline) {
      const waiting = [...procs].filter(([, p]) => !p.ready).map(([n]) => n);
      await stack.stop();
      throw new Error(
        `services not ready after ${readyTimeoutMs / 1000} s: ${waiting.join(', ')} (logs in ${run.logs})`,
      );
    }
    await sleep(200);
  }
  return stack;
}

async function pgClient() {
  const { Client } = require('pg');
  const c = new Client({ connectionString: PG_URL });
  await c.connect();
  return c;
}

/** Every event of a campaign in log order: { position, type, streamId, time (ms), appendedAt (ms), source, data }. */
async function readEvents(pg, run, campaignId, fromPosition = 0) {
  const r = await pg.query(
    `SELECT position, type, stream_id, time, recorded_at, source, data FROM "${run.schema}".events WHERE campaign_id ` +
      `= $1 AND position > $2 ORDER BY position`,
    [campaignId, fromPosition],
  );
  return r.rows.map((x) => ({
    position: Number(x.position),
    type: x.type,
    streamId: x.stream_id,
    time: new Date(x.time).getTime(),
    // the appending transaction's start (now()): equal for the events of one append
    appendedAt: new Date(x.recorded_at).getTime(),
    source: x.source,
    data: typeof x.data === 'string' ? JSON.parse(x.data) : x.data,
  }));
}

/** Sends one command; `sentAt` is taken once the client is loaded and connected (the client is not the stack). */
async function sendCommand(run, name, payload, timeoutMs = 60_000) {
  const { CommandClient } = require(path.join(ROOT, 'libs/messaging/dist/index.js'));
  const client = await CommandClient.connect({
    natsUrl: run.natsUrl || NATS_URL,
    ...(run.natsAuth ? { natsAuth: run.natsAuth } : {}),
    subjectPrefix: run.prefix,
    timeoutMs,
    issuedBy: 'bench',
  });
  try {
    const sentAt = Date.now();
    return { ...(await client.send(name, payload)), sentAt };
  } finally {
    await client.close();
  }
}

const FATAL = new Set(['SubstrateRejected', 'LeaderboardUnavailable', 'CampaignAborted']);

/**
 * Starts a campaign and waits for its CampaignCompleted, following the log. Fails on a fatal event, a service
 * exiting, or `stallMs` without any new event (with the last events and where the logs are).
 */
async function runCampaign(run, stack, config, { stallMs = 300_000, onProgress } = {}) {
  const pg = await pgClient();
  try {
    const reply = await sendCommand(run, 'StartCampaign', config);
    if (!reply.ok) throw new Error(`StartCampaign refused: ${JSON.stringify(reply.error)}`);
    // Until this fix the bench's clock started before the client loaded and connected (≈ 0.3–0.5 s per campaign).
    const t0 = reply.sentAt;
    const events = [];
    let last = 0;
    let lastNew = Date.now();
    for (;;) {
      const fresh = await readEvents(pg, run, config.campaignId, last);
      if (fresh.length) {
        events.push(...fresh);
        last = fresh[fresh.length - 1].position;
        lastNew = Date.now();
        onProgress?.(events, fresh);
        const fatal = fresh.find((e) => FATAL.has(e.type));
        if (fatal)
          throw new Error(
            `campaign failed: ${fatal.type} ${JSON.stringify(fatal.data).slice(0, 500)} (logs in ${run.logs})`,
          );
        const done = fresh.find((e) => e.type === 'CampaignCompleted');
        if (done) return { t0, tEnd: done.time, events };
      }
      if (stack.failure) throw new Error(stack.failure);
      if (Date.now() - lastNew > stallMs) {
        const tail = events
          .slice(-8)
          .map((e) => `${e.type}(${e.streamId})`)
          .join(', ');
        throw new Error(
          `no new event for ${stallMs / 1000} s after ${events.length} events; last: ${tail} (logs in ${run.logs})`,
        );
      }
      await sleep(500);
    }
  } finally {
    await pg.end();
  }
}

/** Drops the run's schema and stream and removes its directory (unless keep). */
async function cleanup(run, stack) {
  if (stack) await stack.stop().catch(() => undefined);
  try {
    const pg = await pgClient();
    await pg.query(`DROP SCHEMA IF EXISTS "${run.schema}" CASCADE`);
    await pg.end();
  } catch (e) {
    console.error(`cleanup: could not drop schema ${run.schema}: ${e.message}`);
  }
  // A run on its own nats-servers (run.natsUrl) takes its streams with them when they stop.
  if (!run.natsUrl)
    try {
      const { connect } = require('@nats-io/transport-node');
      const { jetstreamManager } = require('@nats-io/jetstream');
      const nc = await connect({ servers: NATS_URL });
      const jsm = await jetstreamManager(nc);
      await jsm.streams.delete(run.stream).catch(() => undefined);
      await nc.close();
    } catch (e) {
      console.error(`cleanup: could not delete stream ${run.stream}: ${e.message}`);
    }
  if (run.keep) console.log(`kept ${run.dir}`);
  else fs.rmSync(run.dir, { recursive: true, force: true });
}

module.exports = {
  ROOT,
  SERVICES,
  parseFlags,
  checkBuilds,
  newRun,
  prepareSubstrate,
  startStack,
  runCampaign,
  readEvents,
  pgClient,
  jobIntervals,
  unionLength,
  listScheduleMakespan,
  runDirect,
  runSandboxed,
  cleanup,
  campaignConfig,
  machine,
  median,
  p90,
  pct,
  secs,
  sleep,
};
