import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually } from '@aevo/testkit';
import { useLocalJobHome } from '../../test/local-fixture';
import { LocalExecutor } from './local-executor';
import { isProcessAlive } from './proc';

jest.setTimeout(60_000);

const home = useLocalJobHome();
const { bench, spec, start, readPid } = home;
let root: string;
let sandbox: string;
/** The jobs' one writable directory (the sandbox itself is read-only to a sandboxed job). */
let out: string;
beforeEach(() => ({ root, sandbox, out } = home.paths()));

// Tests that read the pids a job prints run with sandbox 'none': inside a sandbox's pid namespace a job sees its
// own pids, not the host's (the sandboxed process tree is covered by the bubblewrap tests below).
describe('LocalExecutor', () => {
  it('runs a job in its sandbox, captures its log to a file and reports the tail', async () => {
    const { ex, events, finished } = start();
    await ex.recover();
    const r = await ex.submit({
      campaignId: 'camp',
      spec: spec(
        'ok-1',
        'pwd; for i in 1 2 3 4 5; do echo line-$i; done; echo "gpus=[$CUDA_VISIBLE_DEVICES] ' +
          'pyc=[$PYTHONDONTWRITEBYTECODE]"',
        { env: { FOO: 'bar' } },
      ),
    });
    expect(r.accepted).toBe(true);
    const outcome = await finished('ok-1');
    expect(outcome).toMatchObject({
      status: 'succeeded',
      exitCode: 0,
      reason: null,
      gpuCount: 0,
      budgetUnit: 'cpu-slot-seconds',
    });
    expect(outcome.logPath).toBe(join(root, 'logs', 'ok-1.log'));
    const log = readFileSync(outcome.logPath!, 'utf8');
    expect(log.split('\n')[0]).toBe(sandbox);
    expect(outcome.logTail).toContain('line-5');
    expect(outcome.logTail).toContain('gpus=[] pyc=[1]');
    const started = events.find((e) => e.type === 'started');
    expect(started).toMatchObject({ type: 'started', jobId: 'ok-1', slot: 'cpu:0', attempt: 1 });
    expect(events.findIndex((e) => e.type === 'started')).toBeLessThan(events.findIndex((e) => e.type === 'finished'));
  });

  it('keeps only the last N lines in the tail', async () => {
    const { ex, finished } = start({ logTailLines: 3 });
    await ex.submit({ campaignId: 'camp', spec: spec('tail-1', 'for i in $(seq 1 100); do echo row-$i; done') });
    expect((await finished('tail-1')).logTail).toBe('row-98\nrow-99\nrow-100');
  });

  it('does not pass the dispatch environment (credentials) to jobs, only the allow-list and the spec env', async () => {
    process.env.AEVO_TEST_SECRET_TOKEN = 'sekrit';
    try {
      const { ex, finished } = start();
      await ex.submit({
        campaignId: 'camp',
        spec: spec('env-1', 'echo "secret=[$AEVO_TEST_SECRET_TOKEN] foo=[$FOO] job=[$AEVO_JOB_ID]"', {
          env: { FOO: 'bar' },
        }),
      });
      expect((await finished('env-1')).logTail).toBe('secret=[] foo=[bar] job=[env-1]');
    } finally {
      delete process.env.AEVO_TEST_SECRET_TOKEN;
    }
  });

  it('reports a non-zero exit, exit code 3 and a DIVERGED line with their reasons', async () => {
    const { ex, finished } = start({ cpuSlots: 3 });
    await ex.submit({ campaignId: 'camp', spec: spec('fail-1', 'echo boom >&2; exit 7') });
    await ex.submit({ campaignId: 'camp', spec: spec('div-3', 'exit 3') });
    await ex.submit({
      campaignId: 'camp',
      spec: spec('div-line', 'echo step 1; echo "DIVERGED at step 2 (loss=nan)"; echo bye; exit 1'),
    });
    expect(await finished('fail-1')).toMatchObject({
      status: 'failed',
      reason: 'exit-code',
      exitCode: 7,
      logTail: 'boom',
    });
    expect(await finished('div-3')).toMatchObject({ status: 'failed', reason: 'diverged', exitCode: 3 });
    expect(await finished('div-line')).toMatchObject({ status: 'failed', reason: 'diverged', exitCode: 1 });
  });

  it('says which command was not found', async () => {
    const { ex, finished } = start();
    await ex.submit({ campaignId: 'camp', spec: spec('nf-1', 'x', { argv: ['./no-such-program', '--flag'] }) });
    const outcome = await finished('nf-1');
    expect(outcome).toMatchObject({ status: 'failed', reason: 'exit-code', exitCode: 127 });
    expect(outcome.message).toContain('./no-such-program');
  });

  it('fails a job whose sandbox does not exist, with a clear message', async () => {
    const { ex, finished } = start();
    await ex.submit({ campaignId: 'camp', spec: spec('nosb-1', 'true', { sandboxPath: join(root, 'missing') }) });
    const outcome = await finished('nosb-1');
    expect(outcome).toMatchObject({ status: 'failed', reason: 'executor-error' });
    expect(outcome.message).toContain(join(root, 'missing'));
  });

  it(
    'kills the whole process tree on timeout, including a grandchild ' +
      'that ignores SIGTERM and one that left the group',
    async () => {
      const { ex, finished } = start({ sandbox: 'none', killGraceMs: 500 });
      const script = [
        `(trap '' TERM; while true; do sleep 1; done) & echo $! > ${out}/stubborn.pid`,
        `setsid sleep 300 & echo $! > ${out}/escaped.pid`,
        `sleep 300 & echo $! > ${out}/grandchild.pid`,
        'echo started; wait',
      ].join('\n');
      await ex.submit({ campaignId: 'camp', spec: spec('slow-1', script, { timeoutSeconds: 1 }) });
      const pids = await Promise.all(['stubborn', 'escaped', 'grandchild'].map((n) => readPid(join(out, `${n}.pid`))));
      expect(pids.every((p) => isProcessAlive(p))).toBe(true);
      const outcome = await finished('slow-1');
      expect(outcome).toMatchObject({ status: 'failed', reason: 'timeout' });
      expect(outcome.logTail).toContain('started');
      expect(outcome.wallSeconds).toBeGreaterThanOrEqual(1);
      // Gone (or a zombie waiting for init): no process of the job still runs.
      for (const p of pids) expect(isProcessAlive(p)).toBe(false);
    },
  );

  it('kills processes a job leaves behind when its main command exits', async () => {
    const { ex, finished } = start({ sandbox: 'none' });
    await ex.submit({ campaignId: 'camp', spec: spec('leave-1', `sleep 300 & echo $! > ${out}/bg.pid; echo done`) });
    const pid = await readPid(join(out, 'bg.pid'));
    expect(await finished('leave-1')).toMatchObject({ status: 'succeeded' });
    expect(isProcessAlive(pid)).toBe(false);
  });

  it('queues beyond the slot count, by priority then first-in first-out', async () => {
    const { ex, events, finished } = start({ cpuSlots: 1 });
    await ex.submit({ campaignId: 'camp', spec: spec('q-0', `while [ ! -f ${out}/go ]; do sleep 0.05; done`) });
    await eventually(() => events.some((e) => e.type === 'started' && e.jobId === 'q-0'));
    const r1 = await ex.submit({ campaignId: 'camp', spec: spec('q-low', 'true', { priority: 'low' }) });
    const r2 = await ex.submit({ campaignId: 'camp', spec: spec('q-n1', 'true') });
    const r3 = await ex.submit({ campaignId: 'camp', spec: spec('q-high', 'true', { priority: 'high' }) });
    const r4 = await ex.submit({ campaignId: 'camp', spec: spec('q-n2', 'true') });
    expect([r1, r2, r3, r4].map((r) => r.queuePosition)).toEqual([0, 0, 0, 2]);
    expect(ex.view('q-n1')?.phase).toBe('queued');
    writeFileSync(join(out, 'go'), '');
    await finished('q-low');
    const order = events.filter((e) => e.type === 'started').map((e) => e.jobId);
    expect(order).toEqual(['q-0', 'q-high', 'q-n1', 'q-n2', 'q-low']);
  });

  it('hands a freed slot to the next queued job before it reports how the previous one ended', async () => {
    const { ex, events, finished } = start({ cpuSlots: 1 });
    await ex.submit({ campaignId: 'camp', spec: spec('h-0', 'echo first') });
    await ex.submit({ campaignId: 'camp', spec: spec('h-1', 'echo second') });
    await finished('h-1');
    const seq = events.map((e) => `${e.type}:${e.jobId}`);
    // The slot handover does not wait for the first job's log tail and record; its outcome is intact.
    expect(seq).toEqual(['started:h-0', 'started:h-1', 'finished:h-0', 'finished:h-1']);
    expect((await finished('h-0')).logTail.trim()).toBe('first');
    expect(ex.view('h-0')?.phase).toBe('finished');
  });

  it('runs a jobId once, however often it is submitted', async () => {
    const { ex, events, finished } = start();
    const s = spec('dup-1', `echo run >> ${out}/runs.txt`);
    const first = await ex.submit({ campaignId: 'camp', spec: s });
    const second = await ex.submit({ campaignId: 'camp', spec: s });
    expect(first.accepted).toBe(true);
    expect(second.accepted).toBe(false);
    await finished('dup-1');
    const third = await ex.submit({ campaignId: 'camp', spec: s });
    expect(third).toMatchObject({ accepted: false, view: { phase: 'finished' } });
    await ex.drained();
    expect(readFileSync(join(out, 'runs.txt'), 'utf8')).toBe('run\n');
    expect(events.filter((e) => e.type === 'finished')).toHaveLength(1);
  });

  it('cancels a queued job and a running one (its process is gone)', async () => {
    const { ex, finished } = start({ sandbox: 'none', cpuSlots: 1 });
    await ex.submit({ campaignId: 'camp', spec: spec('run-c', `echo $$ > ${out}/run.pid; sleep 300`) });
    await ex.submit({ campaignId: 'camp', spec: spec('queued-c', 'echo never') });
    const pid = await readPid(join(out, 'run.pid'));
    expect(await ex.cancel('queued-c', 'not needed')).toBe('cancelling');
    expect(await finished('queued-c')).toMatchObject({
      status: 'cancelled',
      message: 'not needed',
      wallSeconds: 0,
      gpuSeconds: 0,
    });
    expect(await ex.cancel('run-c', 'operator asked')).toBe('cancelling');
    expect(await finished('run-c')).toMatchObject({ status: 'cancelled', message: 'operator asked' });
    expect(isProcessAlive(pid)).toBe(false);
    expect(await ex.cancel('run-c', 'again')).toBe('already-finished');
    expect(await ex.cancel('nope', 'x')).toBe('not-found');
  });

  it('gives each GPU slot its own CUDA_VISIBLE_DEVICES and charges gpu count × wall seconds', async () => {
    const { ex, events, finished } = start({ gpus: [0, 1, 2], cpuSlots: 0 });
    const gate = `while [ ! -f ${out}/go ]; do sleep 0.05; done; echo "cuda=$CUDA_VISIBLE_DEVICES"`;
    await ex.submit({ campaignId: 'camp', spec: spec('g-a', gate, { resources: { cpu: 1, memoryMiB: 64, gpu: 1 } }) });
    await ex.submit({ campaignId: 'camp', spec: spec('g-b', gate, { resources: { cpu: 1, memoryMiB: 64, gpu: 2 } }) });
    await ex.submit({ campaignId: 'camp', spec: spec('g-c', gate, { resources: { cpu: 1, memoryMiB: 64, gpu: 1 } }) });
    await eventually(() => events.filter((e) => e.type === 'started').length === 2);
    expect(ex.view('g-c')?.phase).toBe('queued');
    writeFileSync(join(out, 'go'), '');
    const [a, b, c] = [await finished('g-a'), await finished('g-b'), await finished('g-c')];
    expect(a.logTail).toBe('cuda=0');
    expect(b.logTail).toBe('cuda=1,2');
    expect(c.logTail).toMatch(/^cuda=\d$/);
    expect(b).toMatchObject({ gpuCount: 2, budgetUnit: 'gpu-seconds' });
    expect(b.gpuSeconds).toBeCloseTo(2 * b.wallSeconds, 2);
  });

  it('refuses what the pool can never run, with the reason', async () => {
    const { ex, finished } = start({ gpus: [0], cpuSlots: 1 });
    await ex.submit({
      campaignId: 'camp',
      spec: spec('big-1', 'true', { resources: { cpu: 1, memoryMiB: 64, gpu: 4 } }),
    });
    expect(await finished('big-1')).toMatchObject({
      status: 'failed',
      reason: 'executor-error',
      message: 'job asks for 4 GPUs, this machine has 1',
    });
    const cpuOnly = start({ gpus: [], cpuSlots: 1, requireGpu: true });
    await cpuOnly.ex.submit({
      campaignId: 'camp',
      spec: spec('gpu-on-cpu', 'true', { resources: { cpu: 1, memoryMiB: 64, gpu: 1 } }),
    });
    expect((await cpuOnly.finished('gpu-on-cpu')).reason).toBe('executor-error');
  });

  it('runs a GPU job on a CPU slot of a CPU-only box and charges slot-seconds by the configured weight', async () => {
    const { ex, finished } = start({ gpus: [], cpuSlots: 1, cpuSlotWeight: 0.5 });
    await ex.submit({
      campaignId: 'camp',
      spec: spec('cpu-gpu', 'sleep 0.3', { resources: { cpu: 1, memoryMiB: 64, gpu: 1 } }),
    });
    const outcome = await finished('cpu-gpu');
    expect(outcome).toMatchObject({ status: 'succeeded', gpuCount: 0, budgetUnit: 'cpu-slot-seconds' });
    expect(outcome.gpuSeconds).toBeCloseTo(outcome.wallSeconds * 0.5, 2);
  });

  it('redelivers an event to a listener that failed, in order', async () => {
    const ex = new LocalExecutor({ home: root, pollMs: 100 });
    bench.track(ex);
    const seen: string[] = [];
    let failures = 0;
    ex.on((e) => {
      if (e.type === 'started' && failures < 2) {
        failures++;
        throw new Error('store down');
      }
      seen.push(e.type);
    });
    await ex.submit({ campaignId: 'camp', spec: spec('retry-1', 'true') });
    await eventually(() => seen.length === 2);
    expect(seen).toEqual(['started', 'finished']);
    expect(failures).toBe(2);
  });
});
