import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
  chmodSync,
  unlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from '@aevo/testkit';
import { LocalExecutorBench } from '../../test/local-harness';
import type { JobSpec } from '@aevo/contracts';
import { forkJobSandbox, writeJobSnapshot } from '../testing/job-home';
import type { ExecutorEvent } from '../types';
import { processesWithCommandLine } from './proc';
import {
  LocalExecutor,
  localExecutorOptionsFromEnv,
  UNSANDBOXED_OPT_IN,
  type LocalExecutorOptions,
} from './local-executor';

jest.setTimeout(60_000);

// Jobs run in bubblewrap here (Debian `bubblewrap`, installed by tools/setup-system.sh): what a job can see and do.
let home: string;
let sandbox: string;
let snapshotId: string;
let snapshotPath: string;
const bench = new LocalExecutorBench(() => ({ home, cpuSlots: 2, pollMs: 50, killGraceMs: 300 }));

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'aevo-sandbox-'));
  ({ snapshotId, snapshotPath } = writeJobSnapshot(home, { files: { 'harness/metric.py': 'PRISTINE\n' } }));
  sandbox = forkJobSandbox(snapshotPath, join(home, 'sandboxes', 'r1', 'c0'));
  mkdirSync(join(home, 'logs'), { recursive: true });
  writeFileSync(join(home, 'leaderboard-answers.csv'), 'id,answer\n1,42\n');
  mkdirSync(join(home, 'leaderboard', 'camp', 'hidden'), { recursive: true });
  writeFileSync(join(home, 'leaderboard', 'camp', 'hidden', 'public.csv'), 'id,answer\n1,42\n');
});

afterEach(async () => {
  await bench.cleanup();
  rmSync(home, { recursive: true, force: true });
});

function spec(jobId: string, script: string, over: Partial<JobSpec> = {}): JobSpec {
  return {
    jobId,
    candidateId: 'c0',
    round: 1,
    entrypoint: 'train',
    sandboxPath: sandbox,
    argv: ['/bin/sh', '-c', script],
    env: {},
    resources: { cpu: 1, memoryMiB: 256, gpu: 0 },
    timeoutSeconds: 30,
    priority: 'normal',
    isolation: { snapshotId, outputs: ['runs/a'], inputs: [] },
    ...over,
  };
}

const start = (opts: Partial<LocalExecutorOptions> = {}) => bench.start(opts);

const run = async (s: JobSpec, opts: Partial<LocalExecutorOptions> = {}) => {
  const { ex, events, finished } = start(opts);
  await ex.submit({ campaignId: 'camp', spec: s });
  return { outcome: await finished(s.jobId), events };
};

