#!/usr/bin/env node
/*
 * Fork benchmark: is forking a sandbox independent of the base checkpoint's size?
 *
 * Build first:  npx nx run @aevo/substrate:build      (builds contracts, substrate-kit and the service's dist/)
 * Run:          node bench/fork/run.js [--forks 20] [--big-mb 2048] [--small-mb 2] [--real]
 *
 * Makes two substrates that differ only in the size of base/checkpoint.pt (2 GB and 2 MB; the big one is a sparse
 * file unless --real, which writes every byte), snapshots each once with the service's takeSnapshot, then forks
 * each `--forks` times with forkSandbox (hard links for pinned files, copies for editable ones, standing recipe
 * merged) and prints, for both, the median and worst fork time and the extra disk one sandbox takes, plus the
 * big/small ratio (the baseline is the 2 MB fork measured in the same run). Extra disk is measured three ways:
 *   own   — allocated blocks of every inode whose links all lie inside the sandbox, plus its directories' blocks;
 *   du    — `du -sk <snapshot> <sandbox>`: du counts a hard-linked inode once, so the sandbox line is its extra;
 *   statfs — free-space drop of the file system across all forks / forks (noisy on a shared disk).
 * Also times verifySandbox on the 2 GB sandbox: the first check hashes the checkpoint, later ones hit the
 * inode+ctime hash cache. Targets (issue 4): < 200 ms and < 1 MB extra for the 2 GB fork.
 * Jobs now run in a bubblewrap sandbox whose mounts come from the fork and its snapshot (the pinned paths, the
 * checkpoint among them, bound read-only): the run also starts `true` in the executor's sandbox of a 2 GB fork and
 * of a 2 MB fork (bwrapArgs(planIsolation(...)) from libs/executors), interleaved with a plain `true`, and prints
 * the sandbox's added start-up cost per job on each and their ratio (bind mounts do not read the bytes: ≈ 1).
 * Skipped when libs/executors is not built or bubblewrap cannot run here.
 * Everything lives in a temporary directory that is removed at the end.
 */
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '../..');
const dist = (p) => path.join(ROOT, p);
for (const f of ['libs/substrate-kit/dist/index.js', 'services/substrate/dist/fs/fork.js']) {
  if (!fs.existsSync(dist(f))) {
    console.error(`missing ${f}: build first with  npx nx run @aevo/substrate:build`);
    process.exit(2);
  }
}
const kit = require(dist('libs/substrate-kit/dist/index.js'));
const { takeSnapshot, removeTree } = require(dist('services/substrate/dist/fs/snapshot-store.js'));
const { forkSandbox } = require(dist('services/substrate/dist/fs/fork.js'));
const { verifySandbox } = require(dist('services/substrate/dist/fs/verify.js'));
const { HashCache } = require(dist('services/substrate/dist/fs/hash.js'));
const executors = fs.existsSync(dist('libs/executors/dist/index.js'))
  ? require(dist('libs/executors/dist/index.js'))
  : null;

const args = process.argv.slice(2);
const num = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const FORKS = num('forks', 20);
const BIG = num('big-mb', 2048) * 1024 * 1024;
const SMALL = num('small-mb', 2) * 1024 * 1024;
const REAL = args.includes('--real');

const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmtBytes = (b) =>
  b >= 1 << 30
    ? `${(b / (1 << 30)).toFixed(2)} GiB`
    : b >= 1 << 20
      ? `${(b / (1 << 20)).toFixed(2)} MiB`
      : `${(b / 1024).toFixed(1)} KiB`;

function ownBytes(dir) {
  const inodes = new Map();
  let dirs = 0;
  const walk = (p) => {
    const st = fs.lstatSync(p);
    if (st.isDirectory()) {
      dirs += st.blocks * 512;
      for (const n of fs.readdirSync(p)) walk(path.join(p, n));
    } else {
      const k = `${st.dev}:${st.ino}`;
      const e = inodes.get(k) || { nlink: st.nlink, seen: 0, bytes: st.blocks * 512 };
      e.seen++;
      inodes.set(k, e);
    }
  };
  walk(dir);
  let files = 0;
  for (const e of inodes.values()) if (e.seen >= e.nlink) files += e.bytes;
  return files + dirs;
}

