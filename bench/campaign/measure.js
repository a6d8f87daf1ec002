'use strict';
/*
 * What the campaign benchmarks measure with, beside the stack lib.js runs: process memory and CPU from /proc, job
 * intervals from the local executor's records, the ideal schedule they are compared with, a job's command run
 * directly or sandboxed as the executor runs it, and the statistics the reports print.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');

const ROOT = path.resolve(__dirname, '../..');

/** Reads VmHWM (peak RSS) and VmRSS of a pid, in KiB; null when the process is gone. */
function memOf(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const hwm = /VmHWM:\s+(\d+) kB/.exec(s);
    const rss = /VmRSS:\s+(\d+) kB/.exec(s);
    return { hwm: hwm ? Number(hwm[1]) : 0, rss: rss ? Number(rss[1]) : 0 };
  } catch {
    return null;
  }
}

/** CPU time (user + system, ms) a pid has used so far; null when it is gone. Clock ticks are 100 Hz on Linux. */
function cpuMsOf(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10; // fields 14 and 15 (utime, stime), counted from after the comm
  } catch {
    return null;
  }
}

/** Job intervals from the local executor's records (exact spawn and exit times), joined with the job's spec. */
function jobIntervals(run) {
  const dir = path.join(run.home, 'dispatch', 'local-jobs');
  const out = [];
  if (!fs.existsSync(dir)) return out;
  for (const name of fs.readdirSync(dir)) {
    let rec;
    try {
      rec = JSON.parse(fs.readFileSync(path.join(dir, name, 'record.json'), 'utf8'));
    } catch {
      continue;
    }
    if (!rec.outcome || !rec.startedAt) continue;
    const spec = rec.job.spec;
    out.push({
      jobId: spec.jobId,
      candidateId: spec.candidateId,
      round: spec.round,
      entrypoint: spec.entrypoint,
      gpu: spec.resources.gpu > 0,
      slot: rec.slot,
      spec,
      queuedAt: Date.parse(rec.queuedAt),
      start: Date.parse(rec.startedAt),
      end: Date.parse(rec.outcome.finishedAt),
      status: rec.outcome.status,
    });
  }
  return out.sort((a, b) => a.start - b.start);
}

/** Total length of the union of [start, end] intervals (time during which at least one job ran). */
function unionLength(intervals) {
  const s = intervals.map((i) => [i.start, i.end]).sort((a, b) => a[0] - b[0]);
  let total = 0;
  let cur = null;
  for (const [a, b] of s) {
    if (!cur || a > cur[1]) {
      if (cur) total += cur[1] - cur[0];
      cur = [a, b];
    } else cur[1] = Math.max(cur[1], b);
  }
  if (cur) total += cur[1] - cur[0];
  return total;
}

/** Makespan of the greedy list schedule of `durations` (in this order) on `slots` with zero overhead. */
function listScheduleMakespan(durations, slots) {
  const free = new Array(slots).fill(0);
  for (const d of durations) {
    let k = 0;
    for (let i = 1; i < slots; i++) if (free[i] < free[k]) k = i;
    free[k] += d;
  }
  return Math.max(0, ...free);
}

/** Runs argv in cwd with a minimal environment; resolves with { ms, code }. */
function runDirect(spec) {
  return new Promise((resolve, reject) => {
    const t = process.hrtime.bigint();
    const env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      LANG: process.env.LANG || 'C.UTF-8',
      ...spec.env,
      CUDA_VISIBLE_DEVICES: '',
    };
    const c = spawn(spec.argv[0], spec.argv.slice(1), { cwd: spec.sandboxPath, env, stdio: 'ignore' });
    c.once('error', reject);
    c.once('exit', (code) => resolve({ ms: Number(process.hrtime.bigint() - t) / 1e6, code }));
  });
}

/**
 * Runs a job's command the way the local executor's sandbox runs it (`prlimit … [setpriv …] bwrap … -- argv`, built
 * from the executor's own exported planIsolation / prepareOutputs / bwrapArgs against AEVO_HOME `home`), without the
 * executor's wrapper shell and records — those are the same with or without a sandbox. The clock starts before the
 * plan, so the in-process planning the executor does per launch is counted. Resolves with { ms, code }.
 * The chain mirrors LocalExecutor's sandboxedCommand (CPU slot 0, default limits); keep the two in step.
 */
function runSandboxed(spec, home) {
  const ex = require(path.join(ROOT, 'libs/executors/dist/index.js'));
  const perSlot = process.getuid?.() === 0; // the executor's default: per-slot uids when dispatch runs as root
  const owner = perSlot ? { uid: 62000, gid: 62000 } : undefined;
  return new Promise((resolve, reject) => {
    const t = process.hrtime.bigint();
    const plan = ex.planIsolation(spec, home);
    ex.prepareOutputs(plan, owner);
    const env = {
      ...ex.SANDBOX_BASE_ENV,
      ...spec.env,
      CUDA_VISIBLE_DEVICES: '',
      AEVO_JOB_ID: spec.jobId,
      AEVO_SLOT: 'cpu:0',
    };
    const limits = [`--fsize=${16_384 * 1024 * 1024}`, '--core=0', ...(owner ? ['--nproc=1024'] : [])];
    const drop = owner ? ['setpriv', `--reuid=${owner.uid}`, `--regid=${owner.gid}`, '--clear-groups', '--'] : [];
    const bwrap = process.env.AEVO_BWRAP || '/usr/bin/bwrap';
    const argv = [
      'prlimit',
      ...limits,
      '--',
      ...drop,
      bwrap,
      '--json-status-fd',
      '3',
      ...ex.bwrapArgs(plan, { env, gpuDevices: [], tmpBytes: 1024 ** 3 }),
      '--',
      ...spec.argv,
    ];
    const c = spawn(argv[0], argv.slice(1), {
      cwd: spec.sandboxPath,
      env: { ...ex.SANDBOX_BASE_ENV },
      stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
    });
    c.stdio[3].resume(); // bubblewrap's status report: drained, not needed
    c.once('error', reject);
    c.once('exit', (code) => resolve({ ms: Number(process.hrtime.bigint() - t) / 1e6, code }));
  });
}

function machine() {
  const l = os.loadavg();
  return `node ${process.version}, ${os.cpus().length} CPUs, load ${l.map((x) => x.toFixed(1)).join(' ')}`;
}

const median = (xs) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
};
const p90 = (xs) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(0.9 * s.length))];
};
const pct = (x) => `${(100 * x).toFixed(1)}%`;
const secs = (ms) => `${(ms / 1000).toFixed(2)} s`;

module.exports = {
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
};