describe('a job in its bubblewrap sandbox', () => {
  it('runs as nobody in its sandbox, writes only its outputs, and the run records the boundary', async () => {
    const script = [
      'echo "id=$(id -u):$(id -g) cwd=$(pwd)"',
      'echo data > runs/a/out.txt && echo out=written',
      '(echo x >> recipe.yaml) 2>/dev/null && echo recipe=written || echo recipe=refused',
      '(echo x > harness/metric.py) 2>/dev/null && echo metric=written || echo metric=refused',
      '(echo x > new-file) 2>/dev/null && echo root=written || echo root=refused',
      'ln harness/metric.py runs/a/metric-link 2>/dev/null && echo hardlink=made || echo hardlink=refused',
      'echo x > /tmp/t && echo tmp=written',
      '(echo x > /escape) 2>/dev/null && echo root=written || echo fs-root=refused',
      '(echo x > ../escape) 2>/dev/null && echo parent=written || echo parent=refused',
      '(head -c 3000000 /dev/zero > /dev/shm/fill) 2>/dev/null && echo shm=unbounded || echo shm=bounded',
    ].join('\n');
    const { outcome, events } = await run(spec('who', script), { limits: { tmpMiB: 2 } });
    expect(outcome.status).toBe('succeeded');
    const tail = outcome.logTail.split('\n');
    expect(tail).toEqual([
      `id=65534:65534 cwd=${sandbox}`,
      'out=written',
      'recipe=refused',
      'metric=refused',
      'root=refused',
      'hardlink=refused',
      'tmp=written',
      'fs-root=refused',
      'parent=refused',
      'shm=bounded',
    ]);
    expect(existsSync(join(home, 'sandboxes', 'r1', 'escape'))).toBe(false);
    expect(readFileSync(join(sandbox, 'runs/a/out.txt'), 'utf8')).toBe('data\n');
    expect(events.find((e) => e.type === 'started')).toMatchObject({ isolation: 'bubblewrap' });
  });

  it('sees nothing of AEVO_HOME but its sandbox: no snapshots, logs, other sandboxes or hidden answers', async () => {
    mkdirSync(join(home, 'sandboxes', 'r1', 'c1'), { recursive: true });
    writeFileSync(join(home, 'sandboxes', 'r1', 'c1', 'secret.txt'), 'sibling');
    const script = [
      `ls ${home} 2>&1 | tr '\\n' ' '; echo`,
      `cat ${home}/leaderboard-answers.csv 2>/dev/null || echo answers=unreachable`,
      `cat ${home}/sandboxes/r1/c1/secret.txt 2>/dev/null || echo sibling=unreachable`,
      `ls ${snapshotPath} 2>/dev/null || echo snapshot=unreachable`,
      'ls /etc | grep -c shadow || true',
      'ls /root 2>/dev/null || echo root-home=unreachable',
    ].join('\n');
    const { outcome } = await run(spec('see', script));
    expect(outcome.status).toBe('succeeded');
    const lines = outcome.logTail.split('\n');
    expect(lines[0].trim()).toBe('sandboxes');
    expect(lines.slice(1)).toEqual([
      'answers=unreachable',
      'sibling=unreachable',
      'snapshot=unreachable',
      '0',
      'root-home=unreachable',
    ]);
  });

  it('reads the pinned paths from the snapshot even when the sandbox copy was replaced', async () => {
    chmodSync(join(sandbox, 'harness'), 0o755);
    unlinkSync(join(sandbox, 'harness/metric.py'));
    writeFileSync(join(sandbox, 'harness/metric.py'), 'TAMPERED\n');
    const { outcome } = await run(spec('pristine', 'cat harness/metric.py'));
    expect(outcome.logTail).toBe('PRISTINE');
  });

  it('has a clean environment, its own pid namespace and no network', async () => {
    process.env.AEVO_TEST_SECRET_TOKEN = 'sekrit-value-123';
    try {
      const net =
        "require('net').connect(5432,'127.0.0.1').on('error',e=>console.log('net='+e.code))" +
        ".on('connect',()=>{console.log('net=connected');process.exit(0)})";
      const script = [
        "tr '\\0' '\\n' < /proc/1/environ | grep -c sekrit || true",
        'env | grep -c sekrit || true',
        'echo "home=$HOME path=$PATH foo=$FOO"',
        'ls /proc | grep -c \'^[0-9]\' | awk \'{print ($1 < 10) ? "pids=few" : "pids=many"}\'',
        // The host's PostgreSQL listens on 127.0.0.1:5432; the job's loopback is its own, with nothing behind it.
        `/usr/bin/node -e "${net}"`,
        'awk -F: \'NR > 2 { gsub(/ /, "", $1); print "if=" $1 }\' /proc/net/dev',
      ].join('\n');
      const { outcome } = await run(spec('env', script, { env: { FOO: 'bar' } }));
      expect(outcome.logTail.split('\n')).toEqual([
        '0',
        '0',
        'home=/tmp path=/usr/local/bin:/usr/bin:/bin foo=bar',
        'pids=few',
        'net=ECONNREFUSED',
        'if=lo',
      ]);
    } finally {
      delete process.env.AEVO_TEST_SECRET_TOKEN;
    }
  });

  it('leaves no trace of a key it prints: neither in the outcome nor in its log file', async () => {
    const key = `k3y-${Math.random().toString(36).slice(2)}-${Date.now()}`;
    process.env.AEVO_TEST_LEAK_TOKEN = key;
    try {
      // The job cannot read the key (clean environment); it prints one it "found", encoded so the argv holds no copy.
      const b64 = Buffer.from(key).toString('base64');
      const { outcome } = await run(spec('leak', `echo "found: $(echo ${b64} | base64 -d)"; echo done`));
      expect(outcome.status).toBe('succeeded');
      expect(outcome.logTail).not.toContain(key);
      expect(outcome.logTail).toMatch(/^found: \[redacted/);
      expect(readFileSync(outcome.logPath!, 'utf8')).not.toContain(key);
      expect(JSON.stringify(outcome)).not.toContain(key);
    } finally {
      delete process.env.AEVO_TEST_LEAK_TOKEN;
    }
  });

  it(
    'kills every process of a sandboxed job on timeout, including ' + 'ones that ignore SIGTERM or start a new session',
    async () => {
      const marker = `31${Math.floor(Math.random() * 1e6)}`;
      const script = `(trap '' TERM; sleep ${marker}) & setsid sleep ${marker} & sleep ${marker} & echo started; wait`;
      const { ex, finished } = start();
      await ex.submit({ campaignId: 'camp', spec: spec('slow', script, { timeoutSeconds: 1 }) });
      await eventually(() => processesWithCommandLine(`sleep ${marker}`).length === 3);
      expect(await finished('slow')).toMatchObject({ status: 'failed', reason: 'timeout' });
      await eventually(() => processesWithCommandLine(`sleep ${marker}`).length === 0, 10_000);
    },
  );

  it('contains a fork bomb within its process limit while a sibling job on the other slot runs normally', async () => {
    const { ex, finished } = start({ limits: { processes: 48 } });
    const bomb = 'i=0; while [ $i -lt 400 ]; do sleep 3 & i=$((i+1)); echo $i > runs/a/count; done';
    await ex.submit({ campaignId: 'camp', spec: spec('bomb', bomb) });
    await eventually(() => existsSync(join(sandbox, 'runs/a/count')));
    await ex.submit({
      campaignId: 'camp',
      spec: spec('sibling', 'for i in $(seq 1 20); do sleep 0.05 & done; wait; echo sibling-ok', {
        isolation: { snapshotId, outputs: ['runs/b'], inputs: [] },
      }),
    });
    expect(await finished('sibling')).toMatchObject({ status: 'succeeded', logTail: 'sibling-ok' });
    await finished('bomb');
    expect(Number(readFileSync(join(sandbox, 'runs/a/count'), 'utf8'))).toBeLessThan(48);
  });

  it('stops a job writing a file beyond its size limit', async () => {
    const { outcome } = await run(spec('big', 'head -c 3000000 /dev/zero > runs/a/big.bin; echo "rc=$?"'), {
      limits: { fileSizeMiB: 1 },
    });
    expect(outcome.logTail).toMatch(/rc=(153|1)$/); // SIGXFSZ (128+25) or EFBIG
    expect(readFileSync(join(sandbox, 'runs/a/big.bin')).length).toBeLessThanOrEqual(1024 * 1024);
  });

  it('says which command the sandbox could not find', async () => {
    const { outcome } = await run(spec('nf', 'x', { argv: ['./no-such-program'] }));
    expect(outcome).toMatchObject({ status: 'failed', reason: 'exit-code', exitCode: 127 });
    expect(outcome.message).toContain('./no-such-program');
  });

  it.each([
    [
      'an output under a pinned path',
      { isolation: { snapshotId: '', outputs: ['harness/x'], inputs: [] } },
      'isolation.outputs.0',
    ],
    [
      'the sandbox itself as output',
      { isolation: { snapshotId: '', outputs: ['.'], inputs: [] } },
      'isolation.outputs.0',
    ],
    [
      'an output outside AEVO_HOME',
      { isolation: { snapshotId: '', outputs: ['/etc/aevo'], inputs: [] } },
      'isolation.outputs.0',
    ],
    [
      'an output in the snapshots directory',
      { isolation: { snapshotId: '', outputs: ['../../../snapshots/x'], inputs: [] } },
      'isolation.outputs.0',
    ],
    [
      'an input in the logs directory',
      { isolation: { snapshotId: '', outputs: ['runs/a'], inputs: ['../../../logs'] } },
      'isolation.inputs.0',
    ],
    [
      'the hidden answers as input',
      { isolation: { snapshotId: '', outputs: ['runs/a'], inputs: ['../../../leaderboard/camp/hidden/public.csv'] } },
      'isolation.inputs.0',
    ],
    [
      "a campaign's board (holding its answers) as output",
      { isolation: { snapshotId: '', outputs: ['../../../leaderboard/camp'], inputs: [] } },
      'isolation.outputs.0',
    ],
    [
      'an unknown snapshot',
      { isolation: { snapshotId: 'f'.repeat(64), outputs: ['runs/a'], inputs: [] } },
      'isolation.snapshotId',
    ],
    ['a sandbox outside AEVO_HOME', { sandboxPath: '/tmp' }, 'sandboxPath'],
    ['LD_PRELOAD in its environment', { env: { LD_PRELOAD: '/tmp/x.so' } }, 'env.LD_PRELOAD'],
  ] as const)('refuses %s, naming the field, and runs nothing', async (_what, over, field) => {
    const base = spec('refused', `echo ran > ${home}/ran`);
    const s: JobSpec = {
      ...base,
      ...over,
      ...('isolation' in over
        ? {
            isolation: {
              ...over.isolation,
              snapshotId: over.isolation.snapshotId || snapshotId,
              inputs: [...over.isolation.inputs],
              outputs: [...over.isolation.outputs],
            },
          }
        : {}),
      env: 'env' in over ? { ...over.env } : {},
    } as JobSpec;
    const { outcome } = await run(s);
    expect(outcome).toMatchObject({ status: 'failed', reason: 'executor-error' });
    expect(outcome.message).toContain(field);
    expect(existsSync(join(home, 'ran'))).toBe(false);
  });
});

describe('an AEVO_HOME the per-slot uids cannot reach', () => {
  it(
    'runs jobs sandboxed under the dispatch uid and says so, ' + 'unless per-slot uids were asked for explicitly',
    async () => {
      const parent = mkdtempSync(join(tmpdir(), 'aevo-private-')); // 0700: no other uid may pass
      try {
        const nested = join(parent, 'home');
        mkdirSync(nested);
        expect(() => new LocalExecutor({ home: nested, jobUids: 'per-slot' })).toThrow(
          /not searchable by others.*AEVO_JOB_UIDS=service/,
        );
        const warnings: string[] = [];
        const ex = new LocalExecutor({
          home: nested,
          pollMs: 50,
          onError: (err) => warnings.push((err as Error).message),
        });
        bench.track(ex);
        expect(warnings).toEqual([expect.stringMatching(/jobs run sandboxed under the dispatch user's uid/)]);
        const { snapshotId: id, snapshotPath: snap } = writeJobSnapshot(nested);
        const sb = forkJobSandbox(snap, join(nested, 'sandboxes', 'c0'));
        const events: ExecutorEvent[] = [];
        ex.on((e) => {
          events.push(e);
        });
        await ex.submit({
          campaignId: 'camp',
          spec: {
            ...spec('svc-uid', 'id -u; (echo x > recipe.yaml) 2>/dev/null || echo recipe=refused'),
            sandboxPath: sb,
            isolation: { snapshotId: id, outputs: ['runs/a'], inputs: [] },
          },
        });
        const done = await eventually(() => events.find((e) => e.type === 'finished'));
        expect(done.type === 'finished' && done.outcome.logTail).toBe('65534\nrecipe=refused');
      } finally {
        rmSync(parent, { recursive: true, force: true });
      }
    },
  );
});

describe('without bubblewrap', () => {
  it('refuses to start unless the operator opts out, and then records every job as unsandboxed', async () => {
    expect(() => new LocalExecutor({ home, bwrapPath: join(home, 'no-bwrap') })).toThrow(/AEVO_UNSANDBOXED_JOBS=/);
    expect(() => localExecutorOptionsFromEnv({ AEVO_HOME: home, AEVO_UNSANDBOXED_JOBS: 'yes' })).toThrow(
      /AEVO_UNSANDBOXED_JOBS: to run jobs without a sandbox set it to/,
    );
    const opts = localExecutorOptionsFromEnv({
      AEVO_HOME: home,
      AEVO_UNSANDBOXED_JOBS: UNSANDBOXED_OPT_IN,
      AEVO_LOCAL_GPUS: 'none',
    });
    expect(opts.sandbox).toBe('none');
    const { outcome, events } = await run(spec('open', 'echo ran'), {
      sandbox: 'none',
      bwrapPath: join(home, 'no-bwrap'),
    });
    expect(outcome.status).toBe('succeeded');
    expect(events.find((e) => e.type === 'started')).toMatchObject({ isolation: 'none' });
  });
});
