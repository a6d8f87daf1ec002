import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { eventually } from '@aevo/testkit';
import { useLocalJobHome } from '../../test/local-fixture';
import { JOB_WRAPPER } from './local-executor';
import { isProcessAlive } from './proc';

jest.setTimeout(60_000);

const home = useLocalJobHome();
const { spec, start, readPid } = home;
let root: string;
/** The jobs' one writable directory (the sandbox itself is read-only to a sandboxed job). */
let out: string;
beforeEach(() => ({ root, out } = home.paths()));

// Tests that read the pids a job prints run with sandbox 'none': inside a sandbox's pid namespace a job sees its
// own pids, not the host's.
describe('LocalExecutor after a restart', () => {
  it(
    'reattaches to running jobs, reports finished ones with their exit code, marks ' +
      'vanished ones lost and runs queued ones; nothing runs twice',
    async () => {
      const a = start({ sandbox: 'none', cpuSlots: 3 });
      const gate = (name: string, code: number) =>
        `echo ${name} >> ${out}/runs.txt; echo $$ > ${out}/${name}.pid; while [ ! -f ${out}/go-${name} ]; ` +
        `do sleep 0.05; done; exit ${code}`;
      await a.ex.submit({ campaignId: 'camp', spec: spec('keeps-running', gate('keeps-running', 0)) });
      await a.ex.submit({ campaignId: 'camp', spec: spec('ends-while-down', gate('ends-while-down', 5)) });
      await a.ex.submit({ campaignId: 'camp', spec: spec('vanishes', gate('vanishes', 0)) });
      await a.ex.submit({ campaignId: 'camp', spec: spec('still-queued', `echo still-queued >> ${out}/runs.txt`) });
      const pids = Object.fromEntries(
        await Promise.all(
          ['keeps-running', 'ends-while-down', 'vanishes'].map(
            async (n) => [n, await readPid(join(out, `${n}.pid`))] as const,
          ),
        ),
      );
      await a.ex.drained();
      await a.ex.close(); // dispatch goes away; its jobs do not

      writeFileSync(join(out, 'go-ends-while-down'), '');
      await eventually(() => existsSync(join(root, 'dispatch', 'local-jobs', 'ends-while-down', 'exit')));
      // The vanished job: its whole group killed behind dispatch's back, so no exit code is ever written.
      const vanishedWrapper = Number(readFileSync(join(root, 'dispatch', 'local-jobs', 'vanishes', 'pid'), 'utf8'));
      process.kill(-vanishedWrapper, 'SIGKILL');
      await eventually(() => !isProcessAlive(pids['vanishes']) && !isProcessAlive(vanishedWrapper));

      const b = start({ sandbox: 'none', cpuSlots: 3 });
      const views = await b.ex.recover();
      expect(views.map((v) => v.jobId).sort()).toEqual([
        'ends-while-down',
        'keeps-running',
        'still-queued',
        'vanishes',
      ]);
      expect(await b.finished('ends-while-down')).toMatchObject({ status: 'failed', reason: 'exit-code', exitCode: 5 });
      expect(await b.finished('vanishes')).toMatchObject({ status: 'failed', reason: 'lost', exitCode: null });
      expect(b.ex.view('keeps-running')?.phase).toBe('running');
      expect(b.events.find((e) => e.type === 'started' && e.jobId === 'keeps-running')).toBeDefined();
      writeFileSync(join(out, 'go-keeps-running'), '');
      expect(await b.finished('keeps-running')).toMatchObject({ status: 'succeeded', exitCode: 0 });
      expect(await b.finished('still-queued')).toMatchObject({ status: 'succeeded' });
      const runs = readFileSync(join(out, 'runs.txt'), 'utf8').trim().split('\n').sort();
      expect(runs).toEqual(['ends-while-down', 'keeps-running', 'still-queued', 'vanishes']);
      // The first instance never reported any terminal event; the second reported each exactly once.
      expect(a.events.filter((e) => e.type === 'finished')).toHaveLength(0);
      await b.ex.drained();
      for (const id of ['ends-while-down', 'vanishes', 'keeps-running', 'still-queued'])
        expect(b.events.filter((e) => e.type === 'finished' && e.jobId === id)).toHaveLength(1);
    },
  );

  it(
    're-reports an unacknowledged outcome, not an acknowledged one, and ' +
      'still enforces the timeout of a reattached job',
    async () => {
      const a = start({ sandbox: 'none', cpuSlots: 3, killGraceMs: 300 });
      await a.ex.submit({ campaignId: 'camp', spec: spec('acked', 'true') });
      await a.ex.submit({ campaignId: 'camp', spec: spec('unacked', 'true') });
      await a.ex.submit({
        campaignId: 'camp',
        spec: spec('overruns', `echo $$ > ${out}/o.pid; sleep 300`, { timeoutSeconds: 2 }),
      });
      await a.finished('acked');
      await a.finished('unacked');
      await a.ex.acknowledge('acked');
      const pid = await readPid(join(out, 'o.pid'));
      await a.ex.close();

      const b = start({ sandbox: 'none', cpuSlots: 3, killGraceMs: 300 });
      await b.ex.recover();
      expect(await b.finished('unacked')).toMatchObject({ status: 'succeeded' });
      expect(await b.finished('overruns')).toMatchObject({ status: 'failed', reason: 'timeout' });
      expect(isProcessAlive(pid)).toBe(false);
      await b.ex.drained();
      expect(b.events.some((e) => e.jobId === 'acked')).toBe(false);
    },
  );

  it('forgets acknowledged records past the retention period, keeping their logs', async () => {
    const a = start();
    await a.ex.submit({ campaignId: 'camp', spec: spec('old-acked', 'echo kept') });
    await a.ex.submit({ campaignId: 'camp', spec: spec('old-unacked', 'true') });
    await a.finished('old-acked');
    await a.finished('old-unacked');
    await a.ex.acknowledge('old-acked');
    await a.ex.close();
    const b = start({ retainFinishedMs: 0 });
    const views = await b.ex.recover();
    expect(views.map((v) => v.jobId)).toEqual(['old-unacked']);
    expect(existsSync(join(root, 'dispatch', 'local-jobs', 'old-acked'))).toBe(false);
    expect(readFileSync(join(root, 'logs', 'old-acked.log'), 'utf8')).toBe('kept\n');
  });

  /** The record a crash between writing 'launching' and recording the pid leaves behind. */
  const halfLaunched = (jobId: string, command: string, launches: number | undefined) => {
    const dir = join(root, 'dispatch', 'local-jobs', jobId);
    mkdirSync(dir, { recursive: true });
    const rec = {
      version: 1,
      job: { campaignId: 'camp', spec: spec(jobId, command) },
      seq: 1,
      phase: 'launching',
      queuedAt: new Date().toISOString(),
      slot: 'cpu:0',
      launchAt: new Date().toISOString(),
      ...(launches == null ? {} : { launches }),
      pid: null,
      pgid: null,
      startTicks: null,
      startedAt: null,
      deadline: new Date(Date.now() + 60_000).toISOString(),
      logPath: join(root, 'logs', `${jobId}.log`),
      killIntent: null,
      outcome: null,
      acknowledged: false,
    };
    writeFileSync(join(dir, 'record.json'), JSON.stringify(rec));
    return dir;
  };

  it(
    'runs again a job whose launch was recorded but never claimed by ' + 'a wrapper (dispatch died before spawning)',
    async () => {
      const a = start();
      await a.ex.recover();
      await a.ex.close();
      const dir = halfLaunched('half-launched', 'echo ran-once', 1);
      const b = start();
      await b.ex.recover();
      expect(await b.finished('half-launched')).toMatchObject({ status: 'succeeded' });
      expect(readFileSync(join(root, 'logs', 'half-launched.log'), 'utf8')).toBe('ran-once\n');
      // Launch 1 is claimed by the recovery, launch 2 by the wrapper that ran.
      expect(existsSync(join(dir, 'launch-1')) && existsSync(join(dir, 'launch-2'))).toBe(true);
      expect(b.events.filter((e) => e.type === 'started' && e.jobId === 'half-launched')).toHaveLength(1);
    },
  );

  it('a wrapper that starts after the restarted dispatch took its launch runs nothing', async () => {
    const a = start();
    await a.ex.recover();
    await a.ex.close();
    const dir = halfLaunched('late-wrapper', 'true', 1);
    mkdirSync(join(dir, 'launch-1')); // what the recovery's claim leaves
    const marker = join(root, 'late-wrapper-ran');
    // The wrapper as the dead dispatch spawned it, arriving late.
    const r = spawnSync('/bin/sh', ['-c', JOB_WRAPPER, 'aevo-job', dir, 'launch-1', 'touch', marker]);
    expect(r.status).toBe(75);
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(join(dir, 'pid')) || existsSync(join(dir, 'exit'))).toBe(false);
  });

  it('marks a job lost when its wrapper claimed the launch but never recorded a pid', async () => {
    const a = start();
    await a.ex.recover();
    await a.ex.close();
    const dir = halfLaunched('claimed-no-pid', 'true', 1);
    mkdirSync(join(dir, 'launch-1'));
    const b = start();
    await b.ex.recover();
    expect(await b.finished('claimed-no-pid')).toMatchObject({ status: 'failed', reason: 'lost' });
    expect(existsSync(join(root, 'logs', 'claimed-no-pid.log'))).toBe(false); // not run again: it may have run
  });

  it(
    'marks a half-launched job from a record without launch claims ' + 'lost (an older wrapper cannot be told apart)',
    async () => {
      const a = start();
      await a.ex.recover();
      await a.ex.close();
      halfLaunched('legacy-half', 'true', undefined);
      const b = start();
      await b.ex.recover();
      expect(await b.finished('legacy-half')).toMatchObject({ status: 'failed', reason: 'lost' });
    },
  );
});