function duExtra(snapshotPath, sandboxPath) {
  const r = spawnSync('du', ['-sk', snapshotPath, sandboxPath], { encoding: 'utf8' });
  if (r.status !== 0) return NaN;
  const lines = r.stdout.trim().split('\n');
  return Number(lines[1].split('\t')[0]) * 1024;
}

const freeBytes = (p) => {
  const s = fs.statfsSync(p);
  return s.bfree * s.bsize;
};

async function prepare(label, tmp, ckptBytes, sparse) {
  const src = path.join(tmp, `src-${label}`);
  kit.writeSubstrateFixture(src, { baseCheckpointBytes: ckptBytes, sparse });
  const home = path.join(tmp, `home-${label}`);
  const t0 = process.hrtime.bigint();
  const snap = await takeSnapshot(src, home);
  const snapshotMs = ms(t0);
  removeTree(src);
  return { label, ckptBytes, home, snap, snapshotMs, times: [], sandboxes: [] };
}

async function forkOnce(s, i) {
  const sb = path.join(s.home, 'sandboxes', 'bench', `cand-${i}`);
  const t0 = process.hrtime.bigint();
  const r = await forkSandbox(s.snap, sb, { lr: 0.002, mix: { equation: 2 } });
  s.times.push(ms(t0));
  if (r.existed || r.copiedShared > 0) throw new Error(`unexpected fork result ${JSON.stringify(r)}`);
  s.sandboxes.push(sb);
}

function summarise(s, statfsPerFork) {
  const own = [];
  const du = [];
  for (const sb of s.sandboxes.slice(0, 3)) {
    own.push(ownBytes(sb));
    du.push(duExtra(s.snap.snapshotPath, sb));
  }
  const ckptInSnapshot = fs.statSync(path.join(s.snap.snapshotPath, 'base/checkpoint.pt'));
  if (fs.statSync(path.join(s.sandboxes[0], 'base/checkpoint.pt')).ino !== ckptInSnapshot.ino)
    throw new Error('checkpoint was copied, not shared');
  return {
    label: s.label,
    ckptBytes: s.ckptBytes,
    ckptAllocated: ckptInSnapshot.blocks * 512,
    snapshotMs: s.snapshotMs,
    median: median(s.times),
    max: Math.max(...s.times),
    own: Math.max(...own),
    du: Math.max(...du),
    statfsPerFork,
  };
}

/**
 * `true` in the sandbox a job forked from `s` would get (its pinned paths bound from the snapshot, one output), vs a
 * plain `true`, alternating; spawnSync's own cost is in both and cancels in the difference.
 */
function sandboxStart(series, rounds = 20) {
  const probe = executors.probeBubblewrap();
  if (!probe.ok) return { skipped: probe.reason };
  const argvOf = (s) => {
    const plan = executors.planIsolation(
      { sandboxPath: s.sandboxes[0], isolation: { snapshotId: s.snap.snapshotId, outputs: ['bench-out'], inputs: [] } },
      s.home,
    );
    executors.prepareOutputs(plan);
    return [probe.bwrap, ...executors.bwrapArgs(plan, { env: { ...executors.SANDBOX_BASE_ENV } }), '--', 'true'];
  };
  const variants = [['true'], ...series.map(argvOf)];
  const times = variants.map(() => []);
  for (let r = 0; r < rounds + 1; r++) {
    for (let k = 0; k < variants.length; k++) {
      const v = (k + r) % variants.length;
      const t0 = process.hrtime.bigint();
      const res = spawnSync(variants[v][0], variants[v].slice(1), {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...executors.SANDBOX_BASE_ENV },
      });
      const dt = ms(t0);
      if (res.status !== 0) return { skipped: `sandbox did not start: ${String(res.stderr).trim()}` };
      if (r > 0) times[v].push(dt);
    }
  }
  const base = median(times[0]);
  return { base, added: times.slice(1).map((t) => median(t) - base), rounds };
}

async function verifyTimes(s) {
  const cache = new HashCache(100_000, 0);
  let t0 = process.hrtime.bigint();
  const v1 = await verifySandbox(s.sandboxes[0], s.snap, { hashCache: cache });
  const first = ms(t0);
  t0 = process.hrtime.bigint();
  const v2 = await verifySandbox(s.sandboxes[0], s.snap, { hashCache: cache });
  const cached = ms(t0);
  if (v1.length + v2.length > 0) throw new Error(`unexpected violations ${JSON.stringify(v1)}`);
  return { first, cached };
}

(async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'aevo-bench-fork-'));
  try {
    const smallS = await prepare('small', tmp, SMALL, false);
    const bigS = await prepare('big', tmp, BIG, !REAL);
    // Warm-up (module loading, first YAML parse), then alternate small and big forks so that load from other
    // processes on the machine hits both series alike. Disk is measured per series with statfs around its forks.
    await forkOnce(smallS, 'warmup');
    await forkOnce(bigS, 'warmup');
    smallS.times.length = 0;
    bigS.times.length = 0;
    let freeSmall = 0;
    let freeBig = 0;
    for (let i = 0; i < FORKS; i++) {
      for (const s of i % 2 === 0 ? [smallS, bigS] : [bigS, smallS]) {
        const before = freeBytes(tmp);
        await forkOnce(s, i);
        const used = before - freeBytes(tmp);
        if (s === smallS) freeSmall += used;
        else freeBig += used;
      }
    }
    const small = summarise(smallS, freeSmall / FORKS);
    const big = summarise(bigS, freeBig / FORKS);
    big.verify = await verifyTimes(bigS);
    // Searchable by others, as an AEVO_HOME must be for sandboxed jobs (the temporary directory is 0700).
    fs.chmodSync(tmp, 0o711);
    const start = executors
      ? sandboxStart([smallS, bigS])
      : { skipped: 'libs/executors is not built (npx nx run @aevo/executors:build)' };
    console.log(
      `fork benchmark — ${FORKS} forks each, ${os.cpus().length} CPUs, node ${process.version}, ` +
        `${os.tmpdir()} (${big.ckptAllocated < big.ckptBytes / 2 ? 'sparse' : 'real'} ${fmtBytes(BIG)} ` +
        `checkpoint)`,
    );
    console.log('');
    console.log('checkpoint   snapshot(once)   fork median   fork max   extra disk/sandbox: own     du        statfs');
    for (const r of [small, big])
      console.log(
        `${fmtBytes(r.ckptBytes).padEnd(12)} ${`${r.snapshotMs.toFixed(0)} ms`.padStart(14)}   ` +
          `${`${r.median.toFixed(2)} ms`.padStart(11)}   ${`${r.max.toFixed(2)} ms`.padStart(8)}   ` +
          `${fmtBytes(r.own).padStart(22)}   ${fmtBytes(r.du).padStart(8)}   ` +
          `${fmtBytes(Math.max(0, r.statfsPerFork)).padStart(8)}`,
      );
    console.log('');
    const ratio = big.median / small.median;
    console.log(`ratio 2 GB / 2 MB fork time (median): ${ratio.toFixed(2)}x   (1.0 = independent of checkpoint size)`);
    console.log(
      `target: 2 GB fork < 200 ms → ${big.max < 200 ? 'met' : 'NOT met'} (max ${big.max.toFixed(2)} ms); ` +
        `extra disk < 1 MB → ${Math.max(big.own, big.du) < 1 << 20 ? 'met' : 'NOT met'} (` +
        `${fmtBytes(Math.max(big.own, big.du))})`,
    );
    if (big.verify)
      console.log(
        `verifySandbox on the 2 GB sandbox: first ${big.verify.first.toFixed(0)} ms (hashes the ` +
          `checkpoint), then ${big.verify.cached.toFixed(2)} ms (inode+ctime cache)`,
      );
    if (start.skipped) console.log(`job sandbox start-up: skipped (${start.skipped})`);
    else
      console.log(
        `job sandbox start-up (bwrap with the executor's mounts, \`true\` inside; median of ` +
          `${start.rounds}, plain \`true\` ${start.base.toFixed(1)} ms): ` +
          `added ${start.added[0].toFixed(1)} ms on the 2 MB fork, ${start.added[1].toFixed(1)} ms on the ` +
          `2 GB fork — ratio ${(start.added[1] / start.added[0]).toFixed(2)}x`,
      );
  } finally {
    removeTree(tmp);
  }
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
